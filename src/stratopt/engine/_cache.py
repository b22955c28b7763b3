"""Whether the engine's compiled kernels are cached on disk (else the first run compiles
for several seconds, which a user should be told rather than left watching silence)."""

from __future__ import annotations

import os

from stratopt._njit import JIT_DISABLED
from stratopt.engine import _nb

__all__ = ["COMPILING", "kernels_cached"]

COMPILING = "compiling kernels (first run only)"


def kernels_cached() -> bool:
    """True when the engine's composite kernels (`run_many_nb`, `run_one_nb`,
    `eval_signals_nb`) are each compiled in this process or cached on disk for their
    current source (numba's index is older than the source: it is recompiled). True
    with ``NUMBA_DISABLE_JIT=1`` too: nothing compiles then (the kernels are plain
    functions), so no background child starts and no "compiling" notice shows."""
    if JIT_DISABLED:
        return True
    return all(_cached(k) for k in (_nb.run_many_nb, _nb.run_one_nb, _nb.eval_signals_nb))


def _cached(kernel: object) -> bool:
    if kernel.signatures:  # type: ignore[attr-defined]
        return True
    try:
        index = kernel._cache._cache_file._index_path  # type: ignore[attr-defined]
        return bool(os.path.getmtime(index) >= os.path.getmtime(_nb.__file__))
    except (AttributeError, OSError):  # no index yet; or a numba without this layout
        return False

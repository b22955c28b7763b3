"""Whether the engine's compiled kernels are cached on disk (else the first run compiles
for several seconds, which a user should be told rather than left watching silence)."""

from __future__ import annotations

import os

from stratopt.engine import _nb

__all__ = ["COMPILING", "kernels_cached"]

COMPILING = "compiling kernels (first run only)"


def kernels_cached() -> bool:
    """True when the engine's composite kernels (`run_many_nb`, `run_one_nb`,
    `eval_signals_nb`) are each compiled in this process or cached on disk for their
    current source (numba's index is older than the source: it is recompiled)."""
    return all(_cached(k) for k in (_nb.run_many_nb, _nb.run_one_nb, _nb.eval_signals_nb))


def _cached(kernel: object) -> bool:
    if kernel.signatures:  # type: ignore[attr-defined]
        return True
    try:
        index = kernel._cache._cache_file._index_path  # type: ignore[attr-defined]
        return bool(os.path.getmtime(index) >= os.path.getmtime(_nb.__file__))
    except (AttributeError, OSError):  # no index yet; or a numba without this layout
        return False

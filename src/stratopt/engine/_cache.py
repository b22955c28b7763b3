"""Whether the engine's compiled kernels are cached on disk (else the first run compiles
for 20-30 s, which a user should be told rather than left watching silence)."""

from __future__ import annotations

import os

from stratopt.engine import _nb

__all__ = ["COMPILING", "kernels_cached"]

COMPILING = "compiling kernels (first run only)"


def kernels_cached() -> bool:
    """True when the engine's main kernel is compiled in this process or cached on disk
    for its current source (numba's index is older than the source: it is recompiled)."""
    kernel = _nb.run_many_nb
    if kernel.signatures:
        return True
    try:
        index = kernel._cache._cache_file._index_path  # type: ignore[attr-defined]
        return bool(os.path.getmtime(index) >= os.path.getmtime(_nb.__file__))
    except (AttributeError, OSError):  # no index yet; or a numba without this layout
        return False

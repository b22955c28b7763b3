"""The public namespace of the statistics kernels, for callers that compile them ahead
(the engine's background compile, `stratopt.engine._background_child`)."""

from __future__ import annotations

from stratopt.stats._nb import paths_nb

__all__ = ["paths_nb"]

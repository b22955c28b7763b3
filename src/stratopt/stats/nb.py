"""The public namespace of the statistics kernels, for callers that compile them ahead
(the engine's background compile, `stratopt.engine._background_child`) or call them
(the TPE's log Φ, `stratopt.search._compiled_truncnorm`)."""

from __future__ import annotations

from stratopt.stats._log_ndtr_nb import FAR_TAIL, log_ndtr_nb
from stratopt.stats._nb import paths_nb

__all__ = ["FAR_TAIL", "log_ndtr_nb", "paths_nb"]

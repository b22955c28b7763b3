"""The public namespace of the metrics kernels, for compiled callers in other packages.

Engines call these from inside their own numba loops (see the protocol in the
`stratopt.metrics._nb` docstring); everything else uses `stratopt.metrics.compute_metrics`.
"""

from __future__ import annotations

from stratopt.metrics._chunk_long_nb import metrics_chunk_long_nb
from stratopt.metrics._nb import (
    METRICS_SAMPLE,
    N_METRICS,
    N_TRADE_STATS,
    compute_metrics_nb,
    metrics_begin_nb,
    metrics_chunk_nb,
    metrics_finish_nb,
    tail_by_value_nb,
    tail_split_nb,
    trade_stats_init_nb,
    trade_stats_update_nb,
)
from stratopt.metrics._probe_nb import metrics_finish_long_nb

__all__ = [
    "METRICS_SAMPLE",
    "N_METRICS",
    "N_TRADE_STATS",
    "compute_metrics_nb",
    "metrics_begin_nb",
    "metrics_chunk_long_nb",
    "metrics_chunk_nb",
    "metrics_finish_long_nb",
    "metrics_finish_nb",
    "tail_by_value_nb",
    "tail_split_nb",
    "trade_stats_init_nb",
    "trade_stats_update_nb",
]

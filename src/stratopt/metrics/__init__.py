"""Performance metrics of a backtest: one numba implementation, a registry, a wrapper.

The engine calls the kernels of `stratopt.metrics._nb` from its compiled loop; anything
else (adapters, reports, tests) uses `compute_metrics`. Every metric has a stable id
listed in `METRICS` (its position there is its index in the kernel output); formulas,
annualization and edge cases are in ``docs/metrics.md``.

Example:
    >>> import numpy as np
    >>> from stratopt.metrics import compute_metrics
    >>> m = compute_metrics(
    ...     np.array([101.0, 99.0, 103.0]), cash=100.0,
    ...     trades_net_pnl=[3.0], trades_ret=[0.03], trades_bars=[3], exposure_bars=3,
    ... )
    >>> round(m["total_return"], 4), m["trades"], m["max_drawdown_duration"]
    (0.03, 1.0, 1.0)
"""

from __future__ import annotations

from stratopt.metrics._compute import compute_metrics
from stratopt.metrics._nb import N_METRICS, N_TRADE_STATS
from stratopt.metrics._registry import (
    METRIC_IDS,
    METRICS,
    MetricInfo,
    Unit,
    get_metric,
    metric_index,
    metrics_to_dict,
)

__all__ = [
    "METRICS",
    "METRIC_IDS",
    "N_METRICS",
    "N_TRADE_STATS",
    "MetricInfo",
    "Unit",
    "compute_metrics",
    "get_metric",
    "metric_index",
    "metrics_to_dict",
]

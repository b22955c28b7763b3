"""The metric registry: ids, labels, units and directions, in kernel order.

`METRICS[i]` describes ``out[i]`` of `stratopt.metrics._nb.compute_metrics_nb`. The ids
are the stable programmatic names (study files, objectives, requirements, CSV columns);
labels and units are for display only. Formulas live in ``docs/metrics.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from stratopt._suggest import closest
from stratopt.errors import ConfigError
from stratopt.metrics._nb import N_METRICS

__all__ = [
    "METRICS",
    "METRIC_IDS",
    "MetricInfo",
    "Unit",
    "get_metric",
    "metric_index",
    "metrics_to_dict",
]

Unit = Literal["fraction", "ratio", "bars", "count", "currency"]
"""How to read a value: ``fraction`` (0.05 = 5 %), ``ratio`` (dimensionless),
``bars`` (a number of bars), ``count`` (a number of trades), ``currency`` (account
currency)."""


@dataclass(frozen=True)
class MetricInfo:
    """Description of one metric.

    Attributes:
        id: stable snake_case identifier, e.g. ``"sharpe"``.
        label: short display label, e.g. ``"Sharpe ratio"``.
        unit: see `Unit`.
        higher_is_better: the direction an optimizer should take by default.
        description: one sentence; the exact formula is in docs/metrics.md.
        may_be_infinite: whether the value can be ``+inf`` or ``-inf`` (a ratio whose
            denominator can be zero, see the x / 0 rule in docs/metrics.md).
    """

    id: str
    label: str
    unit: Unit
    higher_is_better: bool
    description: str
    may_be_infinite: bool = False


# fmt: off
METRICS: tuple[MetricInfo, ...] = (
    MetricInfo(
        "total_return", "Total return", "fraction", True,
        "Final equity over initial cash, minus one.",
    ),
    MetricInfo(
        "cagr", "CAGR", "fraction", True,
        "Compound annual growth rate over the bars of the backtest.",
        may_be_infinite=True,
    ),
    MetricInfo(
        "volatility", "Volatility (ann.)", "fraction", False,
        "Annualized standard deviation of per-bar returns.",
    ),
    MetricInfo(
        "sharpe", "Sharpe ratio", "ratio", True,
        "Annualized mean over standard deviation of per-bar returns (risk-free rate 0).",
        may_be_infinite=True,
    ),
    MetricInfo(
        "sortino", "Sortino ratio", "ratio", True,
        "Annualized mean per-bar return over downside deviation (target 0).",
        may_be_infinite=True,
    ),
    MetricInfo(
        "calmar", "Calmar ratio", "ratio", True,
        "CAGR over maximum drawdown.",
        may_be_infinite=True,
    ),
    MetricInfo(
        "max_drawdown", "Max drawdown", "fraction", False,
        "Largest fall of equity from its running peak, as a positive fraction of the peak.",
    ),
    MetricInfo(
        "max_drawdown_duration", "Max drawdown duration", "bars", False,
        "Longest run of consecutive bars with equity below its running peak.",
    ),
    MetricInfo(
        "trades", "Trades", "count", True,
        "Number of closed trades.",
    ),
    MetricInfo(
        "win_rate", "Win rate", "fraction", True,
        "Fraction of trades with a positive net pnl.",
    ),
    MetricInfo(
        "profit_factor", "Profit factor", "ratio", True,
        "Gross profit of winners over gross loss of losers (net of fees).",
        may_be_infinite=True,
    ),
    MetricInfo(
        "avg_trade", "Average trade", "fraction", True,
        "Mean net return of a trade (net pnl over entry notional).",
    ),
    MetricInfo(
        "expectancy", "Expectancy", "currency", True,
        "Mean net pnl of a trade.",
    ),
    MetricInfo(
        "sqn", "SQN", "ratio", True,
        "Van Tharp's System Quality Number: sqrt(N) times mean over std of net pnl.",
        may_be_infinite=True,
    ),
    MetricInfo(
        "exposure", "Exposure", "fraction", False,
        "Fraction of bars with a position.",
    ),
    MetricInfo(
        "return_on_risk", "Return on risk", "ratio", True,
        "Mean over trades of net pnl divided by the capital at risk.",
    ),
    MetricInfo(
        "best_trade", "Best trade", "fraction", True,
        "Highest net trade return.",
    ),
    MetricInfo(
        "worst_trade", "Worst trade", "fraction", True,
        "Lowest net trade return.",
    ),
    MetricInfo(
        "avg_trade_duration", "Average trade duration", "bars", False,
        "Mean number of bars a trade is held (exit index minus entry index).",
    ),
    MetricInfo(
        "avg_win", "Average win", "fraction", True,
        "Mean net return of winning trades.",
    ),
    MetricInfo(
        "avg_loss", "Average loss", "fraction", True,
        "Mean net return of losing trades (negative).",
    ),
    MetricInfo(
        "skew", "Skew", "ratio", True,
        "Skewness of per-bar returns (population moments).",
    ),
    MetricInfo(
        "kurtosis", "Excess kurtosis", "ratio", False,
        "Excess kurtosis of per-bar returns (population moments; normal = 0).",
    ),
    MetricInfo(
        "var_95", "VaR 95%", "fraction", True,
        "5% quantile of per-bar returns (a return, usually negative).",
    ),
    MetricInfo(
        "cvar_95", "CVaR 95%", "fraction", True,
        "Mean of the per-bar returns at or below the 5% quantile.",
    ),
    MetricInfo(
        "ulcer_index", "Ulcer index", "fraction", False,
        "Root mean square of the per-bar drawdown fractions.",
    ),
    MetricInfo(
        "omega", "Omega ratio", "ratio", True,
        "Sum of positive per-bar returns over the sum of the magnitudes of negative ones.",
        may_be_infinite=True,
    ),
    MetricInfo(
        "tail_ratio", "Tail ratio", "ratio", True,
        "Magnitude of the 95% quantile of per-bar returns over that of the 5% quantile.",
        may_be_infinite=True,
    ),
    MetricInfo(
        "final_equity", "Final equity", "currency", True,
        "Equity at the close of the last bar.",
    ),
)
# fmt: on

METRIC_IDS: tuple[str, ...] = tuple(m.id for m in METRICS)

_INDEX: dict[str, int] = {m.id: i for i, m in enumerate(METRICS)}

if len(METRICS) != N_METRICS or len(_INDEX) != len(METRICS):  # pragma: no cover
    raise RuntimeError("stratopt.metrics: registry and kernel disagree on the metrics")


def _unknown(metric_id: object) -> ConfigError:
    text = str(metric_id)
    key = text.lower()
    close = closest(key, METRIC_IDS, prefix=True)
    if close is not None:
        return ConfigError(f"unknown metric {text!r}; did you mean {close!r}?")
    return ConfigError(f"unknown metric {text!r}; expected one of: {', '.join(METRIC_IDS)}")


def metric_index(metric_id: str) -> int:
    """Position of a metric in `METRICS` and in the kernel's ``out`` array.

    Raises:
        ConfigError: unknown id, with a "did you mean" suggestion when one is close.
    """
    try:
        return _INDEX[metric_id]
    except (KeyError, TypeError):
        raise _unknown(metric_id) from None


def get_metric(metric_id: str) -> MetricInfo:
    """The `MetricInfo` of an id.

    Raises:
        ConfigError: unknown id, e.g. ``unknown metric 'sharp'; did you mean 'sharpe'?``
    """
    return METRICS[metric_index(metric_id)]


def metrics_to_dict(values: npt.ArrayLike) -> dict[str, float]:
    """Name the ``N_METRICS`` values filled by ``compute_metrics_nb``: ``{id: value}``.

    Raises:
        ValueError: ``values`` is not one-dimensional of length ``N_METRICS``.
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (len(METRICS),):
        raise ValueError(f"`values` must have shape ({len(METRICS)},), but got shape {arr.shape}.")
    return {m.id: float(v) for m, v in zip(METRICS, arr.tolist(), strict=True)}

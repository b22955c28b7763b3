"""How numbers read on the page: formatted once, here, in Python (never in the browser)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = [
    "COST_KEYS",
    "FRACTION_METRICS",
    "compact",
    "count",
    "mapping",
    "metric_value",
    "number",
    "params_text",
    "percent",
    "to_float",
]

# Metrics stored as fractions, shown as percentages (docs/metrics.md).
FRACTION_METRICS = frozenset(
    {
        "total_return",
        "cagr",
        "volatility",
        "max_drawdown",
        "win_rate",
        "avg_trade",
        "exposure",
        "return_on_risk",
        "best_trade",
        "worst_trade",
        "avg_win",
        "avg_loss",
        "var_95",
        "cvar_95",
        "ulcer_index",
    }
)
_COUNTS = frozenset({"trades", "max_drawdown_duration"})


def mapping(value: Any) -> Mapping[str, Any]:
    """`value` if it is a JSON object, else an empty one (summary sections may be absent)."""
    return value if isinstance(value, Mapping) else {}


def to_float(value: Any) -> float:
    """A float, NaN for what is not a number (None, "", "nan" strings of summary.json)."""
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def number(value: Any, digits: int = 3) -> str:
    """`digits` significant digits, thousands separated; "–" for a missing value."""
    x = to_float(value)
    if math.isnan(x):
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(x)))
    if magnitude >= digits - 1:
        return f"{x:,.0f}"
    decimals = min(max(digits - 1 - magnitude, 0), 8)
    text = f"{x:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def percent(value: Any, decimals: int = 1) -> str:
    x = to_float(value)
    if math.isnan(x):
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return f"{x * 100:,.{decimals}f}%"


def count(value: Any) -> str:
    x = to_float(value)
    return "–" if not math.isfinite(x) else f"{x:,.0f}"


def metric_value(metric: str, value: Any) -> str:
    """A metric as people read it: fractions as percentages, counts whole."""
    if metric in FRACTION_METRICS:
        return percent(value, 2 if abs(to_float(value)) < 0.1 else 1)
    if metric in _COUNTS:
        return count(value)
    return number(value)


def params_text(params: Mapping[str, Any]) -> str:
    """`fast=2, slow=30, backtest.stop_loss=0.08`."""
    return ", ".join(f"{k}={number(v) if isinstance(v, float) else v}" for k, v in params.items())


# The cost model's settings a manifest lists (the study file's backtest section).
COST_KEYS = (
    "cash",
    "commission",
    "commission_fixed",
    "slippage_bps",
    "fill",
    "direction",
    "sizing",
    "size",
    "max_leverage",
    "stop_loss",
    "take_profit",
    "trailing_stop",
    "max_bars",
    "holding_cost",
)


def compact(value: Any) -> str:
    """A study-file section on one line: `{fast: {low: 2}}` as `fast: low: 2`."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {compact(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "[" + ", ".join(compact(v) for v in value) + "]"
    return str(value)

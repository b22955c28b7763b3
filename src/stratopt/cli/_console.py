"""The CLI's two consoles and the number formats every table shares."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.markup import escape

__all__ = ["err", "fmt_cell", "fmt_num", "fmt_pct", "fmt_unit", "out", "params_text"]

out = Console()
"""Standard output: results."""
err = Console(stderr=True, soft_wrap=True)
"""Standard error: progress, warnings, errors."""


def params_text(params: Any) -> str:
    return escape(" ".join(f"{k}={v}" for k, v in dict(params).items()) or "(defaults)")


def fmt_pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value * 100:.1f}%"


def fmt_num(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.3g}"


def fmt_cell(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def fmt_unit(value: float, unit: str) -> str:
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if unit in ("fraction", "%", "percent"):
        return f"{value * 100:,.2f}%"
    if unit in ("count", "bars", "trades"):
        return f"{value:,.0f}"
    if unit in ("currency", "$"):
        return f"{value:,.2f}"
    return f"{value:,.3f}"

"""The compiled backtest engine: one candidate with full outputs, or many at once."""

from __future__ import annotations

from stratopt.engine._many import run_many
from stratopt.engine._simulate import SimResult, simulate
from stratopt.engine._types import TRADE_DTYPE, ExecSettings, ExitReason, Signal

__all__ = [
    "TRADE_DTYPE",
    "ExecSettings",
    "ExitReason",
    "Signal",
    "SimResult",
    "run_many",
    "simulate",
]

"""The compiled backtest engine: one candidate with full outputs, or many at once.

`kernels` is the engine's compiled namespace (`run_many_nb`, `eval_signals_nb`, the rule
and signal codes) for the packages that drive it directly (strategies, backtest).
"""

from __future__ import annotations

from stratopt.engine import _nb as kernels
from stratopt.engine._background import (
    compile_in_background,
    start_background,
    stop_background,
    while_compiling,
)
from stratopt.engine._cache import COMPILING, kernels_cached
from stratopt.engine._grouping import group_by_rows
from stratopt.engine._many import ManyPool, run_but_tails, run_many, subset_launch
from stratopt.engine._simulate import SimResult, eval_signals, simulate
from stratopt.engine._subset_nb import PASS_DRAWDOWN, PASS_NONE, PASS_SUMS
from stratopt.engine._types import (
    N_EXEC,
    TRADE_DTYPE,
    ExecSettings,
    ExitReason,
    Signal,
    pack_settings,
    pack_settings_many,
)

__all__ = [
    "COMPILING",
    "N_EXEC",
    "PASS_DRAWDOWN",
    "PASS_NONE",
    "PASS_SUMS",
    "TRADE_DTYPE",
    "ExecSettings",
    "ExitReason",
    "ManyPool",
    "Signal",
    "SimResult",
    "compile_in_background",
    "eval_signals",
    "group_by_rows",
    "kernels",
    "kernels_cached",
    "pack_settings",
    "pack_settings_many",
    "run_but_tails",
    "run_many",
    "simulate",
    "start_background",
    "stop_background",
    "subset_launch",
    "while_compiling",
]

"""The `stratopt` command line. Thin: parse, call an operation, render.

One module per group of commands (`_study_commands`, `_report_commands`,
`_store_commands`, `_lookahead_commands`, `_worker_commands`, `_batch_commands`,
`_strategy_commands`), each registering its commands on the one typer `app` of `_app`;
the `_render*` and `_console` modules print everything. A new command is a function in
one of them (or a new `_<group>_commands.py`, imported by `_commands` in the order
`--help` lists it).

This module itself stays light: `main` first lets a command that will backtest with
the signal engine start compiling the engine's kernels in the background (`_early`,
`_early_study`; with a cold numba cache, the child then works while the commands' ~1 s
of imports run), then loads the commands.

Exit codes: 0 success, 1 a failed run, 2 bad input (study file, data, options).
"""

from __future__ import annotations

import atexit
import gc
import importlib
import sys
from typing import TYPE_CHECKING, Any

from stratopt.cli._early import BACKTESTING_COMMANDS, may_backtest_with_rules
from stratopt.engine import compile_in_background, start_background, stop_background

if TYPE_CHECKING:
    from stratopt.cli._commands import app

__all__ = ["BACKTESTING_COMMANDS", "app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `stratopt` console script."""
    # At exit, keep the garbage collector's final passes off the heap (numba, pandas
    # and Optuna hold some 300,000 objects): ~0.5 s of every command's exit otherwise.
    # Objects are still freed; only finalizers of cycles alive at exit are not run,
    # which Python does not promise either.
    atexit.unregister(gc.freeze)  # once, however often main runs in a process
    atexit.register(gc.freeze)
    args = sys.argv[1:] if argv is None else argv
    if may_backtest_with_rules(args):
        start_background()  # it imports numba while this process reads the study
        if importlib.import_module("stratopt.cli._early_study").backtests_with_rules(args):
            compile_in_background()
        else:
            stop_background()
    importlib.import_module("stratopt.cli._commands").main(argv)


def __getattr__(name: str) -> Any:
    if name == "app":  # the typer app with every command registered
        return importlib.import_module("stratopt.cli._commands").app
    raise AttributeError(f"module 'stratopt.cli' has no attribute {name!r}")

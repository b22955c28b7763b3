"""Whether a command line backtests a valid study with the signal engine: then the
child `main` started (`stratopt.engine.start_background`) gets its work
(`compile_in_background`), else it ends (`stop_background`).

A backtesting command on a study file that reads and validates (with its ``--set``
overrides), whose data files exist and whose built-in strategy runs on compiled rules.
A grid study (the lot-book engine), an external evaluator or a user's strategy class do
not (the engine still compiles in the background on first use if they reach it), nor
does bad input, which the command then reports. `_early` decides first, on the file's
text, whether the child is worth starting at all.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from stratopt.cli._early import may_backtest_with_rules
from stratopt.config import load_study
from stratopt.errors import StratoptError
from stratopt.strategies import BUILTIN_STRATEGIES

__all__ = ["backtests_with_rules"]


def backtests_with_rules(args: Sequence[str]) -> bool:
    """Whether the command line ``args`` (without the program name) backtests a valid
    study with a built-in rule strategy (see the module docstring)."""
    if not may_backtest_with_rules(args):
        return False
    try:
        study = load_study(args[1], _overrides(args[2:]))
    except (StratoptError, ValueError, OSError):  # bad input: the command says what
        return False
    strategy = BUILTIN_STRATEGIES.get(study.strategy or "")
    if strategy is None or not strategy().uses_rules or study.grid is not None:
        return False
    paths = study.data.paths
    return all(p.startswith("pkg://") or os.path.exists(study.resolve_path(p)) for p in paths)


def _overrides(args: Sequence[str]) -> list[str]:
    """The values of ``--set KEY=VALUE`` (and ``--set=KEY=VALUE``) options."""
    out = []
    for i, arg in enumerate(args):
        if arg == "--set" and i + 1 < len(args):
            out.append(args[i + 1])
        elif arg.startswith("--set="):
            out.append(arg.removeprefix("--set="))
    return out

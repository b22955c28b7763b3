"""Whether a command line may backtest with the signal engine, decided before anything
slow is imported: then `main` starts the engine's background child at once, which
imports numba and the engine while this process imports the rest (~0.3 s sooner than
after reading the study with `stratopt.config`; `_early_study` then decides whether it
gets work).

A backtesting command (not its ``--help``) on a study file whose YAML/JSON is a mapping
naming a strategy by name (a built-in, not a ``file.py:Class``), with no ``grid:`` and
no ``evaluator:`` section.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import yaml

__all__ = ["BACKTESTING_COMMANDS", "may_backtest_with_rules"]

# The commands whose first step is a search or backtest with the signal engine.
BACKTESTING_COMMANDS = frozenset({"optimize", "backtest", "walk-forward", "validate", "batch"})
_MAX_BYTES = 1 << 20  # a study file is a few KiB; a larger one is read by the command


def may_backtest_with_rules(args: Sequence[str]) -> bool:
    """Whether ``args`` (the command line without the program name) may backtest a
    study with the signal engine (see the module docstring)."""
    if not args or args[0] not in BACKTESTING_COMMANDS or {"--help", "-h"} & set(args):
        return False
    if len(args) < 2 or args[1].startswith("-") or not os.path.isfile(args[1]):
        return False
    try:
        if os.path.getsize(args[1]) > _MAX_BYTES:
            return False
        with open(args[1], encoding="utf-8") as fh:
            study = yaml.safe_load(fh)
    except (OSError, UnicodeError, yaml.YAMLError):  # bad input: the command says what
        return False
    if not isinstance(study, dict) or "grid" in study or "evaluator" in study:
        return False
    strategy = study.get("strategy")
    return isinstance(strategy, str) and ":" not in strategy

"""Whether a command line may backtest with the signal engine, decided before anything
slow is imported: then `main` starts the engine's background child at once, which
imports numba and the engine while this process imports the rest (~0.3 s sooner than
after reading the study with `stratopt.config`; `_early_study` then decides whether it
gets work).

A backtesting command (not its ``--help``) on a study file whose text has a top-level
``strategy:`` naming a strategy by name (a built-in, not a ``file.py:Class``) and no
top-level ``grid:`` or ``evaluator:`` section. The text is scanned, not parsed: the
file is untrusted (`stratopt.config` reads it with its limits), and a study written
otherwise (JSON, flow style) only misses the head start.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

__all__ = ["BACKTESTING_COMMANDS", "may_backtest_with_rules"]

# The commands whose first step is a search or backtest with the signal engine.
BACKTESTING_COMMANDS = frozenset({"optimize", "backtest", "walk-forward", "validate", "batch"})
_MAX_BYTES = 1 << 20  # a study file is a few KiB; a larger one is read by the command
_STRATEGY = re.compile(r"^strategy[ \t]*:[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*(#.*)?$", re.M)
_OTHER_ENGINE = re.compile(r"^(grid|evaluator)[ \t]*:", re.M)


def may_backtest_with_rules(args: Sequence[str]) -> bool:
    """Whether ``args`` (the command line without the program name) may backtest a
    study with the signal engine (see the module docstring)."""
    if not args or args[0] not in BACKTESTING_COMMANDS or {"--help", "-h"} & set(args):
        return False
    if len(args) < 2 or args[1].startswith("-") or not os.path.isfile(args[1]):
        return False
    try:
        with open(args[1], "rb") as fh:
            text = fh.read(_MAX_BYTES + 1).decode("utf-8")
    except (OSError, UnicodeError):  # bad input: the command says what
        return False
    if len(text) > _MAX_BYTES:
        return False
    return _STRATEGY.search(text) is not None and _OTHER_ENGINE.search(text) is None

"""stratopt: find trading-strategy parameters that hold up out of sample.

The top-level names are imported lazily, so `stratopt --version` and `import stratopt`
stay fast; `stratopt.optimize(...)` loads the engine on first use. One backtest:
`from stratopt.backtest import backtest` (`stratopt.backtest` is that module).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from stratopt._version import __version__

_LAZY = {
    "optimize": "stratopt.operations",
    "optimize_study": "stratopt.operations",
    "OptimizeResult": "stratopt.operations",
    "analyze_results": "stratopt.analysis",
    "backtest_batch": "stratopt.operations",
    "backtest_study": "stratopt.backtest",
    "evaluate_many": "stratopt.backtest",
    "load_study": "stratopt.config",
    "load_bars": "stratopt.data",
    "synthetic_bars": "stratopt.data",
    "ExecSettings": "stratopt.engine",
    "Strategy": "stratopt.strategies",
    "get_strategy": "stratopt.strategies",
    "walk_forward": "stratopt.operations",
    "report": "stratopt.operations",
}

__all__ = [
    "ExecSettings",
    "OptimizeResult",
    "Strategy",
    "__version__",
    "analyze_results",
    "backtest_batch",
    "backtest_study",
    "evaluate_many",
    "get_strategy",
    "load_bars",
    "load_study",
    "optimize",
    "optimize_study",
    "report",
    "synthetic_bars",
    "walk_forward",
]

if TYPE_CHECKING:
    from stratopt.analysis import analyze_results
    from stratopt.backtest import backtest_study, evaluate_many
    from stratopt.config import load_study
    from stratopt.data import load_bars, synthetic_bars
    from stratopt.engine import ExecSettings
    from stratopt.operations import (
        OptimizeResult,
        backtest_batch,
        optimize,
        optimize_study,
        report,
        walk_forward,
    )
    from stratopt.strategies import Strategy, get_strategy


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stratopt' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

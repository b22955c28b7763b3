"""The backtesting.py adapter: an unchanged `backtesting.Strategy` class as an evaluator.

Its class attributes are the searchable parameters. One candidate is one
``Backtest(data, cls, **options).run(**params)`` on the study's bars from the period's
`data_start` to its `end`; the run's equity curve and trades become stratopt's metrics
(`stratopt.evaluation._contract`), and every numeric entry of its stats is kept as
returned, under a snake_case id (``"Sharpe Ratio"`` -> ``sharpe_ratio``,
``"Return [%]"`` -> ``return_pct``).
"""

from __future__ import annotations

import contextlib
import inspect
import io
import re
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from stratopt.data import Bars
from stratopt.errors import ConfigError
from stratopt.evaluation._contract import ExternalFailure, Period

__all__ = ["backtesting_parameters", "check_options", "run_backtesting_py", "stat_id"]


def _library() -> Any:
    try:
        import backtesting
    except ImportError:
        raise ConfigError(
            "evaluator.backtesting_py: backtesting.py is not installed; "
            "pip install 'stratopt[backtesting]' (or backtesting)"
        ) from None
    return backtesting


def backtesting_parameters(cls: object, spec: str) -> tuple[str, ...]:
    """The class attributes of a backtesting.py Strategy subclass: its parameters."""
    base = _library().Strategy
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ConfigError(
            f"evaluator.backtesting_py: {spec!r} is not a subclass of backtesting.Strategy"
        )
    inherited = set(dir(base))
    return tuple(
        name
        for name in dir(cls)
        if not name.startswith("_")
        and name not in inherited
        and not callable(getattr(cls, name))
        and not isinstance(getattr(cls, name), property)
    )


def check_options(options: Mapping[str, Any]) -> None:
    """Refuse `evaluator.options` that `Backtest(...)` does not take."""
    known = [
        name
        for name, p in inspect.signature(_library().Backtest.__init__).parameters.items()
        if p.kind == p.KEYWORD_ONLY
    ]
    for key in options:
        if key not in known:
            raise ConfigError(
                f"evaluator.options.{key}: not an option of backtesting.py's Backtest "
                f"(one of {', '.join(known)})"
            )


def stat_id(label: str) -> str:
    """A stats label as a snake_case id: ``"Return [%]"`` -> ``return_pct``."""
    text = label.replace("%", " pct").replace("#", " ").replace("$", " ").lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def run_backtesting_py(
    cls: type,
    bars: list[Bars],
    params: Mapping[str, Any],
    options: Mapping[str, Any],
    period: Period,
) -> dict[str, Any]:
    """One backtest of `cls` with `params`; the result in the evaluator contract's form."""
    lib = _library()
    if len(bars) != 1:
        raise ExternalFailure(f"the backtesting.py adapter runs one data series, not {len(bars)}")
    b = bars[0]
    keep = (b.time >= period.data_start.to_datetime64()) & (b.time <= period.end.to_datetime64())
    frame = pd.DataFrame(
        {
            "Open": b.open[keep],
            "High": b.high[keep],
            "Low": b.low[keep],
            "Close": b.close[keep],
            "Volume": b.volume[keep],
        },
        index=pd.DatetimeIndex(b.time[keep]),
    )
    # Its notes (open trades, short data) and its progress bar on stderr: not ours to show.
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        test = lib.Backtest(frame, cls, **options)
        try:
            stats = test.run(**params)
        except AttributeError as exc:  # "Strategy 'X' is missing parameter 'y'"
            raise ExternalFailure(str(exc)) from None
    trades = stats["_trades"]
    returned = {
        stat_id(str(k)): float(v)
        for k, v in stats.items()
        if not str(k).startswith("_")
        and isinstance(v, int | float | np.number)
        and not isinstance(v, bool)
    }
    return {
        "metrics": returned,
        "equity": stats["_equity_curve"]["Equity"],
        "cash": float(options.get("cash", 10_000)),
        "trades": pd.DataFrame(
            {
                "entry_time": trades["EntryTime"],
                "exit_time": trades["ExitTime"],
                "pnl": trades["PnL"].astype(float),
                "return": trades["ReturnPct"].astype(float),
            }
        ),
    }

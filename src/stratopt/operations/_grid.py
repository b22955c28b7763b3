"""What the operations add for grid studies (docs/grid.md): the fixed parameters'
constraints, the warnings about the bar path, the grid keys of a backtest report."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from stratopt.backtest import study_bars
from stratopt.config import StudyConfig
from stratopt.data import Bars
from stratopt.errors import ConfigError
from stratopt.evaluation import Candidate, with_data
from stratopt.grid import (
    GridBacktestResult,
    bar_returns,
    check_grid_study,
    grid_backtest,
    grid_setup,
    is_grid_study,
    study_strategy,
)
from stratopt.search import parse_constraints
from stratopt.strategies import Strategy

__all__ = ["check_fixed_params", "grid_report", "grid_trades_and_returns", "grid_warnings"]


def check_fixed_params(study: StudyConfig) -> None:
    """The study's constraints must hold for the parameters `backtest` runs.

    Raises:
        ConfigError: naming the constraint and the parameter values that break it.
    """
    strategy = study_strategy(study)
    p = strategy.resolve(study.params)
    for c in parse_constraints(study.constraints, list(p), field="constraints"):
        if not c.holds(p):
            values = ", ".join(f"{n}={p[n]!r}" for n in c.names)
            raise ConfigError(f"params: {values} break {c.field} {c.text!r}")


def grid_warnings(
    study: StudyConfig, bars: Sequence[Bars] | None = None, *, searched: bool = False
) -> list[str]:
    """The warnings of a grid study about its bars (`bars`, else the study's): a grid
    step the bar path model decides. For the fixed parameters, or for the lowest step
    of the space when `searched`. Empty for other strategies.

    Raises:
        ConfigError: a study setting that does not apply to grid strategies.
    """
    if not is_grid_study(study):
        return []
    series = study_bars(study) if bars is None else bars
    return [w for b in series for w in check_grid_study(study, b, searched=searched)]


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN/inf
    return value


def grid_report(results: Sequence[GridBacktestResult]) -> dict[str, Any]:
    """The grid keys of `stratopt backtest --json` (`round_trips`, `grid_profit`,
    `inventory_pnl`, `funding`, `path_band`, ...): the first series' at the top, every
    series' under `grid_per_symbol`."""
    per_symbol = {r.bars.symbol: _finite(r.grid_summary()) for r in results}
    return {**per_symbol[results[0].bars.symbol], "grid_per_symbol": per_symbol}


def grid_trades_and_returns(
    study: StudyConfig, strategy: Strategy, bars: Bars, cand: Candidate
) -> tuple[np.ndarray, np.ndarray]:
    """A grid candidate's net pnl per lot trade (`pnl - fees + funding`: they sum to its
    final equity minus the cash) and its per-bar returns, for the Monte Carlo."""
    setup = grid_setup(with_data(study, cand.data), bars, cand.settings)
    run = grid_backtest(bars, strategy, cand.strategy_params, setup)
    t = run.sim.trades
    net: np.ndarray = (t["pnl"] - t["fees"] + t["funding"]).astype(np.float64)
    return net, bar_returns(run.sim.equity, setup.ex.cash)

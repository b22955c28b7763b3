"""What the operations add for grid studies (docs/grid.md): the fixed parameters'
constraints, the warnings about the bar path, the grid keys of a backtest report."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from stratopt.backtest import study_bars
from stratopt.config import StudyConfig
from stratopt.data import Bars
from stratopt.errors import ConfigError
from stratopt.grid import GridBacktestResult, check_grid_study, is_grid_study
from stratopt.search import parse_constraints
from stratopt.strategies import get_strategy

__all__ = ["check_fixed_params", "grid_report", "grid_warnings"]


def check_fixed_params(study: StudyConfig) -> None:
    """The study's constraints must hold for the parameters `backtest` runs.

    Raises:
        ConfigError: naming the constraint and the parameter values that break it.
    """
    strategy = get_strategy(study.strategy, base_dir=study.base_dir)
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

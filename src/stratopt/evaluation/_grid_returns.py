"""Per-bar returns of grid candidates, for the statistics that need return series."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from stratopt.config import StudyConfig
from stratopt.data import Bars
from stratopt.engine.grid import GridMarket, build_market, simulate_grid
from stratopt.evaluation._data import DataKey, with_data
from stratopt.evaluation._router import Candidate
from stratopt.grid import bar_returns, grid_setup
from stratopt.strategies import GridStrategy, IndicatorCache

__all__ = ["GridReturns"]


class GridReturns:
    """The per-bar returns of a grid candidate on each series of one data choice.

    Each series' market (detail bars, funding) is built once for all candidates.
    """

    def __init__(self, study: StudyConfig, key: DataKey) -> None:
        self.study = with_data(study, key)
        self._markets: dict[str, GridMarket] = {}

    def per_symbol(
        self,
        strategy: GridStrategy,
        series: Sequence[Bars],
        caches: Sequence[IndicatorCache],
        cand: Candidate,
    ) -> list[np.ndarray]:
        p = strategy.resolve(cand.strategy_params)
        out = []
        for bars, cache in zip(series, caches, strict=True):
            setup = grid_setup(self.study, bars, cand.settings)
            if bars.symbol not in self._markets:
                self._markets[bars.symbol] = build_market(
                    bars, detail=setup.detail, funding=setup.funding
                )
            sim = simulate_grid(
                self._markets[bars.symbol], strategy.sides(bars, p, cache),
                strategy.grid_params(p), setup.ex, periods_per_year=bars.periods_per_year,
            )  # fmt: skip
            out.append(bar_returns(sim.equity, setup.ex.cash))
        return out

"""Evaluating a grid strategy's candidates: batches through `grid_evaluate_many`.

One compiled, parallel call per data series and execution setting; the detail series
and funding of each series are loaded once (at the first batch of the evaluator, so a
bad detail or funding file stops the study before any trial).
"""

from __future__ import annotations

from collections.abc import Callable

from stratopt.config import StudyConfig
from stratopt.data import Bars
from stratopt.engine.grid import GridExec, build_market
from stratopt.evaluation._data import DataKey, with_data
from stratopt.evaluation._router import Candidate
from stratopt.grid import (
    GridSetup,
    check_grid_study,
    grid_evaluate_many,
    grid_exec,
    grid_setup,
    with_settings,
)
from stratopt.strategies import IndicatorCache, Strategy

__all__ = ["GridEvaluation"]


class GridEvaluation:
    """The grid side of a `StudyEvaluator`: setups per data series, batches per setting."""

    def __init__(
        self, study: StudyConfig, strategy: Strategy, bars_for: Callable[[DataKey], list[Bars]]
    ) -> None:
        self.study = study
        self.strategy = strategy
        self.bars_for = bars_for
        self._setups: dict[tuple[DataKey, str], GridSetup] = {}
        self._caches: dict[tuple[DataKey, str], IndicatorCache] = {}
        check_grid_study(study)
        for bars in bars_for(()):
            setup = self._setup((), bars)
            # a detail series that does not fit the bars stops the study here
            build_market(bars, detail=setup.detail, funding=setup.funding)

    def _setup(self, key: DataKey, bars: Bars) -> GridSetup:
        at = (key, bars.symbol)
        if at not in self._setups:
            self._setups[at] = grid_setup(with_data(self.study, key), bars)
            self._caches[at] = IndicatorCache(bars, max_bytes=64 * 2**20)
        return self._setups[at]

    def run(self, key: DataKey, idx: list[int], routed: dict[int, Candidate]) -> dict[
        int, tuple[dict[str, dict[str, float]], str | None]
    ]:  # fmt: skip
        """Per candidate: its metrics per symbol, and the first error if any."""
        out: dict[int, tuple[dict[str, dict[str, float]], str | None]] = {
            i: ({}, None) for i in idx
        }
        by_exec: dict[GridExec, list[int]] = {}
        for i in idx:
            by_exec.setdefault(grid_exec(self.study, routed[i].settings), []).append(i)
        for bars in self.bars_for(key):
            base = self._setup(key, bars)
            for ex, members in by_exec.items():
                batch = grid_evaluate_many(
                    bars,
                    self.strategy,
                    [routed[i].strategy_params for i in members],
                    with_settings(base, ex),
                    cache=self._caches[(key, bars.symbol)],
                )
                rows = batch.metrics.to_dict("records")
                for pos, i in enumerate(members):
                    per_symbol, error = out[i]
                    per_symbol[bars.symbol] = {str(k): float(v) for k, v in rows[pos].items()}
                    out[i] = (per_symbol, error or batch.errors[pos])
        return out

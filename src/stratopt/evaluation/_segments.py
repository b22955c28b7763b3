"""Out-of-sample runs: a candidate over all data up to a segment's end, measured on it.

A test window (or the holdout) is evaluated the way it would have been traded: the
candidate runs on every bar from the start of the data to the end of the segment, so
its indicators are warm and a position held when the segment opens is carried in; the
metrics are those of the segment's bars only. The segment's returns are the equity
changes over its bars (the first one against the equity at the close before it); its
trades are those opened inside it (the run ends at the segment's last bar, so all of
them close inside it). Formulas in docs/validation.md.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from stratopt.backtest import backtest
from stratopt.config import StudyConfig
from stratopt.data import Bars, infer_periods_per_year
from stratopt.errors import StratoptError
from stratopt.evaluation._data import DataKey, StudyData, time_axis
from stratopt.evaluation._evaluators import aggregate
from stratopt.evaluation._external import External
from stratopt.evaluation._grid_segments import SegmentRun, grid_segment
from stratopt.evaluation._router import Candidate, Router
from stratopt.metrics import compute_metrics
from stratopt.strategies import GridStrategy

__all__ = ["SegmentResult", "SegmentRunner", "time_axis"]

_TRADE_COLUMNS = ("entry_time", "net_pnl", "ret", "bars", "ror")


@dataclass(frozen=True)
class SegmentResult:
    """One candidate measured on one segment.

    Attributes:
        metrics: every metric over the segment (aggregated over symbols as the study
            says), or None when the candidate could not run (see `error`).
        returns: per-bar returns inside the segment, indexed by bar time; with several
            symbols, the equal-weight mean of their returns at each time.
        exposed: per bar, whether any symbol held a position.
        trades: trades opened in the segment (entry_time, net_pnl, ret, bars, ror).
    """

    metrics: dict[str, float] | None
    returns: pd.Series
    exposed: pd.Series
    trades: pd.DataFrame
    error: str | None = None
    per_symbol: dict[str, dict[str, float]] = field(default_factory=dict)


class SegmentRunner:
    """Runs candidates of a study over its full data and measures time segments."""

    def __init__(self, study: StudyConfig, router: Router, data: StudyData | None = None) -> None:
        self.study = study
        self.router = router
        self.data = data if data is not None else StudyData(study)

    def bars(self, key: DataKey = ()) -> list[Bars]:
        """The study's full bars with the data options `key` (timeframe), loaded once."""
        return self.data.get(key)

    def run(
        self, params: Mapping[str, Any], start: pd.Timestamp, stop: pd.Timestamp | None
    ) -> SegmentResult:
        """Measure `params` on bars with ``start <= time < stop`` (None: to the end)."""
        if self.study.evaluator is not None:
            return self._external_run(params, start, stop)
        try:
            cand = self.router.route(params)
            series = self.bars(cand.data)
            found = [_one_symbol(self.study, b, self.router, cand, (start, stop)) for b in series]
        except Exception as exc:  # user strategy code: report, never abort the validation
            msg = str(exc) if isinstance(exc, StratoptError) else f"{type(exc).__name__}: {exc}"
            return _failed(msg)
        parts = [p for p in found if p is not None]
        if not parts:
            return _failed(f"no bar between {start} and {stop}")
        per_symbol = {p.symbol: p.metrics for p in parts}
        returns = pd.concat([p.returns for p in parts], axis=1).fillna(0.0).mean(axis=1)
        exposed = pd.concat([p.exposed for p in parts], axis=1).fillna(False).any(axis=1)
        trades = pd.concat([p.trades for p in parts], ignore_index=True)
        if self.study.aggregate == "portfolio" and len(parts) > 1:
            metrics = _portfolio(parts, cand.settings.cash)
        else:
            metrics = aggregate(per_symbol, self.study.aggregate)
        return SegmentResult(metrics, returns.rename("return"), exposed, trades, None, per_symbol)

    @functools.cached_property
    def external(self) -> External:
        """The study's external evaluator (a study that names one)."""
        return External(self.study, self.data)

    def _external_run(
        self, params: Mapping[str, Any], start: pd.Timestamp, stop: pd.Timestamp | None
    ) -> SegmentResult:
        """The evaluator run from the first bar to the segment's last, measured on the
        segment (as a strategy's run is): its period's `data_start` is the first bar."""
        try:
            ext = self.external
            axis = ext.axis
            a = int(np.searchsorted(axis, start.to_datetime64(), side="left"))
            b = len(axis) if stop is None else int(np.searchsorted(axis, stop.to_datetime64()))
            if b - a < 1:
                return _failed(f"no bar between {start} and {stop}")
            run = ext.run(self.router.route(params).strategy_params, ext.period(a, b), reuse=True)
        except StratoptError as exc:  # ExternalFailure, bad parameters
            return _failed(str(exc))
        index = pd.DatetimeIndex(run.time, name="timestamp")
        r = run.returns
        returns = pd.Series(
            r if r is not None else np.zeros(0), index=index if r is not None else index[:0]
        )
        t = run.trades
        trades = _no_trades() if t is None else t[list(_TRADE_COLUMNS)]
        exposed = pd.Series(run.exposed, index=index)
        return SegmentResult(run.metrics, returns.rename("return"), exposed, trades, None, {})


@dataclass(frozen=True)
class _Part:
    symbol: str
    metrics: dict[str, float]
    returns: pd.Series
    exposed: pd.Series
    trades: pd.DataFrame
    cash: float


def _one_symbol(
    study: StudyConfig,
    bars: Bars,
    router: Router,
    cand: Candidate,
    segment: tuple[pd.Timestamp, pd.Timestamp | None],
) -> _Part | None:
    start, stop = segment
    a = int(np.searchsorted(bars.time, start.to_datetime64(), side="left"))
    b = len(bars) if stop is None else int(np.searchsorted(bars.time, stop.to_datetime64()))
    if b - a < 1:
        return None
    assert router.strategy is not None  # an external evaluator's segments: _external_run
    if isinstance(router.strategy, GridStrategy):
        return _grid_part(study, bars, router.strategy, cand, (start, a, b))
    run = backtest(bars.slice(0, b), router.strategy, cand.strategy_params, cand.settings)
    sim = run.sim
    cash = float(sim.equity[a - 1]) if a > 0 else float(cand.settings.cash)
    t = sim.trades[sim.trades["entry_idx"] >= a]
    sl = cand.settings.stop_loss or 0.0
    trades = pd.DataFrame(
        {
            "entry_time": pd.DatetimeIndex(bars.time[t["entry_idx"]]),
            "net_pnl": t["pnl"] - t["fees"],
            "ret": t["ret"],
            "bars": (t["exit_idx"] - t["entry_idx"]).astype(np.float64),
            "ror": t["ret"] / sl if sl > 0 else t["ret"],
        }
    )
    seg = SegmentRun(sim.equity[a:b], sim.returns[a:b], sim.exposure[a:b] > 0, trades, cash)
    return _measured(bars, (start, a, b), seg)


def _grid_part(
    study: StudyConfig,
    bars: Bars,
    strategy: GridStrategy,
    cand: Candidate,
    where: tuple[pd.Timestamp, int, int],
) -> _Part:
    _, a, b = where
    return _measured(bars, where, grid_segment(study, bars, strategy, cand, a, b))


def _measured(bars: Bars, where: tuple[pd.Timestamp, int, int], seg: SegmentRun) -> _Part:
    """Every metric of `seg` over the segment's bars ``a..b-1`` (`where`: start, a, b)."""
    start, a, b = where
    if seg.cash <= 0:
        raise StratoptError(f"{bars.symbol}: the account was ruined before {start}")
    trades = seg.trades
    metrics = compute_metrics(
        seg.equity,
        cash=seg.cash,
        trades_net_pnl=trades["net_pnl"].to_numpy(),
        trades_ret=trades["ret"].to_numpy(),
        trades_bars=trades["bars"].to_numpy(),
        trades_ret_on_risk=trades["ror"].to_numpy(),
        exposure_bars=int(seg.exposed.sum()),
        periods_per_year=bars.periods_per_year,
    )
    index = pd.DatetimeIndex(bars.time[a:b], name="timestamp")
    return _Part(
        bars.symbol,
        metrics,
        pd.Series(seg.returns, index=index),
        pd.Series(seg.exposed, index=index),
        trades,
        seg.cash,
    )


def _portfolio(parts: list[_Part], cash: float) -> dict[str, float]:
    """Equal-weight portfolio of the symbols' segment curves (as `aggregate: portfolio`)."""
    curves = pd.concat([(1.0 + p.returns).cumprod() for p in parts], axis=1)
    curves = curves.sort_index().ffill().fillna(1.0)
    equity = cash * curves.mean(axis=1).to_numpy()
    exposed = pd.concat([p.exposed for p in parts], axis=1).fillna(False).any(axis=1)
    trades = pd.concat([p.trades for p in parts], ignore_index=True)
    n = len(parts)
    return compute_metrics(
        equity,
        cash=cash,
        trades_net_pnl=trades["net_pnl"].to_numpy() / n,
        trades_ret=trades["ret"].to_numpy(),
        trades_bars=trades["bars"].to_numpy(),
        trades_ret_on_risk=trades["ror"].to_numpy(),
        exposure_bars=int(exposed.sum()),
        periods_per_year=infer_periods_per_year(curves.index) if len(curves) > 1 else 252.0,
    )


def _failed(message: str) -> SegmentResult:
    empty = pd.Series([], dtype=np.float64, index=pd.DatetimeIndex([], name="timestamp"))
    return SegmentResult(
        None,
        empty.rename("return"),
        empty.astype(bool),
        _no_trades(),
        message,
    )


def _no_trades() -> pd.DataFrame:
    """The trades table of a segment without trades, with the columns' types (a failed
    window's empty table is compared by time when the windows are stitched)."""
    columns: dict[str, Any] = {c: np.zeros(0) for c in _TRADE_COLUMNS}
    columns["entry_time"] = pd.DatetimeIndex([])
    return pd.DataFrame(columns)

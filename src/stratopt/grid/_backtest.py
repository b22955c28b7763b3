"""Running grid strategies through the lot-book engine: one backtest in full, or many
candidates at once, each with its path band (docs/grid.md §9).

The grid counterpart of `stratopt.backtest`: the strategy gives each candidate's
ladder and active sides, the engine walks the bars (or the detail bars) and the
result carries the grid outputs beside every metric of docs/metrics.md.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from stratopt.data import Bars
from stratopt.engine.grid import (
    GRID_STATS,
    PATH_MODELS,
    FillReason,
    Funding,
    GridExec,
    GridMarket,
    GridSimResult,
    build_market,
    pack_grid,
    repeat_paths,
    simulate_grid,
    simulate_grid_many,
)
from stratopt.errors import StrategyError
from stratopt.metrics import METRICS
from stratopt.strategies import GridStrategy, IndicatorCache, Strategy, get_strategy

__all__ = [
    "BAND_COLUMNS",
    "FILL_MODEL_RISK_SHARE",
    "GridBacktestResult",
    "GridBatchResult",
    "GridSetup",
    "PathBand",
    "bar_returns",
    "grid_backtest",
    "grid_evaluate_many",
    "grid_strategy",
    "path_band_section",
    "step_warning",
]

FILL_MODEL_RISK_SHARE = 0.25
"""The band of net P&L over the path models, as a share of |net P&L|, above which a run's
fill model risk is high."""

BAND_COLUMNS: tuple[str, ...] = (
    *(f"net_pnl_{m}" for m in PATH_MODELS),
    *(f"round_trips_{m}" for m in PATH_MODELS),
    "path_band_net_pnl",
    "path_band_round_trips",
    "fill_model_risk_high",
)
"""Columns `grid_evaluate_many` adds after the metrics and `GRID_STATS`."""


@dataclass(frozen=True, eq=False)
class GridSetup:
    """What a grid run needs beside the strategy's parameters.

    Attributes:
        ex: Cash, fees, slippage, position mode, slots and the path model of each path
            bar (the detail bars' model when `detail` is given).
        detail: A finer series walked in place of each bar's own path (``path: detail``).
        funding: The funding schedule, or None.
    """

    ex: GridExec = field(default_factory=GridExec)
    detail: Bars | None = None
    funding: Funding | None = None

    @property
    def path_name(self) -> str:
        return "detail" if self.detail is not None else self.ex.path


@dataclass(frozen=True)
class PathBand:
    """Net P&L and round trips of one candidate under each bar path model."""

    net_pnl: dict[str, float]
    round_trips: dict[str, int]
    reference_net_pnl: float

    @property
    def net_pnl_band(self) -> float:
        return max(self.net_pnl.values()) - min(self.net_pnl.values())

    @property
    def round_trips_band(self) -> int:
        return max(self.round_trips.values()) - min(self.round_trips.values())

    @property
    def risk_high(self) -> bool:
        """The band exceeds `FILL_MODEL_RISK_SHARE` of |net P&L| of the configured run."""
        return _risk_high(self.net_pnl_band, self.reference_net_pnl)

    def to_dict(self) -> dict[str, Any]:
        return {
            "net_pnl": self.net_pnl_band,
            "round_trips": self.round_trips_band,
            "by_path": {
                m: {"net_pnl": self.net_pnl[m], "round_trips": self.round_trips[m]}
                for m in PATH_MODELS
            },
            "fill_model_risk": "high" if self.risk_high else "normal",
        }


def _risk_high(band: float, net_pnl: float) -> bool:
    return bool(band > FILL_MODEL_RISK_SHARE * abs(net_pnl))


@dataclass(frozen=True, eq=False)
class GridBacktestResult:
    """One grid backtest with everything: metrics, grid outputs, fills, trades, band."""

    strategy: str
    params: dict[str, Any]
    setup: GridSetup
    bars: Bars
    sim: GridSimResult
    band: PathBand

    @property
    def metrics(self) -> dict[str, float]:
        return self.sim.metrics

    @property
    def settings(self) -> GridExec:
        return self.setup.ex

    @property
    def final_equity(self) -> float:
        return self.sim.final_equity

    @property
    def n_trades(self) -> int:
        return int(self.sim.trades.shape[0])

    @property
    def equity(self) -> pd.Series:
        """Equity at each bar's price, indexed by bar time."""
        return pd.Series(self.sim.equity, index=self.bars.index, name="equity")

    @property
    def per_bar(self) -> pd.DataFrame:
        """Equity, net and gross exposure and open lots per bar."""
        s = self.sim
        return pd.DataFrame(
            {
                "equity": s.equity,
                "net_exposure": s.net_exposure,
                "gross_exposure": s.gross_exposure,
                "open_lots": s.open_lots,
            },
            index=self.bars.index,
        )

    @property
    def trades(self) -> pd.DataFrame:
        """One row per lot round trip (or closed part), with times and the exit reason."""
        t = self.sim.trades
        times = self.bars.time
        frame = pd.DataFrame(
            {
                "entry_time": pd.DatetimeIndex(times[t["entry_idx"]]),
                "exit_time": pd.DatetimeIndex(times[t["exit_idx"]]),
                **{name: t[name] for name in t.dtype.names or ()},
            }
        )
        frame["exit_reason"] = [FillReason(int(r)).name.lower() for r in t["exit_reason"]]
        return frame

    @property
    def fills(self) -> pd.DataFrame:
        """One row per fill: bar, path bar, time, price, side, qty, lot, reason, fee."""
        f = self.sim.fills
        frame = pd.DataFrame({name: f[name] for name in f.dtype.names or ()})
        frame.insert(2, "time", pd.DatetimeIndex(self.bars.time[f["bar"]]))
        frame["reason"] = [FillReason(int(r)).name.lower() for r in f["reason"]]
        return frame

    def grid_summary(self) -> dict[str, Any]:
        """The grid outputs under the keys `stratopt backtest --json` prints."""
        st = self.sim.stats
        return {
            "round_trips": int(st["round_trips"]),
            "grid_profit": st["grid_profit"],
            "inventory_pnl": st["inventory_pnl"],
            "funding": st["funding"],
            "net_pnl": st["net_pnl"],
            "fees": st["fees"],
            "fills": int(st["fills"]),
            "max_open_lots": int(st["max_open_lots"]),
            "path": self.setup.path_name,
            "position_mode": self.setup.ex.position_mode,
            "path_band": self.band.to_dict(),
        }


@dataclass(frozen=True, eq=False)
class GridBatchResult:
    """Metrics, grid statistics and path bands of many candidates, in order.

    Attributes:
        params: The resolved parameters of each candidate (as given when invalid).
        metrics: One row per candidate: every metric id, then `GRID_STATS`, then
            `BAND_COLUMNS`; NaN for a candidate that could not run.
        errors: Per candidate, None or why it could not run.
    """

    params: list[dict[str, Any]]
    metrics: pd.DataFrame
    errors: list[str | None] = field(default_factory=list)


def grid_strategy(strategy: str | Strategy | type[Strategy]) -> GridStrategy:
    """The strategy, checked to be a grid strategy."""
    strat = get_strategy(strategy)
    if not isinstance(strat, GridStrategy):
        raise StrategyError(f"strategy {strat.name!r} is not a grid strategy")
    return strat


def _plain_market(bars: Bars, setup: GridSetup) -> GridMarket:
    return build_market(bars, funding=setup.funding)


def _configured_market(bars: Bars, setup: GridSetup, plain: GridMarket) -> GridMarket:
    if setup.detail is None:
        return plain
    return build_market(bars, detail=setup.detail, funding=setup.funding)


def grid_backtest(
    bars: Bars,
    strategy: str | Strategy | type[Strategy],
    params: Mapping[str, Any] | None = None,
    setup: GridSetup | None = None,
) -> GridBacktestResult:
    """Backtest one parameter set of a grid strategy with full outputs and its path band.

    Raises:
        StrategyError: not a grid strategy, unknown strategy or invalid parameters.
        ConfigError, DataError: the detail or funding series cannot be used.
    """
    strat = grid_strategy(strategy)
    setup = setup or GridSetup()
    p = strat.resolve(params)
    ladder = strat.grid_params(p)
    sides = strat.sides(bars, p, IndicatorCache(bars))
    plain = _plain_market(bars, setup)
    market = _configured_market(bars, setup, plain)
    ppy = bars.periods_per_year
    sim = simulate_grid(market, sides, ladder, setup.ex, periods_per_year=ppy)
    rows = repeat_paths(pack_grid(ladder, setup.ex))
    stats = simulate_grid_many(plain, sides, rows, periods_per_year=ppy, with_metrics=False)
    band = _band(stats[:, len(METRICS) :], sim.net_pnl)
    return GridBacktestResult(strat.name, p, setup, bars, sim, band)


_NET = GRID_STATS.index("net_pnl")
_TRIPS = GRID_STATS.index("round_trips")


def _band(stats: np.ndarray, net_pnl: float) -> PathBand:
    """The band of rows of `GRID_STATS` in `PATH_MODELS` order."""
    return PathBand(
        net_pnl={m: float(stats[i, _NET]) for i, m in enumerate(PATH_MODELS)},
        round_trips={m: int(stats[i, _TRIPS]) for i, m in enumerate(PATH_MODELS)},
        reference_net_pnl=float(net_pnl),
    )


def _describe(exc: Exception) -> str:
    return str(exc) if isinstance(exc, StrategyError) else f"{type(exc).__name__}: {exc}"


def grid_evaluate_many(
    bars: Bars,
    strategy: str | Strategy | type[Strategy],
    candidates: Sequence[Mapping[str, Any]],
    setup: GridSetup | None = None,
    *,
    cache: IndicatorCache | None = None,
) -> GridBatchResult:
    """Metrics, grid statistics and path band of many candidates in compiled, parallel
    calls (the configured run with metrics, then the three bar paths without).

    Candidates with equal active sides share one row of them. A candidate whose
    parameters are invalid, or whose strategy code raises, gets NaN and its error.
    """
    strat = grid_strategy(strategy)
    setup = setup or GridSetup()
    cache = cache or IndicatorCache(bars)
    width = len(METRICS) + len(GRID_STATS)
    out = np.full((len(candidates), width + len(BAND_COLUMNS)), np.nan)
    errors: list[str | None] = [None] * len(candidates)
    resolved: list[dict[str, Any]] = []
    rows: list[np.ndarray] = []
    index: list[int] = []
    side_rows: dict[Hashable, int] = {}
    tables: list[np.ndarray] = []
    for k, cand in enumerate(candidates):
        try:
            p = strat.resolve(cand)
            key = strat.sides_key(p)
            if key not in side_rows:
                tables.append(np.asarray(strat.sides(bars, p, cache), dtype=np.int8))
                side_rows[key] = len(tables) - 1
            rows.append(pack_grid(strat.grid_params(p), setup.ex, side_rows[key]))
        except Exception as exc:  # bad parameters or user code: isolate the candidate
            resolved.append(dict(cand))
            errors[k] = _describe(exc)
            continue
        resolved.append(p)
        index.append(k)
    if index:
        _run_batch(bars, setup, np.stack(tables), np.stack(rows), out, np.array(index))
    columns = [m.id for m in METRICS] + list(GRID_STATS) + list(BAND_COLUMNS)
    return GridBatchResult(resolved, pd.DataFrame(out, columns=columns), errors)


def _run_batch(
    bars: Bars,
    setup: GridSetup,
    sides: np.ndarray,
    rows: np.ndarray,
    out: np.ndarray,
    index: np.ndarray,
) -> None:
    ppy = bars.periods_per_year
    plain = _plain_market(bars, setup)
    market = _configured_market(bars, setup, plain)
    width = len(METRICS) + len(GRID_STATS)
    out[index, :width] = simulate_grid_many(market, sides, rows, periods_per_year=ppy)
    k = rows.shape[0]
    paths = repeat_paths(rows)
    stats = simulate_grid_many(plain, sides, paths, periods_per_year=ppy, with_metrics=False)
    stats = stats[:, len(METRICS) :].reshape(k, len(PATH_MODELS), len(GRID_STATS))
    net = stats[:, :, _NET]
    trips = stats[:, :, _TRIPS]
    n_paths = len(PATH_MODELS)
    band_net = net.max(axis=1) - net.min(axis=1)
    reference = out[index, len(METRICS) + _NET]
    out[index, width : width + n_paths] = net
    out[index, width + n_paths : width + 2 * n_paths] = trips
    out[index, width + 2 * n_paths] = band_net
    out[index, width + 2 * n_paths + 1] = trips.max(axis=1) - trips.min(axis=1)
    high = band_net > FILL_MODEL_RISK_SHARE * np.abs(reference)
    out[index, width + 2 * n_paths + 2] = high.astype(np.float64)


def bar_returns(equity: np.ndarray, cash: float) -> np.ndarray:
    """Per-bar returns `E_j / E_{j-1} - 1` (`E_{-1}` the cash), 0 once equity is <= 0
    (docs/metrics.md), for the statistics that need a grid run's return series."""
    prev = np.concatenate(([cash], equity[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(prev > 0.0, equity / prev - 1.0, 0.0)
    out: np.ndarray = np.where(np.isfinite(r), r, 0.0)
    return out


def step_warning(bars: Bars, step_bps: float) -> str | None:
    """A warning when `step_bps` is below half the median bar range (high - low) / close
    in bps: at such a step the path model, not the data, decides most fills."""
    rng = (bars.high - bars.low) / bars.close * 1e4
    median = float(np.median(rng)) if rng.size else 0.0
    if step_bps < 0.5 * median:
        return (
            f"grid_step_bps {step_bps:g} is below half the median bar range "
            f"({median:.1f} bps): without detail data (grid.path: detail) the bar path "
            "model decides most fills"
        )
    return None


def path_band_section(metrics: Mapping[str, float] | None) -> dict[str, Any]:
    """summary.json's `path_band` and `fill_model_risk` of a trial's metrics (empty when
    they are not a grid candidate's)."""
    if not metrics or "path_band_net_pnl" not in metrics:
        return {}
    return {
        "path_band": {
            "net_pnl": metrics["path_band_net_pnl"],
            "round_trips": metrics["path_band_round_trips"],
            "by_path": {
                m: {"net_pnl": metrics[f"net_pnl_{m}"], "round_trips": metrics[f"round_trips_{m}"]}
                for m in PATH_MODELS
            },
        },
        "fill_model_risk": "high" if metrics["fill_model_risk_high"] == 1.0 else "normal",
    }

"""Python side of grid runs: validate, call the lot-book kernel, wrap the outputs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stratopt.engine import _grid_nb as nb
from stratopt.engine._grid_market import GridMarket
from stratopt.engine._grid_types import (
    GRID_FILL_DTYPE,
    GRID_TRADE_DTYPE,
    GridExec,
    GridParams,
    pack_grid,
)
from stratopt.metrics import METRICS

__all__ = ["GRID_STATS", "GridSimResult", "simulate_grid", "simulate_grid_many"]

GRID_STATS: tuple[str, ...] = (
    "net_pnl",
    "round_trips",
    "grid_profit",
    "inventory_pnl",
    "funding",
    "fees",
    "fills",
    "lot_trades",
    "max_open_lots",
)
"""The grid statistics after the metrics in `simulate_grid_many`'s rows, in order."""
if len(GRID_STATS) != nb.N_GRID_STATS:  # pragma: no cover
    raise RuntimeError("GRID_STATS and the kernel's statistics are out of step")


@dataclass(frozen=True, eq=False)
class GridSimResult:
    """Full outputs of one grid candidate (positions are bar numbers).

    Attributes:
        equity: Equity at each bar's price (docs/grid.md §3).
        net_exposure, gross_exposure: ``N * p`` and ``G * p`` at each bar's price.
        open_lots: Lots open after each bar (0 after the END close).
        exposed: 1 where a lot was open at some moment of the bar.
        fills: One `GRID_FILL_DTYPE` record per fill.
        trades: One `GRID_TRADE_DTYPE` record per lot round trip (or closed part).
        metrics: Every metric of docs/metrics.md.
        stats: The `GRID_STATS` of the run.
        cash: Initial equity.
    """

    equity: np.ndarray
    net_exposure: np.ndarray
    gross_exposure: np.ndarray
    open_lots: np.ndarray
    exposed: np.ndarray
    fills: np.ndarray
    trades: np.ndarray
    metrics: dict[str, float]
    stats: dict[str, float]
    cash: float

    @property
    def final_equity(self) -> float:
        return float(self.equity[-1])

    @property
    def net_pnl(self) -> float:
        return self.stats["net_pnl"]

    @property
    def round_trips(self) -> int:
        return int(self.stats["round_trips"])


def _sides(sides: np.ndarray, n: int) -> np.ndarray:
    arr = np.ascontiguousarray(sides, dtype=np.int8)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != n:
        raise ValueError(f"sides must have shape ({n},) or (rows, {n}), got {arr.shape}")
    if ((arr < 0) | (arr > 3)).any():
        raise ValueError("sides must be 0 (none), 1 (long), 2 (short) or 3 (both)")
    return arr


def _records(table: np.ndarray, dtype: np.dtype) -> np.ndarray:
    out = np.zeros(table.shape[0], dtype=dtype)
    for col, name in enumerate(dtype.names or ()):
        out[name] = table[:, col]
    return out


def simulate_grid(
    market: GridMarket,
    sides: np.ndarray,
    params: GridParams,
    ex: GridExec,
    *,
    periods_per_year: float = 252.0,
) -> GridSimResult:
    """One grid candidate with full outputs.

    Args:
        market: The bars, paths and funding (`build_market`).
        sides: int8[n], the active sides of each bar (bit 1 long, bit 2 short).
        params: The ladder.
        ex: Fills, fees and the path model.
        periods_per_year: Bars per year, for annualized metrics.
    """
    row = _sides(sides, market.n_bars)[0]
    gp = pack_grid(params, ex)
    args = (*market.arrays(), row, gp, float(periods_per_year))
    equity, per_bar, fills, trades, metrics, stats = nb.grid_run_one_nb(*args)
    return GridSimResult(
        equity=equity,
        net_exposure=per_bar[:, 0].copy(),
        gross_exposure=per_bar[:, 1].copy(),
        open_lots=per_bar[:, 2].astype(np.int64),
        exposed=per_bar[:, 3].astype(np.int8),
        fills=_records(fills, GRID_FILL_DTYPE),
        trades=_records(trades, GRID_TRADE_DTYPE),
        metrics={m.id: float(v) for m, v in zip(METRICS, metrics, strict=True)},
        stats={k: float(v) for k, v in zip(GRID_STATS, stats, strict=True)},
        cash=ex.cash,
    )


def simulate_grid_many(
    market: GridMarket,
    sides: np.ndarray,
    rows: np.ndarray,
    *,
    periods_per_year: float = 252.0,
    with_metrics: bool = True,
) -> np.ndarray:
    """Metrics and grid statistics of many candidates in one compiled, parallel call.

    Args:
        market: The bars, paths and funding, shared by every candidate.
        sides: int8[R, n] distinct rows of active sides.
        rows: float64[K, ...] candidates packed by `pack_grid` (each names its sides row).
        periods_per_year: Bars per year, for annualized metrics.
        with_metrics: False leaves the metrics NaN (the grid statistics only).

    Returns:
        float64[K, len(METRICS) + len(GRID_STATS)].
    """
    table = _sides(sides, market.n_bars)
    gp = np.ascontiguousarray(rows, dtype=np.float64).reshape(-1, nb.NP)
    used = gp[:, nb.P_SIDES_ROW]
    if gp.shape[0] and (used.min() < 0 or used.max() >= table.shape[0]):
        raise ValueError("a candidate names a sides row that does not exist")
    out = np.empty((gp.shape[0], len(METRICS) + nb.N_GRID_STATS))
    if gp.shape[0]:
        args = (*market.arrays(), table, gp, float(periods_per_year), with_metrics, out)
        nb.grid_run_many_nb(*args)
    return out

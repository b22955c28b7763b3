"""The equity curve of one candidate and what every section derives from it.

Definitions: docs/analysis.md ("Inputs and conventions", "drawdowns").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["Curve", "Period", "period_returns", "ratio", "under_water"]

Period = Literal["day", "month", "year"]
_UNIT = {"day": "datetime64[D]", "month": "datetime64[M]", "year": "datetime64[Y]"}


def ratio(x: float, y: float) -> float:
    """x / y with the x / 0 rule of docs/metrics.md (never NaN for finite inputs)."""
    if y != 0:
        return x / y
    if x > 0:
        return float("inf")
    if x < 0:
        return float("-inf")
    return 0.0


@dataclass(frozen=True, eq=False)
class Curve:
    """One candidate as analyze sees it: bar times, equity, trades and its metrics.

    Attributes:
        label: How the candidate is named in the output.
        time: datetime64[ns] bar times (naive UTC), oldest first.
        equity: Equity at each bar close.
        cash: Equity before the first bar.
        periods_per_year: Bars per year, for annualized figures.
        trades: One row per closed trade with at least `entry_idx`, `exit_idx`,
            `entry_time`, `exit_time`, `side`, `pnl`, `fees` and `ret`
            (the columns of `BacktestResult.trades`).
        metrics: The candidate's metrics (docs/metrics.md), by id.
        exposure: 1 for each bar with a position, else 0 (empty: unknown, taken as 0).
    """

    label: str
    time: np.ndarray
    equity: np.ndarray
    cash: float
    periods_per_year: float
    trades: pd.DataFrame
    metrics: Mapping[str, float]
    exposure: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        return int(self.equity.shape[0])

    @property
    def returns(self) -> np.ndarray:
        """Per-bar returns r_j = E_j / E_{j-1} - 1, 0 once E_{j-1} <= 0."""
        prev = np.concatenate(([self.cash], self.equity[:-1]))
        out = np.zeros_like(self.equity)
        alive = prev > 0
        out[alive] = self.equity[alive] / prev[alive] - 1.0
        return out

    @property
    def index(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.time)

    @property
    def net_pnl(self) -> np.ndarray:
        """Net pnl of each trade (after every fee), in closing order."""
        t = self.closed_trades
        return (t["pnl"] - t["fees"]).to_numpy(dtype=np.float64)

    @property
    def closed_trades(self) -> pd.DataFrame:
        """The trades in closing order (exit bar, then entry bar)."""
        if self.trades.empty:
            return self.trades
        return self.trades.sort_values(["exit_idx", "entry_idx"], kind="stable")

    @property
    def intraday(self) -> bool:
        """True when the bars are shorter than a day."""
        if len(self) < 2:
            return False
        step = np.median(np.diff(self.time.astype("datetime64[ns]").astype(np.int64)))
        return bool(step < 86_400 * 10**9)


def under_water(equity: np.ndarray, cash: float) -> tuple[np.ndarray, np.ndarray]:
    """(drawdown dd_j, under-water mask E_j < peak_j), the peak starting at `cash`."""
    peak = np.maximum.accumulate(np.maximum(equity, cash)) if equity.size else equity
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = (peak - equity) / peak
    return dd, equity < peak


def period_returns(curve: Curve, period: Period) -> pd.Series:
    """Compounded return of each calendar period that has a bar, indexed by its start."""
    if len(curve) == 0:
        return pd.Series(dtype=np.float64)
    key = curve.time.astype(_UNIT[period])
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    growth = np.multiply.reduceat(1.0 + curve.returns, starts) - 1.0
    return pd.Series(growth, index=pd.DatetimeIndex(key[starts].astype("datetime64[ns]")))

"""Out-of-sample runs of a grid candidate: the lot-book engine from the first bar to a
segment's end, measured on the segment (as `SegmentRunner` measures signal strategies).

The run ends at the segment's last bar, so the lots still open there close at its price
(END) inside the segment, as a signal strategy's open position does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from stratopt.config import StudyConfig
from stratopt.data import Bars
from stratopt.engine.grid import build_market, simulate_grid
from stratopt.evaluation._data import with_data
from stratopt.evaluation._router import Candidate
from stratopt.grid import bar_returns, grid_setup
from stratopt.strategies import GridStrategy, IndicatorCache

__all__ = ["SegmentRun", "grid_segment"]


@dataclass(frozen=True)
class SegmentRun:
    """A candidate's run over a segment's bars: equity, per-bar returns and exposure,
    the trades opened in the segment, and the equity before it (`cash`)."""

    equity: np.ndarray
    returns: np.ndarray
    exposed: np.ndarray
    trades: pd.DataFrame
    cash: float


def grid_segment(
    study: StudyConfig, bars: Bars, strategy: GridStrategy, cand: Candidate, a: int, b: int
) -> SegmentRun:
    """Candidate `cand` run on ``bars[:b]``, its part on bars ``a..b-1``.

    Raises:
        StratoptError: the parameters, detail or funding series cannot be used.
    """
    head = bars.slice(0, b)
    setup = grid_setup(with_data(study, cand.data), head, cand.settings)
    market = build_market(head, detail=setup.detail, funding=setup.funding)
    p = strategy.resolve(cand.strategy_params)
    sim = simulate_grid(
        market, strategy.sides(head, p, IndicatorCache(head)), strategy.grid_params(p),
        setup.ex, periods_per_year=bars.periods_per_year,
    )  # fmt: skip
    cash = float(sim.equity[a - 1]) if a > 0 else float(setup.ex.cash)
    t = sim.trades[sim.trades["entry_idx"] >= a]
    net = t["pnl"] - t["fees"] + t["funding"]
    trades = pd.DataFrame(
        {
            "entry_time": pd.DatetimeIndex(bars.time[t["entry_idx"]]),
            "net_pnl": net,
            "ret": t["ret"],
            "bars": (t["exit_idx"] - t["entry_idx"]).astype(np.float64),
            "ror": net / t["risk"],
        }
    )
    equity = sim.equity[a:b]
    return SegmentRun(equity, bar_returns(equity, cash), sim.exposed[a:b] > 0, trades, cash)

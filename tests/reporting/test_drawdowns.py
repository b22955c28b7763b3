from __future__ import annotations

import numpy as np
import pytest

from stratopt.backtest import backtest
from stratopt.data import synthetic_bars
from stratopt.engine import ExecSettings
from stratopt.reporting._drawdowns import drawdown_episodes, underwater


def test_episodes_have_the_max_drawdown_metric_depth() -> None:
    bars = synthetic_bars(2000, seed=3)
    res = backtest(bars, "sma_cross", {"fast": 5, "slow": 30}, ExecSettings(cash=10_000.0))
    episodes = drawdown_episodes(res.sim.equity, 10_000.0)
    assert episodes[0].depth == pytest.approx(res.metrics["max_drawdown"], rel=1e-12)
    assert [e.depth for e in episodes] == sorted((e.depth for e in episodes), reverse=True)
    assert len(episodes) <= 10


def test_episode_bounds() -> None:
    equity = np.array([100, 110, 99, 88, 95, 111, 105, 120, 90.0])
    eps = drawdown_episodes(equity, 100.0)
    first = eps[0]  # 120 -> 90, never recovered
    assert (first.peak, first.trough, first.recovery) == (7, 8, None)
    assert first.depth == pytest.approx(0.25)
    second = eps[1]
    assert (second.peak, second.trough, second.recovery) == (1, 3, 5)
    assert second.depth == pytest.approx(1 - 88 / 110)
    assert underwater(equity, 100.0)[0] == 0.0
    assert underwater(np.array([90.0, 95.0]), 100.0).tolist() == pytest.approx([-0.1, -0.05])

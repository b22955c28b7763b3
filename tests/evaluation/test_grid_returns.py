"""Return series of grid candidates for the overfitting statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stratopt.config import load_study
from stratopt.evaluation import candidate_returns
from stratopt.grid import backtest_grid_study

ROOT = Path(__file__).resolve().parents[2]
SYNTHETIC = ROOT / "examples" / "hedge_grid_synthetic.yaml"


def test_grid_candidates_return_their_equity_curve() -> None:
    study = load_study(SYNTHETIC)
    params = [{"grid_step_bps": 25.0}, {"grid_step_bps": 60.0, "mode": "neutral"}]
    got = candidate_returns(study, params)
    assert got.positions == [0, 1] and got.skipped == {}
    for col, p in enumerate(params):
        one = load_study(SYNTHETIC, [f"params.{k}={v}" for k, v in p.items()])
        (res,) = backtest_grid_study(one)
        equity = res.sim.equity
        want = equity / np.r_[10_000.0, equity[:-1]] - 1.0
        np.testing.assert_allclose(got.returns[:, col], want, rtol=1e-12, atol=1e-15)

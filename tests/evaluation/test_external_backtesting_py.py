"""The backtesting.py adapter against backtesting.py itself (examples/external_backtesting_py.yaml).

Every combination of SmaCross(n1, n2) on the 10 x 20 grid gives, as a trial, the final
equity and trade count backtesting.py's own `Backtest.run` reports, and the Sharpe
stratopt stores is stratopt's formula on that run's equity curve; the best candidate is
the one `Backtest.optimize` picks for the same objective, the final equity (its
`maximize` callable gets stats without the equity curve, so not the Sharpe ratio).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest
from backtesting import Backtest
from backtesting.test import GOOG

from stratopt.config import load_study
from stratopt.metrics import compute_metrics
from stratopt.operations import optimize_study

ROOT = Path(__file__).resolve().parents[2]
STUDY = ROOT / "examples" / "external_backtesting_py.yaml"
OPTIONS = {"cash": 10_000, "commission": 0.002, "exclusive_orders": True}
N1 = range(5, 55, 5)
N2 = range(10, 210, 10)


@pytest.fixture(scope="module")
def sma_cross() -> type:
    sys.path.insert(0, str(STUDY.parent))
    try:
        from sma_cross_bt import SmaCross
    finally:
        sys.path.remove(str(STUDY.parent))
    return SmaCross  # type: ignore[no-any-return]


def _sharpe(stats: object) -> float:
    equity = stats["_equity_curve"]["Equity"].to_numpy()  # type: ignore[index]
    return compute_metrics(equity, cash=10_000, trades_net_pnl=[], trades_ret=[], trades_bars=[],
                           periods_per_year=252.0)["sharpe"]  # fmt: skip


def test_every_grid_point_matches_backtest_run_and_the_best_matches_optimize(
    tmp_path: Path, sma_cross: type
) -> None:
    overrides = ["validation.holdout=null", "constraints=[]", "objective=final_equity",
                 f"output={tmp_path}"]  # fmt: skip
    result = optimize_study(load_study(STUDY, overrides), analyze=False)
    trials = result.ranked
    assert result.counts["complete"] == len(N1) * len(N2) == 200
    bt = Backtest(GOOG, sma_cross, **OPTIONS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _, row in trials.iterrows():
            stats = bt.run(n1=int(row["params.n1"]), n2=int(row["params.n2"]))
            where = (int(row["params.n1"]), int(row["params.n2"]))
            final = stats["Equity Final [$]"]
            assert row["metrics.final_equity"] == pytest.approx(final, rel=1e-12), where
            assert row["metrics.trades"] == stats["# Trades"], where
            assert row["metrics.sharpe"] == pytest.approx(_sharpe(stats), rel=1e-12), where
        best = bt.optimize(n1=list(N1), n2=list(N2), maximize="Equity Final [$]", method="grid")
    assert result.best_params == {"n1": best._strategy.n1, "n2": best._strategy.n2}
    assert result.best_values == [pytest.approx(best["Equity Final [$]"], rel=1e-12)]

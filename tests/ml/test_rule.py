"""The stage-2 rule: scores against past predictions, signals, and the portfolio backtest."""

from __future__ import annotations

import numpy as np
import pytest

from stratopt.engine import ExecSettings, simulate
from stratopt.metrics import compute_metrics
from stratopt.ml import PanelSpec, PredictionSet, RuleBacktester, synthetic_panel
from stratopt.ml._rule_nb import past_scores_nb, threshold_signals_nb
from stratopt.ml._stage2 import _rule as parse_rule


def brute_scores(pred: np.ndarray, fold: np.ndarray, window: int, min_periods: int) -> np.ndarray:
    out = np.full(len(pred), np.nan)
    for t in range(len(pred)):
        if not np.isfinite(pred[t]) or fold[t] < 0:
            continue
        ref = []
        for s in range(t - 1, max(-1, t - window - 1), -1):
            if fold[s] != fold[t]:
                break
            if np.isfinite(pred[s]):
                ref.append(pred[s])
        if len(ref) >= max(2, min_periods):
            r = np.array(ref)
            out[t] = (np.sum(r < pred[t]) + 0.5 * np.sum(r == pred[t])) / len(r)
    return out


def test_quantile_scores_use_only_the_same_models_past() -> None:
    rng = np.random.default_rng(4)
    pred = np.round(rng.standard_normal(400), 1)  # ties
    pred[rng.random(400) < 0.05] = np.nan
    fold = np.repeat([0, 1, 2, -1], 100)
    out = np.empty(400)
    past_scores_nb(pred, fold, 30, 10, False, out)
    np.testing.assert_allclose(out, brute_scores(pred, fold, 30, 10), equal_nan=True)
    assert np.isnan(out[100:110]).all()  # a retrained model starts its own reference
    assert np.isnan(out[300:]).all()


def test_zscores() -> None:
    pred = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    out = np.empty(5)
    past_scores_nb(pred, np.zeros(5, dtype=np.int64), 4, 2, True, out)
    assert out[4] == pytest.approx((10.0 - 2.5) / np.std([1, 2, 3, 4], ddof=1))
    assert np.isnan(out[:2]).all()


def test_signals_enter_past_a_threshold_and_leave_on_a_weaker_one() -> None:
    score = np.array([0.5, 0.9, 0.8, 0.6, 0.4, 0.1, 0.2, np.nan, 0.95, 0.9, 0.9, 0.9])
    out = np.empty(len(score), dtype=np.int8)
    threshold_signals_nb(score, 0.85, 0.15, 0.5, 0.5, 3, True, True, out)
    #                 flat long  hold hold exit short hold  exit long hold hold hold(3): exit
    assert out.tolist() == [0, 1, 0, 0, 3, -1, 0, 4, 1, 0, 0, 3]
    threshold_signals_nb(score, 0.85, 0.15, 0.5, 0.5, 0, True, False, out)
    assert -1 not in out.tolist()


@pytest.fixture(scope="module")
def setup() -> tuple[object, np.ndarray]:
    panel = synthetic_panel(PanelSpec(assets=4, bars=300, features=5, strength=0.5, seed=9))
    rng = np.random.default_rng(1)
    values = rng.standard_normal((1, 300, 4))
    values[0, :50] = np.nan
    return panel, values


def backtester(panel: object, values: np.ndarray, settings: ExecSettings) -> RuleBacktester:
    fold = np.where(np.isfinite(values[:, :, 0]), 0, -1).astype(np.int64)
    fold[0, 150:] = np.where(fold[0, 150:] >= 0, 1, -1)  # a retrained model from bar 150
    return RuleBacktester(
        panel,  # type: ignore[arg-type]
        {0: PredictionSet(values, fold)},
        span=(50, 300),
        settings=settings,
    )


def test_thresholds_carry_over_between_models_of_different_scale(setup: tuple) -> None:
    panel, values = setup
    scaled = values.copy()
    scaled[0, 150:] = 40.0 * scaled[0, 150:] - 3.0  # the retrained model's units differ
    settings = ExecSettings(cash=1e5, commission=0.001)
    params = {"entry": 0.8, "exit": 0.5, "window": 30}
    a = backtester(panel, values, settings).run(params)
    b = backtester(panel, scaled, settings).run(params)
    assert a.metrics == b.metrics
    assert a.metrics["trades"] > 0


def test_the_portfolio_counts_every_asset_and_fee(setup: tuple) -> None:
    panel, values = setup
    settings = ExecSettings(cash=1e5, commission=0.001)
    bt = backtester(panel, values, settings)
    run = bt.run({"entry": 0.7, "exit": 0.5, "window": 30, "hold": 4})
    total_trades, final = 0.0, 0.0
    equity, net, ret, held, exposed = np.zeros(250), [], [], [], np.zeros(250, dtype=bool)
    for i in range(4):  # each asset on its own, a quarter of the cash
        signals = np.empty(250, dtype=np.int8)
        score = bt.scores(0, 0, parse_rule({"entry": 0.7, "exit": 0.5, "window": 30}))[:, i]
        threshold_signals_nb(score, 0.7, 0.3, 0.5, 0.5, 4, True, True, signals)
        sim = simulate(
            panel.open[50:, i],
            panel.high[50:, i],
            panel.low[50:, i],
            panel.close[50:, i],
            signals,
            settings.replace(cash=2.5e4),
            periods_per_year=panel.periods_per_year,
        )
        total_trades += sim.n_trades
        final += sim.final_equity
        equity += sim.equity
        exposed |= sim.exposure != 0
        net.append(sim.trades["pnl"] - sim.trades["fees"])  # every fee
        ret.append(sim.trades["ret"])
        held.append(sim.trades["exit_idx"] - sim.trades["entry_idx"])
    assert run.metrics["trades"] == total_trades
    assert run.metrics["final_equity"] == pytest.approx(final)
    expected = compute_metrics(
        equity,
        cash=1e5,
        trades_net_pnl=np.concatenate(net),
        trades_ret=np.concatenate(ret),
        trades_bars=np.concatenate(held),
        exposure_bars=int(exposed.sum()),
        periods_per_year=panel.periods_per_year,
    )
    assert run.metrics == pytest.approx(expected)
    cheaper = backtester(panel, values, settings.replace(commission=0.0)).run(
        {"entry": 0.7, "exit": 0.5, "window": 30, "hold": 4}
    )
    assert cheaper.metrics["final_equity"] > run.metrics["final_equity"]  # fees counted

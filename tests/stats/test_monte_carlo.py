"""Monte Carlo of trade order and returns: seeded, and consistent with the metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stratopt.metrics import compute_metrics
from stratopt.stats import bootstrap_fan, bootstrap_returns, reshuffle_trades


def _metrics(equity: np.ndarray, cash: float) -> dict[str, float]:
    return compute_metrics(
        equity, cash=cash, trades_net_pnl=[], trades_ret=[], trades_bars=[], periods_per_year=252
    )


def test_trade_shuffle_keeps_final_equity_and_moves_the_drawdown() -> None:
    pnl = np.random.default_rng(1).normal(20.0, 300.0, 150)
    res = reshuffle_trades(pnl, cash=10_000.0, n_sims=400, seed=3)
    # Additive pnl: every order ends at cash + sum(pnl).
    assert res.final_equity == pytest.approx(10_000.0 + pnl.sum(), rel=1e-12)
    assert res.max_drawdown.std() > 0
    p = res.percentiles()
    assert p["max_drawdown"]["p5"] <= p["max_drawdown"]["p50"] <= p["max_drawdown"]["p95"]
    # The original order is the trades as given; its drawdown is the metrics' one.
    equity = 10_000.0 + np.cumsum(pnl)
    assert res.original["max_drawdown"] == pytest.approx(_metrics(equity, 10_000.0)["max_drawdown"])
    compounding = reshuffle_trades(pnl / 10_000, cash=1.0, n_sims=50, seed=3, compounding=True)
    assert compounding.final_equity == pytest.approx(np.prod(1 + pnl / 10_000), rel=1e-12)


def test_bootstrap_brackets_the_original_and_matches_the_metrics() -> None:
    r = np.random.default_rng(2).normal(0.0005, 0.01, 1500)
    for method in ("stationary", "iid"):
        res = bootstrap_returns(r, cash=100.0, n_sims=500, seed=4, method=method)  # type: ignore[arg-type]
        p = res.percentiles()
        for name in ("final_equity", "sharpe", "max_drawdown"):
            assert p[name]["p5"] <= res.original[name] <= p[name]["p95"], (method, name)
        m = _metrics(100.0 * np.cumprod(1 + r), 100.0)
        assert res.original["final_equity"] == pytest.approx(m["final_equity"], rel=1e-12)
        assert res.original["max_drawdown"] == pytest.approx(m["max_drawdown"], rel=1e-9)
        assert res.original["sharpe"] == pytest.approx(m["sharpe"], rel=1e-9)


def test_same_seed_same_distributions() -> None:
    r = np.random.default_rng(3).normal(0.0, 0.01, 800)
    a = bootstrap_returns(r, n_sims=200, seed=7)
    b = bootstrap_returns(r, n_sims=200, seed=7)
    c = bootstrap_returns(r, n_sims=200, seed=8)
    assert np.array_equal(a.final_equity, b.final_equity)
    assert np.array_equal(a.sharpe, b.sharpe)
    assert not np.array_equal(a.final_equity, c.final_equity)
    pnl = np.arange(-5.0, 15.0)
    s1 = reshuffle_trades(pnl, cash=100.0, n_sims=100, seed=1)
    s2 = reshuffle_trades(pnl, cash=100.0, n_sims=100, seed=1)
    assert np.array_equal(s1.max_drawdown, s2.max_drawdown)
    assert a.to_dict()["percentiles"].keys() == {"final_equity", "max_drawdown", "sharpe"}


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        bootstrap_returns(np.array([0.01]))
    with pytest.raises(ValueError, match="cash"):
        reshuffle_trades(np.ones(5), cash=0.0)
    with pytest.raises(ValueError, match="block_size"):
        bootstrap_returns(np.zeros(10), block_size=0.5)
    with pytest.raises(ValueError, match="method"):
        bootstrap_returns(np.zeros(10), method="bogus")  # type: ignore[arg-type]
    assert math.isfinite(bootstrap_returns(np.zeros(10), n_sims=5).sharpe[0])


def test_bootstrap_fan_draws_bootstrap_returns_paths() -> None:
    r = np.random.default_rng(3).normal(0.0004, 0.01, 2500)
    steps = np.unique(np.linspace(1, r.size, 300).round().astype(np.int64))
    plain = bootstrap_returns(r, cash=1e4, n_sims=700, seed=9)
    fan = bootstrap_fan(r, steps=steps, cash=1e4, n_sims=700, seed=9)
    for name in ("final_equity", "max_drawdown", "sharpe"):
        assert np.array_equal(getattr(fan.result, name), getattr(plain, name))
    final = plain.percentiles()["final_equity"]
    assert [fan.percentiles[p][-1] for p in (5, 50, 95)] == [final[k] for k in ("p5", "p50", "p95")]
    assert all(np.all(fan.percentiles[5] <= fan.percentiles[q]) for q in (25, 50, 75, 95))
    with pytest.raises(ValueError, match="steps"):
        bootstrap_fan(r, steps=np.array([0, 5]))

"""The one Sharpe ratio: the matrix version, and the compiled kernels held to it."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from stratopt.metrics import compute_metrics
from stratopt.stats import (
    SELECTION_METRICS,
    bootstrap_returns,
    probability_of_backtest_overfitting,
    sample_moments,
    sharpe_ratio,
)


def _returns(kind: str, t: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "noise":
        return rng.normal(0.0004, 0.012, t)
    if kind == "skewed":
        return np.exp(rng.normal(0.0, 0.02, t)) - 1.0005
    if kind == "sparse":  # mostly flat, as a strategy out of the market
        return np.where(rng.random(t) < 0.1, rng.normal(0.0, 0.03, t), 0.0)
    return np.full(t, 0.001)  # "flat": zero variance, positive mean


def _by_hand(r: np.ndarray, ppy: float) -> float:
    if r.size < 2 or np.all(r == r[0]):
        return math.copysign(math.inf, r[0]) * math.sqrt(ppy) if r[0] != 0 else 0.0
    return float(r.mean() / r.std(ddof=1) * math.sqrt(ppy))


@pytest.mark.parametrize("kind", ["noise", "skewed", "sparse", "flat"])
@pytest.mark.parametrize("t", [1, 2, 500])
def test_matrix_sharpe_is_mean_over_sample_std(kind: str, t: int) -> None:
    r = _returns(kind, t, seed=t)
    got = sharpe_ratio(np.stack([r, -r, np.zeros(t)], axis=1), 252.0)
    assert got[0] == pytest.approx(_by_hand(r, 252.0), rel=1e-12)
    assert got[1] == pytest.approx(_by_hand(-r, 252.0), rel=1e-12)
    assert got[2] == 0.0  # 0 / 0 is a flat column: 0


@pytest.mark.parametrize("kind", ["noise", "skewed", "sparse"])
def test_the_engines_streaming_sharpe_is_the_matrix_sharpe(kind: str) -> None:
    r = _returns(kind, 5000, seed=11)
    cash = 10_000.0
    equity = cash * np.cumprod(1.0 + r)
    m = compute_metrics(equity, cash=cash, trades_net_pnl=[], trades_ret=[], trades_bars=[],
                        periods_per_year=365.0)  # fmt: skip
    per_bar = equity / np.concatenate(([cash], equity[:-1])) - 1.0
    assert m["sharpe"] == pytest.approx(sharpe_ratio(per_bar[:, None], 365.0)[0], rel=1e-10)


def test_the_monte_carlo_kernels_sharpe_is_the_matrix_sharpe() -> None:
    r = _returns("noise", 800, seed=5)
    res = bootstrap_returns(r, cash=100.0, n_sims=3, seed=1, periods_per_year=252.0)
    assert res.original["sharpe"] == pytest.approx(sharpe_ratio(r[:, None], 252.0)[0], rel=1e-10)


def test_sample_moments_and_cpcv_selection_use_it() -> None:
    r = _returns("skewed", 300, seed=2)
    assert sample_moments(r).sharpe == sharpe_ratio(r[:, None])[0]
    matrix = np.stack([r, _returns("noise", 300, seed=3)], axis=1)
    assert np.array_equal(SELECTION_METRICS["sharpe"](matrix, 52.0), sharpe_ratio(matrix, 52.0))


def test_pbos_in_sample_sharpe_is_the_matrix_sharpe_of_those_rows() -> None:
    rng = np.random.default_rng(9)
    r = rng.normal(0.0, 0.01, (40, 3))
    res = probability_of_backtest_overfitting(r, partitions=4)
    blocks = np.array_split(np.arange(40), 4)
    for c, combo in enumerate(itertools.combinations(range(4), 2)):
        rows = np.concatenate([blocks[k] for k in combo])
        expected = sharpe_ratio(r[rows])
        assert res.is_sharpe[c] == pytest.approx(expected[res.best_index[c]], rel=1e-10)

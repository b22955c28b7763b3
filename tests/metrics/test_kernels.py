"""The numba kernels against the NumPy/pandas oracle, and every edge case."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit, prange

from stratopt.metrics import METRIC_IDS
from stratopt.metrics._nb import (
    N_METRICS,
    N_TRADE_STATS,
    TS_COUNT,
    compute_metrics_nb,
    ratio_nb,
    trade_stats_from_arrays_nb,
    trade_stats_init_nb,
    trade_stats_update_nb,
)

from .helpers import check_case, kernel_metrics, random_equity, random_trades
from .reference import reference_metrics

NO_TRADES = {"pnl": np.empty(0), "ret": np.empty(0), "bars": np.empty(0)}
RETURN_METRICS = [
    "cagr", "volatility", "sharpe", "sortino", "calmar", "max_drawdown",
    "max_drawdown_duration", "skew", "kurtosis", "var_95", "cvar_95", "ulcer_index",
    "omega", "tail_ratio",
]  # fmt: skip
TRADE_METRICS = [
    "trades", "win_rate", "profit_factor", "avg_trade", "expectancy", "sqn",
    "return_on_risk", "best_trade", "worst_trade", "avg_trade_duration", "avg_win",
    "avg_loss",
]  # fmt: skip


def no_nan(metrics: dict[str, float]) -> None:
    assert [k for k, v in metrics.items() if math.isnan(v)] == []


# ---------------------------------------------------------------------------------------
# Random equity curves and trade lists
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [2, 3, 17, 250, 2047, 2048, 5_000, 60_000])
@pytest.mark.parametrize("seed", range(4))
def test_random_cases_match_oracle(n: int, seed: int) -> None:
    rng = np.random.default_rng(1000 * n + seed)
    cash = float(rng.uniform(1e3, 1e6))
    pnl, ret, bars, ror = random_trades(rng, int(rng.integers(0, 80)))
    check_case(
        random_equity(rng, n, cash),
        cash=cash,
        pnl=pnl,
        ret=ret,
        bars=bars,
        ror=ror,
        exposure_bars=int(rng.integers(0, n + 1)),
        ppy=float(rng.choice([252.0, 365.0, 252.0 * 390])),
    )


@pytest.mark.parametrize("seed", range(6))
def test_trending_and_crashing_curves(seed: int) -> None:
    """New peaks in most blocks (uptrend) and a deep, long fall (crash)."""
    rng = np.random.default_rng(seed)
    n = 20_000
    drift = 2e-3 if seed % 2 else -1e-3
    r = rng.normal(drift, 1e-3, n)
    check_case(10_000.0 * np.cumprod(1.0 + r), cash=10_000.0, **NO_TRADES)


def test_ppy_scales_annualized_metrics() -> None:
    rng = np.random.default_rng(7)
    eq = random_equity(rng, 500, 100.0)
    a = kernel_metrics(eq, cash=100.0, ppy=252.0, **NO_TRADES)
    b = kernel_metrics(eq, cash=100.0, ppy=4 * 252.0, **NO_TRADES)
    assert b["volatility"] == pytest.approx(2 * a["volatility"])
    assert b["sharpe"] == pytest.approx(2 * a["sharpe"])
    assert b["sortino"] == pytest.approx(2 * a["sortino"])
    assert b["max_drawdown"] == a["max_drawdown"]


def test_trade_stats_from_arrays_equals_updates() -> None:
    rng = np.random.default_rng(3)
    pnl, ret, bars, ror = random_trades(rng, 50)
    a = np.empty(N_TRADE_STATS)
    trade_stats_from_arrays_nb(pnl, ret, bars, ror, a)
    b = np.empty(N_TRADE_STATS)
    trade_stats_init_nb(b)
    for i in range(50):
        trade_stats_update_nb(b, pnl[i], ret[i], bars[i], ror[i])
    np.testing.assert_array_equal(a, b)
    assert a[TS_COUNT] == 50


@njit(parallel=True, cache=True)  # type: ignore[misc]
def _batch(equity: np.ndarray, cash: float, scratch: np.ndarray, out: np.ndarray) -> None:
    for c in prange(equity.shape[0]):
        ts = np.empty(N_TRADE_STATS)
        trade_stats_init_nb(ts)
        trade_stats_update_nb(ts, c + 1.0, 0.01 * (c + 1), 3.0, np.nan)
        compute_metrics_nb(equity[c], cash, c, ts, 252.0, scratch[c], out[c])


def test_inside_a_parallel_loop() -> None:
    """How the engine uses it: one candidate per prange iteration, own scratch rows."""
    rng = np.random.default_rng(11)
    equity = np.stack([random_equity(rng, 3000, 100.0) for _ in range(4)])
    out = np.empty((4, N_METRICS))
    _batch(equity, 100.0, np.empty_like(equity), out)
    for c in range(4):
        want = kernel_metrics(
            equity[c], cash=100.0, pnl=np.array([c + 1.0]), ret=np.array([0.01 * (c + 1)]),
            bars=np.array([3.0]), ror=np.array([np.nan]), exposure_bars=c,
        )  # fmt: skip
        np.testing.assert_array_equal(out[c], list(want.values()))


# ---------------------------------------------------------------------------------------
# The x / 0 rule
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("x", "y", "want"),
    [(1.0, 2.0, 0.5), (3.0, 0.0, math.inf), (-3.0, 0.0, -math.inf), (0.0, 0.0, 0.0),
     (0.0, 5.0, 0.0), (-1.0, -4.0, 0.25)],
)  # fmt: skip
def test_ratio_rule(x: float, y: float, want: float) -> None:
    assert ratio_nb(x, y) == want


# ---------------------------------------------------------------------------------------
# Edge cases: defined values, never NaN
# ---------------------------------------------------------------------------------------
def test_no_bars() -> None:
    got = check_case(np.empty(0), cash=100.0, **NO_TRADES)
    assert got["final_equity"] == 100.0
    assert all(got[k] == 0.0 for k in RETURN_METRICS + TRADE_METRICS + ["exposure"])


@pytest.mark.parametrize("last", [110.0, 90.0, 100.0])
def test_one_bar(last: float) -> None:
    got = check_case(np.array([last]), cash=100.0, **NO_TRADES, exposure_bars=1)
    r = last / 100.0 - 1.0
    assert got["volatility"] == 0.0  # std with ddof=1 of one value: defined as 0
    assert got["sharpe"] == (math.inf if r > 0 else -math.inf if r < 0 else 0.0)
    assert got["sortino"] == (math.inf if r > 0 else -math.sqrt(252.0) if r < 0 else 0.0)
    assert got["tail_ratio"] == (1.0 if r else 0.0)
    assert got["var_95"] == got["cvar_95"] == pytest.approx(r)
    assert got["skew"] == got["kurtosis"] == 0.0
    assert got["exposure"] == 1.0
    assert got["max_drawdown"] == pytest.approx(max(0.0, -r))


def test_flat_equity_zero_variance() -> None:
    got = check_case(np.full(3000, 500.0), cash=500.0, **NO_TRADES)
    for key in RETURN_METRICS:
        assert got[key] == 0.0, key
    assert got["total_return"] == 0.0


def test_constant_growth_infinite_ratios() -> None:
    """Every bar doubles equity exactly: std 0, no drawdown, no losing bar."""
    got = check_case(100.0 * 2.0 ** np.arange(1, 40), cash=100.0, **NO_TRADES)
    for key in ("sharpe", "sortino", "calmar", "omega"):
        assert got[key] == math.inf, key
    assert got["volatility"] == 0.0
    assert got["tail_ratio"] == 1.0
    assert got["max_drawdown"] == got["max_drawdown_duration"] == 0.0


def test_constant_decline() -> None:
    got = check_case(100.0 * 0.5 ** np.arange(1, 30), cash=100.0, **NO_TRADES)
    assert got["sharpe"] == -math.inf
    assert got["sortino"] == pytest.approx(-math.sqrt(252.0))
    assert got["omega"] == 0.0
    assert got["max_drawdown_duration"] == 29.0


def test_equity_to_zero() -> None:
    eq = np.array([100.0, 60.0, 20.0, 0.0, 0.0, 0.0])
    got = check_case(eq, cash=100.0, **NO_TRADES)
    no_nan(got)
    assert got["total_return"] == -1.0
    assert got["cagr"] == -1.0
    assert got["max_drawdown"] == 1.0
    assert got["max_drawdown_duration"] == 5.0


def test_negative_equity() -> None:
    eq = np.array([100.0, 120.0, -30.0, -50.0, -10.0])
    got = check_case(eq, cash=100.0, **NO_TRADES)
    no_nan(got)
    assert got["cagr"] == -1.0
    assert got["max_drawdown"] == pytest.approx(170.0 / 120.0)  # can exceed 1
    assert got["calmar"] == pytest.approx(-1.0 / (170.0 / 120.0))


def test_negative_equity_long_series() -> None:
    """Ruin inside a series long enough for the sampled selection path."""
    rng = np.random.default_rng(5)
    eq = random_equity(rng, 10_000, 1_000.0)
    eq[4000:] -= eq[4000] + 10.0  # falls below zero and stays there, moving
    no_nan(check_case(eq, cash=1_000.0, **NO_TRADES))


def test_no_trades() -> None:
    got = check_case(np.linspace(100.0, 120.0, 50), cash=100.0, **NO_TRADES)
    assert all(got[k] == 0.0 for k in TRADE_METRICS)


def test_one_trade() -> None:
    kw = {"pnl": np.array([25.0]), "ret": np.array([0.05]), "bars": np.array([7.0])}
    got = check_case(np.linspace(100.0, 125.0, 20), cash=100.0, **kw)
    assert got["trades"] == 1.0
    assert got["sqn"] == 0.0  # std of one trade is undefined
    assert got["profit_factor"] == math.inf
    assert got["win_rate"] == 1.0
    assert got["best_trade"] == got["worst_trade"] == got["avg_win"] == 0.05
    assert got["avg_loss"] == 0.0
    assert got["return_on_risk"] == 0.05  # ret_on_risk defaults to ret here


def test_all_wins() -> None:
    pnl = np.array([10.0, 20.0, 5.0])
    got = check_case(
        np.linspace(100.0, 135.0, 30), cash=100.0, pnl=pnl, ret=pnl / 1e3,
        bars=np.array([1.0, 2.0, 3.0]),
    )  # fmt: skip
    assert got["profit_factor"] == math.inf
    assert got["win_rate"] == 1.0
    assert got["avg_loss"] == 0.0
    assert math.isfinite(got["sqn"])


def test_identical_wins_infinite_sqn() -> None:
    pnl = np.array([10.0, 10.0, 10.0])
    got = check_case(
        np.linspace(100.0, 130.0, 30), cash=100.0, pnl=pnl, ret=pnl / 1e3, bars=np.ones(3)
    )
    assert got["sqn"] == math.inf


def test_all_losses() -> None:
    pnl = np.array([-10.0, -20.0])
    got = check_case(
        np.linspace(100.0, 70.0, 30), cash=100.0, pnl=pnl, ret=pnl / 1e3, bars=np.ones(2)
    )
    assert got["profit_factor"] == 0.0
    assert got["win_rate"] == 0.0
    assert got["avg_win"] == 0.0
    assert got["avg_loss"] == pytest.approx(-0.015)


def test_break_even_trades() -> None:
    pnl = np.array([0.0, 0.0, 5.0])
    got = check_case(
        np.linspace(100.0, 105.0, 10), cash=100.0, pnl=pnl, ret=pnl / 1e3, bars=np.ones(3)
    )
    assert got["win_rate"] == pytest.approx(1 / 3)
    assert got["avg_loss"] == 0.0


def test_unknown_return_on_risk_is_skipped() -> None:
    pnl = np.array([10.0, -5.0, 2.0])
    got = check_case(
        np.linspace(100.0, 107.0, 10), cash=100.0, pnl=pnl, ret=pnl / 1e3, bars=np.ones(3),
        ror=np.array([0.5, np.nan, 0.1]),
    )  # fmt: skip
    assert got["return_on_risk"] == pytest.approx(0.3)
    all_nan = kernel_metrics(
        np.ones(3), cash=1.0, pnl=pnl, ret=pnl, bars=np.ones(3), ror=np.full(3, np.nan)
    )
    assert all_nan["return_on_risk"] == 0.0


def test_max_drawdown_duration_counts_bars_below_peak() -> None:
    eq = np.array([100.0, 110.0, 105.0, 104.0, 110.0, 109.0, 111.0, 90.0, 95.0])
    got = check_case(eq, cash=100.0, **NO_TRADES)
    assert got["max_drawdown_duration"] == 2.0  # bars 2-3 (bar 4 equals the peak)
    assert got["max_drawdown"] == pytest.approx(21.0 / 111.0)


def test_no_nan_on_odd_inputs() -> None:
    """Ruin, zero, jumps of 15 orders of magnitude and tiny equity never give NaN."""
    rng = np.random.default_rng(9)
    for _ in range(200):
        n = int(rng.integers(0, 40))
        eq = rng.choice([0.0, 1e-6, 1e-3, 1.0, 1e3, 1e9, -5.0], size=n) * rng.random(n)
        pnl, ret, bars, ror = random_trades(rng, int(rng.integers(0, 4)))
        got = kernel_metrics(eq, cash=1.0, pnl=pnl, ret=ret, bars=bars, ror=ror)
        want = reference_metrics(eq, cash=1.0, pnl=pnl, ret=ret, bars=bars, ror=ror)
        no_nan(got)
        assert got["var_95"] == want["var_95"]
        assert list(got) == list(METRIC_IDS)

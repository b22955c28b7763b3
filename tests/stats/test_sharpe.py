"""PSR, expected maximum Sharpe, DSR, MinTRL and MinBTL against printed and hand-worked values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from stratopt.metrics import compute_metrics
from stratopt.stats import (
    deflated_sharpe_ratio,
    expected_max_sharpe,
    minimum_backtest_length,
    minimum_track_record_length,
    probabilistic_sharpe_ratio,
    sample_moments,
)

# Bailey & López de Prado, "The Deflated Sharpe Ratio", Journal of Portfolio Management
# 40(5), 2014, section "A numerical example": daily returns (250 a year) over 5 years
# (T = 1250), best of N = 100 trials with annualized SR 2.5, variance of the trials'
# annualized Sharpe ratios 0.5, skewness -3, kurtosis 10 (raw). Printed: SR0 = 0.1132
# (non-annualized) and DSR = 0.9004; with N = 46 the DSR is 0.9505; with normal returns
# (skew 0, kurtosis 3) N = 88 trials give DSR 0.95.
DAYS = 250
SR_DAILY = 2.5 / math.sqrt(DAYS)
V_DAILY = 0.5 / DAYS


def test_dsr_paper_numerical_example() -> None:
    assert expected_max_sharpe(100, variance=V_DAILY) == pytest.approx(0.1132, abs=5e-5)
    dsr = deflated_sharpe_ratio(
        SR_DAILY, 1250, n_trials=100, trials_variance=V_DAILY, skew=-3, kurtosis=10
    )
    assert dsr == pytest.approx(0.9004, abs=5e-5)
    assert deflated_sharpe_ratio(
        SR_DAILY, 1250, n_trials=46, trials_variance=V_DAILY, skew=-3, kurtosis=10
    ) == pytest.approx(0.9505, abs=5e-5)
    assert deflated_sharpe_ratio(
        SR_DAILY, 1250, n_trials=88, trials_variance=V_DAILY
    ) == pytest.approx(0.95, abs=5e-4)


def test_dsr_is_psr_against_the_expected_maximum() -> None:
    sr0 = expected_max_sharpe(100, variance=V_DAILY)
    assert deflated_sharpe_ratio(
        SR_DAILY, 1250, n_trials=100, trials_variance=V_DAILY, skew=-3, kurtosis=10
    ) == probabilistic_sharpe_ratio(SR_DAILY, 1250, benchmark=sr0, skew=-3, kurtosis=10)


def test_expected_max_sharpe_pseudo_mathematics_figure() -> None:
    # Bailey, Borwein, López de Prado & Zhu, "Pseudo-Mathematics and Financial
    # Charlatanism", Notices of the AMS 61(5), 2014: E[max_N] ~ 1.57 for N = 10
    # (unit variance), below the bound sqrt(2 ln N).
    assert expected_max_sharpe(10) == pytest.approx(1.5746, abs=1e-4)
    for n in (2, 10, 100, 1000, 10**6):
        assert expected_max_sharpe(n) < math.sqrt(2 * math.log(n))
    assert expected_max_sharpe(1, mean=0.3) == 0.3
    assert expected_max_sharpe(50, variance=4.0, mean=1.0) == pytest.approx(
        1.0 + 2.0 * expected_max_sharpe(50)
    )


def test_expected_max_sharpe_matches_simulated_maxima() -> None:
    rng = np.random.default_rng(7)
    maxima = rng.standard_normal((20000, 100)).max(axis=1)
    # The approximation is within 2 % of the simulated mean of the maximum.
    assert expected_max_sharpe(100) == pytest.approx(maxima.mean(), rel=0.02)


def test_min_btl_paper_example() -> None:
    # Same paper: with 5 years of data, no more than 45 independent configurations
    # should be tried, or the best is expected to show an annualized SR of 1 by luck.
    assert minimum_backtest_length(45, target_sharpe=1.0) == pytest.approx(5.0, abs=0.01)
    assert minimum_backtest_length(46, target_sharpe=1.0) > 5.0
    # MinBTL < 2 ln N / SR^2 (the paper's upper bound) and scales as 1 / SR^2.
    for n in (10, 100, 1000):
        assert minimum_backtest_length(n, target_sharpe=1.5) < 2 * math.log(n) / 1.5**2
    assert minimum_backtest_length(100, target_sharpe=2.0) == pytest.approx(
        minimum_backtest_length(100, target_sharpe=1.0) / 4
    )
    assert minimum_backtest_length(1) == 0.0


def test_psr_hand_worked() -> None:
    # SR 0.1 per period, 101 observations, normal returns:
    # z = 0.1 * sqrt(100) / sqrt(1 - 0 + (3 - 1)/4 * 0.01) = 1 / sqrt(1.005) = 0.997509
    # Phi(0.997509) = 0.840741
    assert probabilistic_sharpe_ratio(0.1, 101) == pytest.approx(0.840741, abs=1e-6)
    # SR 0.2, n = 50, skew -1, kurtosis 6: factor 1 + 0.2 + 5/4 * 0.04 = 1.25,
    # z = 0.2 * 7 / sqrt(1.25) = 1.252198, Phi = 0.894751
    assert probabilistic_sharpe_ratio(0.2, 50, skew=-1, kurtosis=6) == pytest.approx(
        0.894751, abs=1e-6
    )
    # Against a benchmark equal to the Sharpe ratio: a coin flip.
    assert probabilistic_sharpe_ratio(0.3, 80, benchmark=0.3) == 0.5


def test_min_trl_hand_worked_and_inverse_of_psr() -> None:
    # 1 + 1.005 * (1.644854 / 0.1)^2 = 272.9071
    assert minimum_track_record_length(0.1) == pytest.approx(272.9071, abs=1e-4)
    for sr, skew, kurt in ((0.1, 0.0, 3.0), (0.05, -2.0, 12.0), (0.3, 0.5, 4.0)):
        n = minimum_track_record_length(sr, benchmark=0.02, skew=skew, kurtosis=kurt)
        # At exactly MinTRL observations PSR reaches the confidence (n - 1 in PSR).
        z = (sr - 0.02) * math.sqrt(n - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
        assert sps.norm.cdf(z) == pytest.approx(0.95, abs=1e-12)
    assert minimum_track_record_length(0.1, benchmark=0.1) == math.inf
    assert minimum_track_record_length(-0.1) == math.inf


def test_sample_moments_follow_the_metrics_conventions() -> None:
    rng = np.random.default_rng(3)
    r = rng.standard_t(5, 3000) * 0.01 + 0.0005
    m = sample_moments(r)
    assert m.sharpe == pytest.approx(r.mean() / r.std(ddof=1), rel=1e-12)
    assert m.skew == pytest.approx(sps.skew(r), rel=1e-9)
    assert m.kurtosis == pytest.approx(sps.kurtosis(r, fisher=False), rel=1e-9)
    # The metrics report excess kurtosis and the annualized Sharpe ratio.
    equity = 100.0 * np.cumprod(1 + r)
    metrics = compute_metrics(
        equity, cash=100.0, trades_net_pnl=[], trades_ret=[], trades_bars=[], periods_per_year=252
    )
    assert m.kurtosis - 3 == pytest.approx(metrics["kurtosis"], rel=1e-6)
    assert m.sharpe * math.sqrt(252) == pytest.approx(metrics["sharpe"], rel=1e-6)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: sample_moments(np.full(10, 0.01)), "zero variance"),
        (lambda: sample_moments(np.array([0.01])), "at least 2"),
        (lambda: sample_moments(np.array([0.01, np.nan])), "NaN"),
        (lambda: probabilistic_sharpe_ratio(0.1, 1), "n_obs"),
        (lambda: probabilistic_sharpe_ratio(0.1, 100, kurtosis=0.5), "raw"),
        (lambda: probabilistic_sharpe_ratio(math.inf, 100), "finite"),
        (lambda: expected_max_sharpe(0), "n_trials"),
        (lambda: expected_max_sharpe(5, variance=-1.0), "variance"),
        (lambda: minimum_track_record_length(0.1, confidence=1.0), "confidence"),
        (lambda: minimum_backtest_length(10, target_sharpe=0.0), "target_sharpe"),
    ],
)
def test_bad_input_is_a_clear_value_error(call: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()  # type: ignore[operator]


def test_noise_trials_best_is_not_significant_and_a_planted_edge_is() -> None:
    # Simulated ground truth: 200 trials of pure noise over 1000 periods; the best
    # has an impressive Sharpe ratio, but the DSR (N = 200, V of the trials' SRs)
    # does not call it significant. A column with a real drift among the same noise is.
    for seed in range(5):
        rng = np.random.default_rng(seed)
        r = rng.normal(0.0, 0.01, size=(1000, 200))
        srs = r.mean(axis=0) / r.std(axis=0, ddof=1)
        best = int(np.argmax(srs))
        m = sample_moments(r[:, best])
        assert probabilistic_sharpe_ratio(m.sharpe, 1000) > 0.95  # naive PSR is fooled
        dsr = deflated_sharpe_ratio(
            m.sharpe, 1000, n_trials=200, trials_variance=float(np.var(srs, ddof=1)),
            skew=m.skew, kurtosis=m.kurtosis,
        )  # fmt: skip
        assert dsr < 0.95
        r[:, 7] += 0.0025  # per-period SR ~0.25 (4 annualized on daily bars)
        srs = r.mean(axis=0) / r.std(axis=0, ddof=1)
        assert int(np.argmax(srs)) == 7
        m = sample_moments(r[:, 7])
        dsr = deflated_sharpe_ratio(
            m.sharpe, 1000, n_trials=200, trials_variance=float(np.var(srs, ddof=1)),
            skew=m.skew, kurtosis=m.kurtosis,
        )  # fmt: skip
        assert dsr > 0.95

"""PBO by CSCV: a hand-worked case, the CSCV arithmetic and simulated ground truth."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import rankdata

from stratopt.stats import probability_of_backtest_overfitting


def test_two_partitions_worked_by_hand() -> None:
    # S = 2 blocks of 2 rows, 2 strategies A and B.
    # block 0: A = [0.01, 0.03] (SR 0.02 / 0.014142 = 1.414214), B = [0.00, 0.02] (0.707107)
    # block 1: A = [-0.01, 0.01] (SR 0),                      B = [0.01, 0.03] (1.414214)
    # IS = block 0: A is best, out of sample it is last of 2: w = 1/3, logit ln(1/2).
    # IS = block 1: B is best, out of sample (block 0) it is last too: logit ln(1/2).
    r = np.array([[0.01, 0.00], [0.03, 0.02], [-0.01, 0.01], [0.01, 0.03]])
    res = probability_of_backtest_overfitting(r, partitions=2)
    assert res.pbo == 1.0
    assert res.logits == pytest.approx([math.log(0.5), math.log(0.5)])
    assert res.best_index.tolist() == [0, 1]
    assert res.is_sharpe == pytest.approx([math.sqrt(2), math.sqrt(2)])
    assert res.oos_sharpe == pytest.approx([0.0, math.sqrt(2) / 2])
    assert res.prob_oos_loss == 0.0  # an OOS Sharpe of exactly 0 is not a loss
    assert math.isnan(res.slope)  # the in-sample Sharpe ratios do not vary


def _brute_force(r: np.ndarray, s: int) -> np.ndarray:
    blocks = np.array_split(np.arange(r.shape[0]), s)
    logits = []
    for combo in itertools.combinations(range(s), s // 2):
        is_rows = np.concatenate([blocks[k] for k in combo])
        oos_rows = np.concatenate([blocks[k] for k in range(s) if k not in combo])
        sr_is = r[is_rows].mean(0) / r[is_rows].std(0, ddof=1)
        sr_oos = r[oos_rows].mean(0) / r[oos_rows].std(0, ddof=1)
        best = int(np.argmax(sr_is))
        w = rankdata(sr_oos)[best] / (r.shape[1] + 1)
        logits.append(math.log(w / (1 - w)))
    return np.array(logits)


def test_matches_a_direct_cscv_over_the_rows() -> None:
    rng = np.random.default_rng(11)
    r = rng.normal(0.0002, 0.01, size=(203, 9))  # 203 rows: uneven blocks
    res = probability_of_backtest_overfitting(r, partitions=6)
    assert len(res.logits) == math.comb(6, 3)
    assert res.logits == pytest.approx(_brute_force(r, 6), abs=1e-9)
    assert res.pbo == np.mean(_brute_force(r, 6) <= 0)


def test_flat_strategy_uses_the_zero_rule() -> None:
    rng = np.random.default_rng(2)
    r = rng.normal(0.0, 0.01, size=(64, 3))
    r[:, 1] = 0.0  # a candidate that never traded: Sharpe 0 everywhere, never NaN
    res = probability_of_backtest_overfitting(r, partitions=4)
    assert np.isfinite(res.logits).all()


def test_pure_noise_gives_pbo_near_one_half() -> None:
    # Simulated ground truth: with no skill anywhere, the in-sample winner's
    # out-of-sample rank is uniform, so PBO is 0.5 on average. One draw varies a lot
    # (all combinations share the same data), so the mean over 10 seeded draws is
    # checked, and each draw is a probability with a negative degradation slope.
    values = []
    for seed in range(10):
        r = np.random.default_rng(seed).normal(0.0, 0.01, size=(640, 50))
        res = probability_of_backtest_overfitting(r)
        assert len(res.logits) == 12870  # C(16, 8)
        values.append(res.pbo)
    assert 0.35 < float(np.mean(values)) < 0.65


def test_planted_edge_gives_low_pbo() -> None:
    for seed in range(3):
        r = np.random.default_rng(seed).normal(0.0, 0.01, size=(1000, 100))
        r[:, 42] += 0.002  # one strategy with a real edge (per-period SR ~0.2)
        res = probability_of_backtest_overfitting(r)
        assert res.pbo < 0.05
        assert res.prob_oos_loss < 0.05
        assert (res.best_index == 42).mean() > 0.9


@pytest.mark.parametrize(
    ("shape", "partitions", "match"),
    [((100, 1), 16, "N >= 2"), ((20, 5), 16, "too few"), ((100, 5), 5, "even")],
)
def test_bad_input(shape: tuple[int, int], partitions: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        probability_of_backtest_overfitting(np.ones(shape), partitions=partitions)
    bad = np.zeros((100, 3))
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        probability_of_backtest_overfitting(bad)


def test_the_same_bits_whatever_the_chunk_of_combinations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The combinations are worked on in chunks; every chunk size gives the same arrays.
    import stratopt.stats._pbo as pbo_module

    rng = np.random.default_rng(5)
    r = rng.normal(0.0001, 0.01, size=(211, 13))
    r[:, 3] = 0.0  # flat
    r[:, 7] = r[:, 5]  # ties
    whole = probability_of_backtest_overfitting(r, partitions=8)  # one chunk: 70 x 13
    for entries in (13, 50, 13 * 7, 13 * 69):
        monkeypatch.setattr(pbo_module, "_CHUNK_ENTRIES", entries)
        part = probability_of_backtest_overfitting(r, partitions=8)
        for name in ("logits", "is_sharpe", "oos_sharpe", "best_index"):
            assert np.array_equal(getattr(part, name), getattr(whole, name)), (entries, name)
        assert part.summary() == whole.summary()

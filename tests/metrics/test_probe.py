"""The long series' finish (`metrics_finish_long_nb`): `metrics_finish_nb`'s bits, its
order statistics found from a probe of the array (`order_values_nb`)."""

from __future__ import annotations

import numpy as np
import pytest

from stratopt.metrics._nb import N_METRICS, N_TRADE_STATS, _order_stats_nb, metrics_finish_nb
from stratopt.metrics._probe_nb import metrics_finish_long_nb, order_values_nb

from .test_quantiles import FirstPass, awkward_arrays


def _ranks(n: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Ranks as the tails ask for them, pairs near 5 % and 95 % (or one pair and two
    anywhere, with ``rng``)."""
    k1, k2 = int(n * 0.05), int(n * 0.95)
    more = [k2, k2 + 1] if rng is None else rng.integers(0, n, 2).tolist()
    return np.array([k1, k1 + 1, *more], dtype=np.int64)


@pytest.mark.parametrize("n", [4096, 16_384, 30_001])
def test_order_values_are_the_order_stats(n: int) -> None:
    """`order_values_nb` finds `_order_stats_nb`'s values (any array, ties, zeros, any
    ranks) without touching the array, or says it did not (False); it finds the tails'
    ranks of spread-out values."""
    rng = np.random.default_rng(n)
    drift = rng.standard_normal(n) * np.exp(np.linspace(0, 3, n))
    arrays = [*awkward_arrays(rng, n), drift]
    for i, x in enumerate(map(np.ascontiguousarray, arrays)):
        for tails, want in ((True, _ranks(n)), (False, _ranks(n, rng))):
            ref, got = np.empty(4), np.empty(4)
            _order_stats_nb(x.copy(), n, want, ref, np.int64(4))
            before = x.copy()
            ok = order_values_nb(x, n, want, got, np.int64(4))
            np.testing.assert_array_equal(x, before)
            if ok:
                np.testing.assert_array_equal(got, ref)
            # spread out: random, sorted, reversed, organ pipe, the drift
            assert ok or not (tails and i in (0, 4, 5, 6, 7)), i


def _finishes(equity: np.ndarray, cash: float) -> None:
    """Both finishes on copies of one first pass: the same result, metrics and
    accumulator, bit for bit."""
    fp = FirstPass(equity, cash)
    ts = np.zeros(N_TRADE_STATS)
    got = []
    for finish in (metrics_finish_nb, metrics_finish_long_nb):
        acc, out = fp.acc.copy(), np.full(N_METRICS, np.nan)
        found = finish(
            fp.n, fp.final, cash, 0, ts, 252.0, acc, fp.sample.copy(), fp.stored_all.copy(), out
        )
        got.append((bool(found), acc.view(np.int64), out.view(np.int64)))
    assert got[0][0] == got[1][0]
    np.testing.assert_array_equal(got[0][1], got[1][1])
    np.testing.assert_array_equal(got[0][2], got[1][2])


def _returns(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "walk":
        return rng.normal(0.0, 1e-3, n)
    if kind == "fat":
        return rng.standard_t(3, n) * 1e-3
    if kind == "zeros":
        r = rng.normal(0.0, 1e-3, n)
        r[rng.random(n) < 0.6] = 0.0
        return r
    if kind == "ties":  # equity doubling, halving or flat: returns 1, -0.5 or 0
        steps = rng.choice([-1, 0, 0, 1], n)
        steps -= (np.cumsum(steps) > 900) | (np.cumsum(steps) < -900)
        return 2.0 ** steps.astype(float) - 1.0
    if kind == "cluster":  # the 5 % quantile inside nearly equal returns
        r = 1e-3 * (1.0 + 1e-9 * rng.standard_normal(n))
        i = rng.permutation(n)
        r[i[: n // 100]] = -0.5
        r[i[n // 100 : n // 50]] = 1.0
        return r
    if kind == "decay":  # the benchmark's grid: fees on every reversal
        r = rng.normal(-2e-5, 5e-4, n)
        r[rng.random(n) < 0.05] -= 2e-3
        return r
    assert kind == "calm_end"  # the tails moved inside the band
    r = rng.normal(0.0, 1e-4, n)
    r[: n // 4] *= 30.0
    return r


@pytest.mark.parametrize("n", [2_000, 70_000, 300_000])
@pytest.mark.parametrize("kind", ["walk", "fat", "zeros", "ties", "cluster", "decay", "calm_end"])
def test_long_finish_is_the_finish(kind: str, n: int) -> None:
    """`metrics_finish_long_nb` gives `metrics_finish_nb`'s bits, also where CVaR's sum
    in the array's order is not sure to be the selection's (a dense cluster)."""
    rng = np.random.default_rng(n + len(kind))
    r = _returns(kind, n, rng)
    _finishes(np.cumprod(1.0 + r), 1.0)


@pytest.mark.parametrize("kind", ["nan", "signed_zeros", "infinities"])
def test_order_values_give_the_order_stats_bits_or_say_they_did_not(kind: str) -> None:
    """With NaNs in the array (which no count holds) or -0.0 and 0.0 among the values
    (equal to a comparison), only the whole array's selection gives `_order_stats_nb`'s
    bits: `order_values_nb` then says it did not find them."""
    rng = np.random.default_rng(1)
    for _ in range(60):
        n = int(rng.integers(4096, 40_000))
        x = rng.standard_normal(n) * 1e-3
        if kind == "nan":
            x[rng.random(n) < 0.02] = np.nan
            want = _ranks(n)
        elif kind == "signed_zeros":
            zero = rng.random(n) < 0.5
            x[zero] = np.where(rng.random(int(zero.sum())) < 0.5, 0.0, -0.0)
            want = np.sort(rng.integers(0, n, 4)).astype(np.int64)
        else:
            x[rng.random(n) < 0.01] = rng.choice([np.inf, -np.inf])
            want = _ranks(n)
        ref, got = np.empty(4), np.empty(4)
        _order_stats_nb(x.copy(), n, want, ref, np.int64(4))
        if order_values_nb(x, n, want, got, np.int64(4)):
            np.testing.assert_array_equal(got.view(np.int64), ref.view(np.int64))

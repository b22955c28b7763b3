"""Quantiles by selection against `np.quantile` (method 'linear'): bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from stratopt.metrics._nb import (
    _A_BAND_HI,
    _A_BAND_LO,
    _A_STORED,
    _A_ZEROS,
    _CHUNK,
    _SEGMENT,
    M_CVAR_95,
    M_TAIL_RATIO,
    M_VAR_95,
    N_ACC,
    N_BR,
    N_KEPT,
    N_METRICS,
    N_TRADE_STATS,
    _certain_sum_nb,
    _heapsort_nb,
    _sample_bar,
    _sample_size,
    _select_nb,
    _tail_from_returns_nb,
    metrics_begin_nb,
    metrics_chunk_nb,
    metrics_finish_nb,
    quantile_nb,
    tail_brackets_nb,
    tail_by_value_nb,
    tail_split_nb,
    trade_stats_init_nb,
)

from .helpers import kernel_metrics
from .reference import bar_returns

LEVELS = [0.0, 0.05, 0.3, 0.5, 0.95, 1.0]
NO_TRADES = {"pnl": np.empty(0), "ret": np.empty(0), "bars": np.empty(0)}
TAIL = [M_VAR_95, M_CVAR_95, M_TAIL_RATIO]


def awkward_arrays(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """Random, many exact zeros, heavy ties, constant, sorted, reversed, organ pipe."""
    x = rng.standard_normal(n)
    zeros = x.copy()
    zeros[rng.random(n) < rng.uniform(0.3, 0.99)] = 0.0
    ties = rng.integers(-3, 4, n).astype(np.float64) * 0.25
    organ = np.concatenate((np.arange(n // 2), np.arange(n - n // 2)[::-1])).astype(float)
    return [x, zeros, ties, np.full(n, 1.5), np.sort(x), np.sort(x)[::-1], organ]


@pytest.mark.parametrize("n", [*range(1, 40), 100, 1000, 4097, 30_000])
def test_quantile_nb_equals_numpy(n: int) -> None:
    rng = np.random.default_rng(n)
    for x in awkward_arrays(rng, n):
        for q in LEVELS:
            assert quantile_nb(x.copy(), q) == np.quantile(x, q), (n, q)


TIES = st.sampled_from([-2.0, -0.5, 0.0, 0.0, 1e-9, 3.0])


@given(arrays(np.float64, st.integers(1, 300), elements=TIES), st.floats(0.0, 1.0))
@settings(max_examples=150, deadline=None)
def test_quantile_nb_property(x: np.ndarray, q: float) -> None:
    assert quantile_nb(x.copy(), q) == np.quantile(x, q)


@pytest.mark.parametrize("n", [1, 2, 17, 18, 500, 20_000])
def test_select_partitions_around_k(n: int) -> None:
    rng = np.random.default_rng(n + 1)
    for x in awkward_arrays(rng, n):
        for k in {0, n // 20, n // 2, n - 1}:
            a = x.copy()
            v = _select_nb(a, 0, n, k)
            assert v == np.sort(x)[k]
            assert a[k] == v
            assert (a[:k] <= v).all() and (a[k + 1 :] >= v).all()
            assert sorted(a) == sorted(x)


def test_select_subrange_leaves_the_rest() -> None:
    x = np.random.default_rng(2).standard_normal(100)
    a = x.copy()
    assert _select_nb(a, 10, 60, 30) == np.sort(x[10:60])[20]
    np.testing.assert_array_equal(a[:10], x[:10])
    np.testing.assert_array_equal(a[60:], x[60:])


@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 257])
def test_heapsort(n: int) -> None:
    x = np.random.default_rng(n).integers(-5, 5, n).astype(np.float64)
    a = np.concatenate(([99.0], x, [-99.0]))
    _heapsort_nb(a, 1, n + 1)
    np.testing.assert_array_equal(a[1:-1], np.sort(x))
    assert a[0] == 99.0 and a[-1] == -99.0


def _tail(equity: np.ndarray, cash: float) -> tuple[float, float, float]:
    m = kernel_metrics(equity, cash=cash, **NO_TRADES)
    return m["var_95"], m["cvar_95"], m["tail_ratio"]


def _tail_numpy(equity: np.ndarray, cash: float) -> tuple[float, float, float]:
    r = bar_returns(equity, cash)
    q05, q95 = np.quantile(r, 0.05), np.quantile(r, 0.95)
    tail = abs(q95) / abs(q05) if q05 != 0 else (np.inf if q95 != 0 else 0.0)
    return float(q05), float(r[r <= q05].mean()), float(tail)


def _assert_tail(equity: np.ndarray, cash: float = 100.0) -> None:
    got = _tail(equity, cash)
    want = _tail_numpy(equity, cash)
    assert got[0] == want[0]
    assert got[1] == pytest.approx(want[1], rel=1e-12, abs=1e-300)
    assert got[2] == want[2]


@pytest.mark.parametrize("n", [2047, 2048, 5_000, 40_000, 200_000])
@pytest.mark.parametrize("zero_share", [0.0, 0.5, 0.9, 0.97, 1.0])
def test_tail_metrics_with_zeros(n: int, zero_share: float) -> None:
    """Flat spells give exact zero returns; with enough of them a quantile is 0."""
    rng = np.random.default_rng(n + int(100 * zero_share))
    r = rng.standard_t(3, n) * 1e-3
    r[rng.random(n) < zero_share] = 0.0
    _assert_tail(100.0 * np.cumprod(1.0 + r))


@pytest.mark.parametrize("n", [3_000, 50_000])
def test_tail_metrics_with_exact_ties(n: int) -> None:
    """Equity doubling, halving or flat: returns are exactly 1, -0.5 or 0."""
    rng = np.random.default_rng(n)
    steps = rng.choice([-1, 0, 0, 1], n)
    steps -= (np.cumsum(steps) > 900) | (np.cumsum(steps) < -900)  # stay finite
    _assert_tail(100.0 * 2.0 ** np.cumsum(steps).astype(float))


@pytest.mark.parametrize("n", [3_000, 50_000])
def test_tail_metrics_one_sided(n: int) -> None:
    """Only gains (both quantiles positive) and only losses (both negative)."""
    rng = np.random.default_rng(n)
    _assert_tail(100.0 * np.cumprod(1.0 + rng.uniform(1e-4, 1e-2, n)))
    _assert_tail(100.0 * np.cumprod(1.0 - rng.uniform(1e-6, 1e-4, n)))


def _sample_positions(n: int) -> np.ndarray:
    """The bars whose returns place the brackets (same float operations as the kernel)."""
    s = _sample_size(n)
    return np.array([_sample_bar(i, n, s) for i in range(s)])


class FirstPass:
    """`metrics_chunk_nb` over a curve cut into chunks of ``chunk`` bars."""

    def __init__(self, equity: np.ndarray, cash: float, chunk: int = _CHUNK) -> None:
        n = equity.shape[0]
        self.n, self.cash = n, cash
        self.acc = np.empty(N_ACC)
        self.sample = np.full(_sample_size(n), np.nan)
        self.stored_all = np.full(n, np.nan)
        metrics_begin_nb(cash, self.acc)
        rbuf = np.empty(chunk)
        prev = cash
        for j0 in range(0, n, chunk):
            j1 = min(n, j0 + chunk)
            cur = equity[j0:j1]
            metrics_chunk_nb(cur, prev, j0, n, rbuf, self.sample, self.stored_all, self.acc)
            prev = float(equity[j1 - 1])
        self.final = prev

    @property
    def stored(self) -> np.ndarray:
        return self.stored_all[: int(self.acc[_A_STORED])]

    @property
    def band(self) -> tuple[float, float]:
        return float(self.acc[_A_BAND_LO]), float(self.acc[_A_BAND_HI])

    def finish(self) -> bool:
        """`metrics_finish_nb` on copies; whether the tails were among the stored returns."""
        ts = np.empty(N_TRADE_STATS)
        trade_stats_init_nb(ts)
        out = np.empty(N_METRICS)
        return bool(
            metrics_finish_nb(
                self.n, self.final, self.cash, 0, ts, 252.0, self.acc.copy(),
                self.sample.copy(), self.stored_all.copy(), out,
            )
        )  # fmt: skip


def _assert_holds_the_tails(fp: FirstPass, r: np.ndarray) -> None:
    """Stored: nonzero returns in bar order, among them every one at or beyond the band."""
    lo, hi = fp.band
    got = fp.stored
    nonzero = r[r != 0.0]
    j = 0  # a subsequence of the nonzero returns, in bar order
    for v in got.tolist():
        while nonzero[j] != v:
            j += 1
        j += 1
    np.testing.assert_array_equal(got[got <= lo], nonzero[nonzero <= lo])
    np.testing.assert_array_equal(got[got >= hi], nonzero[nonzero >= hi])
    assert fp.acc[_A_ZEROS] == np.count_nonzero(r == 0.0)


def test_first_pass_is_the_same_however_cut() -> None:
    """The sample is the returns of the sampled bars in bar order, the stored returns
    hold the tails, and chunks of any multiple of the segment give the same bits."""
    n = 50_000
    rng = np.random.default_rng(5)
    r = rng.normal(0.0, 1e-3, n)
    equity = 100.0 * np.cumprod(1.0 + r)
    fp = FirstPass(equity, 100.0)
    r = bar_returns(equity, 100.0)
    pos = _sample_positions(n)
    assert np.all(np.diff(pos) > 0)
    np.testing.assert_array_equal(fp.sample, r[pos])
    _assert_holds_the_tails(fp, r)
    lo, hi = fp.band
    assert np.quantile(r, 0.05) < lo < 0.0 < hi < np.quantile(r, 0.95)
    assert 0.2 * n < len(fp.stored) < 0.5 * n  # the band keeps about a third
    for chunk in (_SEGMENT, 4096, _SEGMENT * 13):
        other = FirstPass(equity, 100.0, chunk)
        np.testing.assert_array_equal(other.acc, fp.acc)
        np.testing.assert_array_equal(other.sample, fp.sample)
        np.testing.assert_array_equal(other.stored, fp.stored)
    assert fp.finish()


@pytest.mark.parametrize("zero_share", [0.0, 0.5, 0.97])
def test_stored_returns_hold_the_tails(zero_share: float) -> None:
    """With flat spells the band can end at 0 (zeros are counted, not stored)."""
    n = 40_000
    rng = np.random.default_rng(1)
    r = rng.normal(0.0, 1e-3, n)
    r[rng.random(n) < zero_share] = 0.0
    equity = 100.0 * np.cumprod(1.0 + r)
    fp = FirstPass(equity, 100.0)
    _assert_holds_the_tails(fp, bar_returns(equity, 100.0))
    assert fp.finish()
    _assert_tail(equity)


def test_fallback_when_the_sample_misleads() -> None:
    """Returns at exactly the sampled bars are outliers: the band and brackets are
    misplaced, the kernel notices from its exact counts and selects among all returns
    instead."""
    n = 40_000
    rng = np.random.default_rng(0)
    r = rng.normal(0.0, 1e-3, n)
    r[_sample_positions(n)] = 0.3
    equity = 100.0 * np.cumprod(1.0 + r)
    assert not FirstPass(equity, 100.0).finish()  # white box: the stored tails fall short
    _assert_tail(equity)


@pytest.mark.parametrize("n", [20_000, 300_000])
def test_fallback_when_the_tails_move_inside_the_band(n: int) -> None:
    """Wild first quarter, calm rest: the band placed early holds the later 5 %
    quantile, so it is not among the stored returns; the answer is still exact."""
    rng = np.random.default_rng(n)
    r = rng.normal(0.0, 1e-4, n)
    r[: n // 4] *= 30.0
    equity = 100.0 * np.cumprod(1.0 + r)
    assert not FirstPass(equity, 100.0).finish()
    _assert_tail(equity)


def test_cvar_of_a_dense_cluster_is_accurate() -> None:
    """The 5 % quantile falls inside 294,000 nearly equal returns of about 1e-3: CVaR
    adds them all, and a plain running sum drifted by 6e-12 relative."""
    n = 300_000
    rng = np.random.default_rng(0)
    r = np.full(n, 1e-3)
    i = rng.permutation(n)
    r[i[:3000]] = -0.5
    r[i[3000:6000]] = 1.0
    _assert_tail(np.cumprod(1.0 + r), cash=1.0)


def _by_value(equity: np.ndarray, cash: float) -> tuple[bool, np.ndarray, np.ndarray]:
    """`tail_by_value_nb` after a first pass and its finish, against the all-returns
    selection (`_tail_from_returns_nb`): (sure, its tails, the selection's tails)."""
    n = equity.shape[0]
    fp = FirstPass(equity, cash)
    acc = fp.acc.copy()
    ts = np.zeros(N_TRADE_STATS)
    metrics_finish_nb(
        n, fp.final, cash, 0, ts, 252.0, acc, fp.sample.copy(), np.empty(n), np.empty(N_METRICS)
    )
    br = np.empty(N_BR)
    tail_brackets_nb(acc, br)
    r = bar_returns(equity, cash)
    dest, kept = np.empty(n), np.zeros(N_KEPT, dtype=np.int64)
    for j0 in range(0, n, 1000):  # in chunks, as the engine feeds it
        tail_split_nb(r[j0 : j0 + 1000], min(1000, n - j0), br, dest, kept)
    got, want = np.full(N_METRICS, np.nan), np.full(N_METRICS, np.nan)
    sure = tail_by_value_nb(dest, kept, n, br, got)
    _tail_from_returns_nb(r.copy(), want)
    return bool(sure), got[TAIL], want[TAIL]


@pytest.mark.parametrize("seed", range(8))
def test_tails_by_value_are_the_selections(seed: int) -> None:
    """The tails from the returns' values (the engine's fallback) are bit for bit those
    of the selection among all the returns in order, whatever the share of zeros."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3_000, 60_000))
    r = rng.normal(0.0, 1e-3, n) * np.where(rng.random(n) < 0.3, 5.0, 1.0)
    r[: int(n * rng.uniform(0.0, 0.9))] *= float(rng.choice([1.0, 0.0]))  # a flat start
    r[rng.random(n) < rng.uniform(0.0, 0.97)] = 0.0
    r[: n // 4] *= 10.0
    sure, got, want = _by_value(100.0 * np.cumprod(1.0 + r), 100.0)
    assert sure
    np.testing.assert_array_equal(got, want)


def test_a_sum_on_a_rounding_tie_is_not_sure() -> None:
    """1 + 2**-53 lies half-way between two floats: one order of Neumaier's sum gives
    1.0, another could round up; the by-value tails then defer to the selection."""
    assert not _certain_sum_nb(1.0, 2.0**-53, 1.0 + 2.0**-53, np.int64(2))[0]
    assert _certain_sum_nb(1.0, 2.0**-54, 1.0, np.int64(2)) == (True, 1.0)
    assert _certain_sum_nb(0.0, 0.0, 0.0, np.int64(0)) == (True, 0.0)

"""Quantiles by selection against `np.quantile` (method 'linear'): bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from stratopt.metrics._nb import (
    _A_BELOW,
    _B_HI1,
    _B_HI2,
    _B_LO1,
    _B_LO2,
    _CHUNK,
    _N_BR,
    _N_CNT,
    N_ACC,
    _brackets_nb,
    _heapsort_nb,
    _quantile_ranks,
    _sample_bar,
    _sample_size,
    _select_nb,
    _sums_pass_nb,
    _tail_nb,
    metrics_begin_nb,
    metrics_chunk_nb,
    quantile_nb,
)

from .helpers import kernel_metrics
from .reference import bar_returns

LEVELS = [0.0, 0.05, 0.3, 0.5, 0.95, 1.0]
NO_TRADES = {"pnl": np.empty(0), "ret": np.empty(0), "bars": np.empty(0)}


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


def _first_pass(equity: np.ndarray, cash: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`metrics_chunk_nb` over the curve as `compute_metrics_nb` cuts it:
    (returns, scratch holding the sample, acc)."""
    n = equity.shape[0]
    returns = np.empty(n)
    scratch = np.full(n, np.nan)
    acc = np.empty(N_ACC)
    metrics_begin_nb(cash, acc)
    prev = cash
    for j0 in range(0, n, _CHUNK):
        j1 = min(n, j0 + _CHUNK)
        metrics_chunk_nb(equity[j0:j1], prev, j0, n, returns[j0:j1], scratch, acc)
        prev = float(equity[j1 - 1])
    return returns, scratch, acc


def test_sample_gathered_chunk_by_chunk() -> None:
    """The first pass stores exactly the returns of the sampled bars, in order, however
    the chunks fall (odd chunk sizes, a multiple of 64, as the engine may use)."""
    n = 50_000
    rng = np.random.default_rng(5)
    equity = 100.0 * np.cumprod(1.0 + rng.normal(0.0, 1e-3, n))
    returns, scratch, acc = _first_pass(equity, 100.0)
    np.testing.assert_array_equal(returns, bar_returns(equity, 100.0))
    pos = _sample_positions(n)
    assert np.all(np.diff(pos) > 0)
    np.testing.assert_array_equal(scratch[: len(pos)], returns[pos])
    for chunk in (64, 4096, 64 * 1001):
        acc2 = np.empty(N_ACC)
        metrics_begin_nb(100.0, acc2)
        scratch2 = np.full(n, np.nan)
        ret2 = np.empty(n)
        prev = 100.0
        for j0 in range(0, n, chunk):
            j1 = min(n, j0 + chunk)
            metrics_chunk_nb(equity[j0:j1], prev, j0, n, ret2[j0:j1], scratch2, acc2)
            prev = float(equity[j1 - 1])
        np.testing.assert_array_equal(ret2, returns)
        np.testing.assert_array_equal(scratch2[: len(pos)], scratch[: len(pos)])
        np.testing.assert_array_equal(acc2, acc)  # drawdown state: same bits


def test_fallback_when_the_sample_misleads() -> None:
    """Returns at exactly the sampled bars are outliers: the brackets miss, the kernel
    notices from its exact counts and selects among all returns instead."""
    n = 40_000
    rng = np.random.default_rng(0)
    r = rng.normal(0.0, 1e-3, n)
    r[_sample_positions(n)] = 0.3
    equity = 100.0 * np.cumprod(1.0 + r)
    # white box: the sampled brackets really miss
    returns, scratch, acc = _first_pass(equity, 100.0)
    br = np.empty(_N_BR)
    k_lo = _quantile_ranks(n, 0.05)[0]
    k_hi = _quantile_ranks(n, 0.95)[0]
    _brackets_nb(n, k_lo, k_hi, scratch, br)
    cnt = np.empty(_N_CNT, dtype=np.int64)
    m = _sums_pass_nb(returns, 0.0, br, scratch, acc, cnt)
    assert not _tail_nb(scratch, m, n, br, cnt, acc[_A_BELOW])[0]
    _assert_tail(equity)


@pytest.mark.parametrize("zero_share", [0.0, 0.5, 0.97])
def test_candidates_are_the_nonzero_returns_in_the_brackets(zero_share: float) -> None:
    """The flagged, compacted candidates are exactly the nonzero returns inside either
    bracket, in bar order (brackets that exclude 0 and, with many zeros, include it)."""
    n = 40_000
    rng = np.random.default_rng(1)
    r = rng.normal(0.0, 1e-3, n)
    r[rng.random(n) < zero_share] = 0.0
    equity = 100.0 * np.cumprod(1.0 + r)
    returns, scratch, acc = _first_pass(equity, 100.0)
    br = np.empty(_N_BR)
    k_lo = _quantile_ranks(n, 0.05)[0]
    k_hi = _quantile_ranks(n, 0.95)[0]
    _brackets_nb(n, k_lo, k_hi, scratch, br)
    zero_inside = any(br[lo] <= 0.0 <= br[hi] for lo, hi in ((_B_LO1, _B_HI1), (_B_LO2, _B_HI2)))
    assert zero_inside == (zero_share > 0.9)
    cnt = np.empty(_N_CNT, dtype=np.int64)
    m = _sums_pass_nb(returns, 0.0, br, scratch, acc, cnt)
    inside = ((returns >= br[_B_LO1]) & (returns <= br[_B_HI1])) | (
        (returns >= br[_B_LO2]) & (returns <= br[_B_HI2])
    )
    want = returns[inside & (returns != 0.0)]
    assert m < n // 10
    np.testing.assert_array_equal(scratch[:m], want)
    _assert_tail(equity)

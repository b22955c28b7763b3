from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from stratopt.data import Bars
from stratopt.strategies import (
    Indicator,
    IndicatorCache,
    bollinger,
    ema,
    highest,
    lowest,
    macd,
    rsi,
    sma,
)
from stratopt.strategies import _indicators_nb as nb


@pytest.fixture(scope="module")
def series() -> np.ndarray:
    rng = np.random.default_rng(3)
    return 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 3000)))


@pytest.mark.parametrize("window", [1, 2, 5, 20, 200])
def test_sma_matches_pandas(series: np.ndarray, window: int) -> None:
    expected = pd.Series(series).rolling(window).mean().to_numpy()
    np.testing.assert_allclose(nb.sma_nb(series, window), expected, rtol=1e-12, equal_nan=True)


def test_sma_of_decimal_prices_is_exact_on_ties() -> None:
    assert nb.sma_nb(np.array([0.1, 0.2, 0.3]), 1)[1] == 0.2
    closes = np.array([1.64, 1.27, 1.04, 1.02, 1.02, 1.91, 1.95])
    diff = nb.sma_nb(closes, 1) - nb.sma_nb(closes, 2)
    assert diff[4] == 0.0


def test_sma_keeps_precision_over_a_long_series() -> None:
    rng = np.random.default_rng(0)
    x = 1e4 + rng.normal(0, 1, 1_000_000)
    got = nb.sma_nb(x, 50)
    for i in (49, 500_000, 999_999):
        assert got[i] == pytest.approx(x[i - 49 : i + 1].mean(), rel=1e-14)


@pytest.mark.parametrize("kernel", ["sma_rows_nb", "sma_rows_long_nb"])
@pytest.mark.parametrize("seed", range(6))
def test_sma_rows_are_sma_nb_bit_for_bit(seed: int, kernel: str) -> None:
    """The four-lane kernel, and the long series' eight-lane one, give each row exactly
    `sma_nb`'s bits, whatever the number of windows (1-19: whole fours or eights, a
    rest of five to eight or of one to four), their lengths (longer than the series
    too), a NaN lead-in and the rows they go to; rows not asked for are left alone."""
    rng = np.random.default_rng(seed)
    for n in (1, 3, 60, 2000):
        x = 100.0 + np.cumsum(rng.normal(0.0, 1.0, n))
        if rng.random() < 0.5:
            x[: int(rng.integers(0, n + 1))] = np.nan
        k = int(rng.integers(1, 20))
        windows = rng.integers(1, 300, k).astype(np.int64)
        rows = rng.choice(21, k, replace=False).astype(np.int64)
        out = np.full((21, n), 7.0)
        getattr(nb, kernel)(x, windows, out, rows)
        for q in range(k):
            want = nb.sma_nb(x, int(windows[q]))
            assert np.array_equal(out[rows[q]], want, equal_nan=True), (n, windows[q])
        untouched = np.setdiff1d(np.arange(21), rows)
        assert (out[untouched] == 7.0).all()


def test_get_gives_sma_nb_s_bits_with_the_kernel_fill_rows_uses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`get` computes a moving average with `sma_rows_nb`, the kernel `fill_rows`
    compiles anyway (a cold start then compiles one moving-average kernel, not two):
    `sma_nb`'s bits, on prices and on a series with a NaN lead-in (an average of an
    average), for windows longer than the series too."""
    rng = np.random.default_rng(8)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, 500)))
    windows = (1, 2, 30, 499, 500, 900)
    inner = nb.sma_nb(close, 30)
    want = {w: (nb.sma_nb(close, w), nb.sma_nb(inner, w)) for w in windows}
    calls: list[int] = []
    rows = nb.sma_rows_nb

    def recorded(x: np.ndarray, ws: np.ndarray, out: np.ndarray, at: np.ndarray) -> None:
        calls.append(int(ws[0]))
        rows(x, ws, out, at)

    monkeypatch.setattr(nb, "sma_rows_nb", recorded)
    cache = IndicatorCache(_bars(close))
    for w in windows:
        assert np.array_equal(cache.get(sma("close", w)), want[w][0], equal_nan=True), w
        got = cache.get(sma(sma("close", 30), w))
        assert np.array_equal(got, want[w][1], equal_nan=True), w
    assert set(calls) == set(windows)


@pytest.mark.parametrize("threads", [1, 2])
def test_fill_rows_batches_moving_averages_like_get(threads: int) -> None:
    """The rows are `get`'s bits on any number of threads; on one thread they are
    also kept in the cache (a later `get` computes nothing)."""
    rng = np.random.default_rng(5)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, 3000)))
    bars = _bars(close)
    keys = [sma("close", w) for w in (3, 20, 7, 250, 41, 9)] + [ema("close", 12)]
    out = np.zeros((len(keys) + 2, len(close)))
    rows = [7, 0, 5, 1, 4, 2, 3]
    cache = IndicatorCache(bars)
    cache.fill_rows(keys, out, threads=threads, rows=rows)
    assert cache.computed == len(keys)
    fresh = IndicatorCache(bars)
    for key, row in zip(keys, rows, strict=True):
        assert np.array_equal(out[row], fresh.get(key), equal_nan=True), key
    assert (out[6] == 0.0).all()
    if threads == 1:
        for key, row in zip(keys, rows, strict=True):
            assert np.array_equal(cache.get(key), out[row], equal_nan=True), key
        assert cache.computed == len(keys)


@pytest.fixture
def long_jobs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The window counts of each `sma_rows_long_nb` call, in order (the kernel still runs)."""
    jobs: list[int] = []
    long_rows = nb.sma_rows_long_nb

    def recorded(x: np.ndarray, ws: np.ndarray, out: np.ndarray, at: np.ndarray) -> None:
        jobs.append(len(ws))
        long_rows(x, ws, out, at)

    monkeypatch.setattr(nb, "sma_rows_long_nb", recorded)
    return jobs


def _long_close(seed: int) -> np.ndarray:
    """65,536 bars: the shortest series that takes the eight-lane kernel."""
    rng = np.random.default_rng(seed)
    return 100.0 * np.exp(np.cumsum(rng.normal(0.0, 1e-3, 1 << 16)))


def _assert_rows_are_gets(close: np.ndarray, keys: list[Indicator], out: np.ndarray) -> None:
    fresh = IndicatorCache(_bars(close))
    for row, key in enumerate(keys):
        assert np.array_equal(out[row], fresh.get(key), equal_nan=True), key


def test_fill_rows_on_a_long_series_takes_eight_windows_a_job(long_jobs: list[int]) -> None:
    """From 65,536 bars the moving averages go eight a job through the eight-lane
    kernel, with `get`'s bits."""
    close = _long_close(6)
    keys = [sma("close", w) for w in (3, 20, 7, 250, 41, 9, 64, 5, 1000, 12)]
    out = np.zeros((len(keys), len(close)))
    IndicatorCache(_bars(close)).fill_rows(keys, out, threads=2)
    assert sorted(long_jobs) == [2, 8]
    _assert_rows_are_gets(close, keys, out)


def test_a_long_series_moving_averages_are_not_deferred(long_jobs: list[int]) -> None:
    """`defer` hands back only `sma_rows_nb`'s rows: a long series' go through the
    eight-lane kernel at once (its deferred launch would take them four a lane)."""
    close = _long_close(7)
    keys = [sma("close", w) for w in (3, 20, 7, 250, 41, 9)]
    out = np.zeros((len(keys), len(close)))
    deferred = IndicatorCache(_bars(close)).fill_rows(keys, out, keep=False, defer=True)
    assert deferred is None and long_jobs == [6]
    _assert_rows_are_gets(close, keys, out)
    short = np.zeros((len(keys), 500))
    cache = IndicatorCache(_bars(close[:500]))
    assert cache.fill_rows(keys, short, keep=False, defer=True) is not None


def test_an_indicator_keeps_no_hash_from_another_process() -> None:
    """The hash is cached on the object; a pickled copy (another process, whose
    string hashes differ) must compute its own, or dict lookups miss."""
    key = sma("close", 20)
    hash(key)
    object.__getattribute__(key, "__dict__")["_hash"] = 12345  # as if from elsewhere
    copy = pickle.loads(pickle.dumps(key))
    assert hash(copy) == hash(sma("close", 20)) != 12345
    assert {sma("close", 20): 1}[copy] == 1


@pytest.mark.parametrize("window", [2, 12, 26])
def test_ema_matches_pandas_seeded_with_sma(series: np.ndarray, window: int) -> None:
    seeded = series.copy()
    seeded[window - 1] = series[:window].mean()
    expected = pd.Series(seeded[window - 1 :]).ewm(span=window, adjust=False).mean().to_numpy()
    got = nb.ema_nb(series, window)
    assert np.isnan(got[: window - 1]).all()
    np.testing.assert_allclose(got[window - 1 :], expected, rtol=1e-12)


def test_rsi_matches_wilder_by_hand() -> None:
    x = np.array([44.0, 44.5, 44.0, 45.0, 46.0, 45.5, 46.5])
    window = 3
    got = nb.rsi_nb(x, window)
    d = np.diff(x)
    gain = d[:3].clip(min=0).mean()
    loss = (-d[:3]).clip(min=0).mean()
    assert got[3] == pytest.approx(100 - 100 / (1 + gain / loss))
    gain = (gain * 2 + max(d[3], 0)) / 3
    loss = (loss * 2 + max(-d[3], 0)) / 3
    assert got[4] == pytest.approx(100 - 100 / (1 + gain / loss))
    assert np.isnan(got[:3]).all()


def test_rolling_std_max_min_match_pandas(series: np.ndarray) -> None:
    s = pd.Series(series)
    np.testing.assert_allclose(
        nb.rolling_std_nb(series, 20), s.rolling(20).std(ddof=0), rtol=1e-9, equal_nan=True
    )
    np.testing.assert_array_equal(nb.rolling_max_nb(series, 15), s.rolling(15).max())
    np.testing.assert_array_equal(nb.rolling_min_nb(series, 15), s.rolling(15).min())


def _bars(close: np.ndarray) -> Bars:
    time = np.arange(close.size).astype("datetime64[D]").astype("datetime64[ns]")
    return Bars(time, close, close * 1.01, close * 0.99, close, np.ones_like(close))


def test_cache_computes_each_distinct_indicator_once(series: np.ndarray) -> None:
    cache = IndicatorCache(_bars(series))
    for _ in range(3):
        for window in (10, 20, 10):
            cache.get(sma("close", window))
    assert cache.computed == 2
    cache.get(bollinger("close", 20, 2.0, 1))
    cache.get(bollinger("close", 20, 2.0, -1))
    assert cache.computed == 2 + 1 + 2  # the stdev once, SMA(20) reused, two bands


def test_composite_indicators(series: np.ndarray) -> None:
    cache = IndicatorCache(_bars(series))
    np.testing.assert_allclose(
        cache.get(macd("close", 12, 26)),
        nb.ema_nb(series, 12) - nb.ema_nb(series, 26),
        equal_nan=True,
    )
    mid = cache.get(sma("close", 20))
    up = cache.get(bollinger("close", 20, 2.0, 1))
    np.testing.assert_allclose(up - mid, 2.0 * nb.rolling_std_nb(series, 20), equal_nan=True)
    assert cache.get(highest("high", 5))[10] == (series[6:11] * 1.01).max()
    assert cache.get(lowest("low", 5))[10] == (series[6:11] * 0.99).min()
    assert not np.isnan(cache.get(ema(macd("close", 3, 6), 4))[20])
    assert 0 <= np.nanmin(cache.get(rsi("close", 14))) <= np.nanmax(cache.get(rsi("close", 14)))


def test_cache_is_bounded(series: np.ndarray) -> None:
    cache = IndicatorCache(_bars(series), max_bytes=3 * series.nbytes)
    for window in range(2, 12):
        cache.get(sma("close", window))
    assert len(cache._store) == 3
    cache.get(sma("close", 2))
    assert cache.computed == 11

"""Indicator references, the indicator registry and the per-data cache.

A strategy never computes an indicator itself: it names one (`sma("close", 20)`),
and the `IndicatorCache` of the data computes each distinct name once, however many
candidates of a sweep ask for it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Union

import numpy as np

from stratopt._suggest import did_you_mean
from stratopt.data import Bars
from stratopt.errors import StrategyError
from stratopt.strategies import _indicators_nb as nb
from stratopt.strategies import _trend_nb as trend_nb
from stratopt.strategies._params import MAX_INT

__all__ = [
    "SOURCES",
    "Indicator",
    "IndicatorCache",
    "SmaRows",
    "adx",
    "atr",
    "bollinger",
    "ema",
    "highest",
    "lowest",
    "macd",
    "macd_signal",
    "rsi",
    "sma",
    "source",
    "stdev",
]

SOURCES = ("open", "high", "low", "close", "volume")

Arg = Union[str, int, float, "Indicator"]


@dataclass(frozen=True)
class Indicator:
    """A named, hashable reference to an indicator series: its cache key."""

    name: str
    args: tuple[Arg, ...] = ()

    def __hash__(self) -> int:
        # computed once: a sweep looks each candidate's indicators up several times,
        # and the generated hash walks the nested arguments on every lookup; read as
        # an attribute (half the cost of a lookup in __dict__, for the hundreds of
        # lookups of a batch's rows in a kept cache)
        try:
            return self._hash  # type: ignore[attr-defined,no-any-return]
        except AttributeError:
            value = hash((self.name, self.args))
            object.__setattr__(self, "_hash", value)
            return value

    def __reduce__(self) -> tuple[type[Indicator], tuple[str, tuple[Arg, ...]]]:
        # rebuilt from its fields: a string's hash differs between processes
        return (type(self), (self.name, self.args))

    def __repr__(self) -> str:
        inner = ", ".join(repr(a) for a in self.args)
        return f"{self.name}({inner})"


_SOURCE_OF = {name: Indicator("source", (name,)) for name in SOURCES}


def source(name: str) -> Indicator:
    """A raw price column (open, high, low, close, volume)."""
    # one object per column, so that equal indicators over it compare by identity
    known = _SOURCE_OF.get(name)
    if known is None:  # data columns are read case-insensitively; these are names
        raise StrategyError(
            f"unknown price source {name!r}{did_you_mean(name.lower(), SOURCES)} "
            f"(price sources are lower case: {', '.join(SOURCES)})"
        )
    return known


def _src(x: str | Indicator) -> Indicator:
    return source(x) if isinstance(x, str) else x


# The largest window the kernels take: the int parameters' bound (int64 holds it, and a
# float64 parameter column, in the search and the storage, holds it exactly).
MAX_WINDOW = MAX_INT


def _window(name: str, window: int) -> int:
    """``int(window)``, or StrategyError naming the indicator and the value when it is
    not from 1 to `MAX_WINDOW` bars: a window below 1 divides by zero or reads outside
    the series, one past int64 fails the whole call converting it, and inf or NaN
    would fail with Python's words, not the indicator's."""
    try:
        w = int(window)
    except (OverflowError, ValueError, TypeError):
        w = 0
    if not 1 <= w <= MAX_WINDOW:
        raise StrategyError(f"{name}: window must be from 1 to 2**53 bars, got {window!r}")
    return w


def sma(x: str | Indicator, window: int) -> Indicator:
    """Simple moving average."""
    return Indicator("sma", (_src(x), _window("sma", window)))


def ema(x: str | Indicator, window: int) -> Indicator:
    """Exponential moving average (alpha 2/(window+1), seeded with the SMA)."""
    return Indicator("ema", (_src(x), _window("ema", window)))


def rsi(x: str | Indicator, window: int) -> Indicator:
    """Wilder's relative strength index, 0..100."""
    return Indicator("rsi", (_src(x), _window("rsi", window)))


def stdev(x: str | Indicator, window: int) -> Indicator:
    """Rolling population standard deviation."""
    return Indicator("stdev", (_src(x), _window("stdev", window)))


def highest(x: str | Indicator, window: int) -> Indicator:
    """Rolling maximum over the last `window` bars, current bar included."""
    return Indicator("highest", (_src(x), _window("highest", window)))


def lowest(x: str | Indicator, window: int) -> Indicator:
    """Rolling minimum over the last `window` bars, current bar included."""
    return Indicator("lowest", (_src(x), _window("lowest", window)))


def bollinger(x: str | Indicator, window: int, k: float, band: int) -> Indicator:
    """Bollinger band: SMA + band * k * stdev, with band -1 (lower), 0 (middle) or 1."""
    return Indicator("bollinger", (_src(x), _window("bollinger", window), float(k), int(band)))


def macd(x: str | Indicator, fast: int, slow: int) -> Indicator:
    """MACD line: EMA(fast) - EMA(slow)."""
    return Indicator("macd", (_src(x), _window("macd", fast), _window("macd", slow)))


def macd_signal(x: str | Indicator, fast: int, slow: int, signal: int) -> Indicator:
    """MACD signal line: EMA(signal) of the MACD line."""
    return ema(macd(x, fast, slow), signal)


def atr(window: int) -> Indicator:
    """Wilder's average true range of the bars (high, low, close)."""
    return Indicator("atr", (_window("atr", window),))


def adx(window: int) -> Indicator:
    """Wilder's average directional index of the bars (high, low, close), 0..100."""
    return Indicator("adx", (_window("adx", window),))


def _hlc(kernel: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    def compute(cache: IndicatorCache, key: Indicator) -> np.ndarray:
        (window,) = key.args
        assert isinstance(window, int)
        b = cache.bars
        return np.asarray(kernel(b.high, b.low, b.close, window))

    return compute


def _bollinger(cache: IndicatorCache, key: Indicator) -> np.ndarray:
    src, window, k, band = key.args
    assert isinstance(src, Indicator) and isinstance(window, int)
    assert isinstance(k, float) and isinstance(band, int)
    mid = cache.get(sma(src, window))
    if band == 0:
        return mid
    return np.asarray(mid + band * k * cache.get(stdev(src, window)))


def _macd(cache: IndicatorCache, key: Indicator) -> np.ndarray:
    src, fast, slow = key.args
    assert isinstance(src, Indicator) and isinstance(fast, int) and isinstance(slow, int)
    return np.asarray(cache.get(ema(src, fast)) - cache.get(ema(src, slow)))


def _windowed(kernel: Callable[[np.ndarray, int], np.ndarray]) -> Callable[..., np.ndarray]:
    def compute(cache: IndicatorCache, key: Indicator) -> np.ndarray:
        src, window = key.args
        assert isinstance(src, Indicator) and isinstance(window, int)
        return np.asarray(kernel(cache.get(src), window))

    return compute


def _sma(cache: IndicatorCache, key: Indicator) -> np.ndarray:
    # `sma_rows_nb` for one window: `sma_nb`'s bits (tests/strategies), and the kernel
    # `fill_rows` compiles anyway, so that a cold start compiles one moving average
    src, window = key.args
    assert isinstance(src, Indicator) and isinstance(window, int)
    x = cache.get(src)
    out = np.empty((1, x.shape[0]))
    nb.sma_rows_nb(x, np.array([window], dtype=np.int64), out, np.zeros(1, dtype=np.int64))
    row: np.ndarray = out[0]
    return row


_LEAVES = ("sma", "ema", "rsi", "stdev", "highest", "lowest")

# Series from this many bars get their moving averages from `sma_rows_long_nb`
# (eight windows a pass; compiled on the first such series, not in a cold start).
_LONG_ROWS_FROM = 1 << 16


def _of_source(key: Indicator) -> bool:
    src = key.args[0] if key.args else None
    return isinstance(src, Indicator) and src.name == "source"


def _sma_by_source(keys: Sequence[Indicator], fresh: list[int]) -> dict[Indicator, list[int]]:
    """The places among `fresh` of the moving averages, by the series they average."""
    by_source: dict[Indicator, list[int]] = {}
    for i in fresh:
        if keys[i].name == "sma":
            src = keys[i].args[0]
            assert isinstance(src, Indicator)
            by_source.setdefault(src, []).append(i)
    return by_source


_COMPUTE: dict[str, Callable[[IndicatorCache, Indicator], np.ndarray]] = {
    "sma": _sma,
    "ema": _windowed(nb.ema_nb),
    "rsi": _windowed(nb.rsi_nb),
    "stdev": _windowed(nb.rolling_std_nb),
    "highest": _windowed(nb.rolling_max_nb),
    "lowest": _windowed(nb.rolling_min_nb),
    "bollinger": _bollinger,
    "macd": _macd,
    "atr": _hlc(trend_nb.atr_nb),
    "adx": _hlc(trend_nb.adx_nb),
}


@dataclass(frozen=True)
class SmaRows:
    """Moving averages not computed yet: ``out[rows[q]] = sma_nb(x, windows[q])``."""

    x: np.ndarray
    windows: np.ndarray
    out: np.ndarray
    rows: np.ndarray

    def compute(self) -> None:
        nb.sma_rows_nb(self.x, self.windows, self.out, self.rows)


class IndicatorCache:
    """Computes each distinct indicator of one data series once.

    Arrays are kept while their total size stays under `max_bytes`; past that the
    least recently used are dropped (and recomputed if asked for again). Raw price
    columns are never counted: they belong to the bars.
    """

    def __init__(self, bars: Bars, *, max_bytes: int = 512 * 2**20) -> None:
        self.bars = bars
        self.max_bytes = max_bytes
        self._store: OrderedDict[Indicator, np.ndarray] = OrderedDict()
        self._bytes = 0
        self.computed = 0  # how many arrays were computed (tests check reuse)

    def fill_rows(
        self,
        keys: Sequence[Indicator],
        out: np.ndarray,
        *,
        threads: int = 1,
        rows: Sequence[int] | None = None,
        keep: bool = True,
        defer: bool = False,
    ) -> SmaRows | None:
        """Write the series of `keys[i]` into `out[rows[i]]` (default `out[i]`), on `threads`.

        Indicators of raw prices missing from the cache are computed in parallel (the
        kernels release the GIL) and written straight into `out`, so a sweep that needs
        70 moving averages of 1,000,000 bars neither waits for them one by one nor holds
        them twice; composite indicators go through `get`. On one thread they are
        kept in the cache as `get` keeps them, unless `keep` is False (a cache that
        no one reads again: the copies would be wasted).

        `defer` (with `keep` False, on one thread): the moving averages of one price
        column are not computed but returned, for the caller to compute before anyone
        reads their rows (`run_but_tails_after`); None when there are none.
        """
        at = list(range(len(keys))) if rows is None else list(rows)
        hits = self._kept(keys)
        fresh = [
            i for i, k in enumerate(keys) if k.name in _LEAVES and _of_source(k) and i not in hits
        ]
        # moving averages of one column go four at a time through one pass of
        # `sma_rows_nb` (the same bits as one by one, about 3x faster per row), eight
        # on long series (`sma_rows_long_nb`, about 4x): all in one call on one
        # thread, a call per four (eight) on several
        by_source = _sma_by_source(keys, fresh) if out.ndim == 2 and out.dtype == np.float64 else {}
        parallel = threads > 1 and len(fresh) > 1
        per = 4 if parallel else len(fresh)
        jobs = [
            job
            for src, group in by_source.items()
            for job in self._sma_jobs(src, group, keys, at, out, per)
        ]
        direct = {i for group in by_source.values() for i in group}
        deferred = None
        # a long series' rows stay here: the deferred launch shares out four-lane
        # groups, slower per row than `sma_rows_long_nb`'s eight lanes
        job = jobs[0] if len(jobs) == 1 else None
        if defer and not parallel and not keep and isinstance(job, partial):
            deferred = SmaRows(*job.args) if job.func is nb.sma_rows_nb else None
            if deferred is not None:
                jobs.pop()
        if parallel or not keep:
            jobs += [
                partial(self._compute_into, keys[i], out, at[i]) for i in fresh if i not in direct
            ]
            direct = set(fresh)
            if parallel:
                with ThreadPoolExecutor(max_workers=threads) as pool:
                    list(pool.map(lambda job: job(), jobs))
            else:
                for job in jobs:
                    job()
            self.computed += len(direct)
        else:
            for job in jobs:
                job()
            for i in sorted(direct):  # kept as `get` would keep them
                if keys[i] not in self._store:
                    self._put(keys[i], out[at[i]].copy())
        for i, key in enumerate(keys):
            if i not in direct:  # kept, or not a moving average of prices
                out[at[i]] = hits[i] if i in hits else self.get(key)
        return deferred

    def _kept(self, keys: Sequence[Indicator]) -> dict[int, np.ndarray]:
        """The kept series of `keys`, by place, each looked up once and marked as used
        now (a batch of a study reads a few hundred kept rows)."""
        hits: dict[int, np.ndarray] = {}
        store = self._store  # empty in a cache of one `evaluate_many` call
        if store:
            for i, k in enumerate(keys):
                hit = store.get(k)
                if hit is not None:
                    store.move_to_end(k)
                    hits[i] = hit
        return hits

    def _sma_jobs(
        self,
        src: Indicator,
        group: list[int],
        keys: Sequence[Indicator],
        at: list[int],
        out: np.ndarray,
        per: int,
    ) -> list[Callable[[], None]]:
        x = self.get(src)
        kernel = nb.sma_rows_nb
        if x.shape[0] >= _LONG_ROWS_FROM:  # eight lanes a pass (twice the windows a job)
            kernel, per = nb.sma_rows_long_nb, 2 * per
        jobs: list[Callable[[], None]] = []
        for b in range(0, len(group), per):
            part = group[b : b + per]
            windows = np.array([keys[i].args[1] for i in part], dtype=np.int64)
            rows_of = np.array([at[i] for i in part], dtype=np.int64)
            jobs.append(partial(kernel, x, windows, out, rows_of))
        return jobs

    def _compute_into(self, key: Indicator, out: np.ndarray, row: int) -> None:
        out[row] = _COMPUTE[key.name](self, key)

    def get(self, key: Indicator) -> np.ndarray:
        """The float64[n] series of `key` (read-only; do not modify it)."""
        if key.name == "source":
            name = key.args[0]
            assert isinstance(name, str)
            arr: np.ndarray = getattr(self.bars, name)
            return arr
        hit = self._store.get(key)
        if hit is not None:
            self._store.move_to_end(key)
            return hit
        compute = _COMPUTE.get(key.name)
        if compute is None:
            raise ValueError(f"unknown indicator {key.name!r}")
        return self._put(key, compute(self, key))

    def _put(self, key: Indicator, array: np.ndarray) -> np.ndarray:
        value = np.ascontiguousarray(array, dtype=np.float64)
        value.setflags(write=False)
        self.computed += 1
        self._store[key] = value
        self._bytes += value.nbytes
        while self._bytes > self.max_bytes and len(self._store) > 1:
            _, old = self._store.popitem(last=False)
            self._bytes -= old.nbytes
        return value

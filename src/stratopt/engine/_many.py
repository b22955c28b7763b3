"""Many candidates at once: slices or tiles of them through the compiled kernel on threads."""

from __future__ import annotations

import contextlib
import math
import mmap
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numba
import numpy as np

from stratopt.engine._background import composite, wait_for_background
from stratopt.engine._nb import (
    BATCH,
    LOG_PER,
    N_LOG_COLS,
    run_many_long_nb,
    run_many_nb,
    run_one_nb,
)
from stratopt.engine._subset_nb import PASS_DRAWDOWN, run_but_tails_nb, run_but_tails_threads_nb
from stratopt.engine._tiles import tiles
from stratopt.metrics.nb import METRICS_SAMPLE

__all__ = ["ManyPool", "new_buffers", "run_but_tails", "run_many", "subset_launch"]

_T = TypeVar("_T")

# Below this much work one thread is quicker than starting and joining others. The
# work is counted in bar-evaluations, candidates x (bars + 256): each candidate also
# has a fixed cost (its tail quantiles, set-up) of about 256 bars' worth. Measured on
# 2 cores: 2 threads break even at about 40,000 (16 candidates x 2,148 bars, 48 x
# 500; starting and joining a thread is about 0.1 ms) and take 0.55x the time at
# 175 x 2,148; from 2**16 they take 0.75x or less.
THREADED_FROM = 1 << 16
_PER_CANDIDATE = 256

# Series from this many bars go in tiles of up to _TILE x _TILE candidates (see
# `tiles`; below, the rows of a batch stay in cache between its candidates anyway),
# as many as keep a thread's stored returns (float64[n] per candidate) within
# _TILE_BYTES. On 1M bars x 1,000 SMA crossovers (2 cores, 1 MB L2), 5 x 5 took
# 0.94-0.98 s against 1.02-1.04 s for 4 x 4 and 1.02-1.23 s for batches of 2 in the
# planned order.
TILED_FROM = 1 << 16
_TILE = 5
_TILE_BYTES = 200 * 2**20

# Slices per thread: several, so a thread that drew cheap candidates takes more.
_SLICES_PER_THREAD = 4


def run_many(
    ohlc: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    ind: np.ndarray,
    rules: np.ndarray,
    levels: np.ndarray,
    ex: np.ndarray,
    ppy: float,
    out: np.ndarray,
    *,
    pool: ManyPool | None = None,
) -> None:
    """The metrics of each candidate ``rules[k], levels[k], ex[k]`` into ``out[k]``,
    on the bars' ``(open, high, low, close)``, with the threads and buffers of
    ``pool`` (else a new one for this call).

    Bit for bit what `run_one_nb` gives for each candidate, whatever the number of
    threads: each candidate is computed on its own. Slices of consecutive candidates,
    or on a long series tiles of candidates that share indicator rows (`tiles`), go
    to whichever thread is free.
    """
    o, h, l, c = ohlc  # noqa: E741 (the engine's name for the lows)
    n_cand, n = rules.shape[0], c.shape[0]
    found = np.ones(n_cand, dtype=np.bool_)
    pool = pool or ManyPool()
    threads = pool.threads or numba.get_num_threads()
    side = _tile_side(n)
    tiled = side > 1 and n_cand > BATCH
    b = side * side if tiled else BATCH
    args = (o, h, l, c, ind, rules, levels, ex, ppy, out, found, *_TYPES_OF_BUFFERS)
    # or, in a cold start, its Python twin (which holds the GIL: one thread)
    many_nb = composite(run_many_nb, args)
    if tiled and many_nb is run_many_nb:
        # the same bits, a quicker finish: compiled on the first long series (not
        # in a cold start's composites, whose twins stand in meanwhile)
        many_nb = run_many_long_nb
    order, parts, threaded = _plan(rules, n, threads, side if tiled else 0)
    cand = (rules, levels, ex) if order is None else (rules[order], levels[order], ex[order])
    res = (out, found) if order is None else (np.empty_like(out), np.ones_like(found))

    def run_part(part: tuple[int, int]) -> None:
        k0, k1 = part
        r, lv, e = (a[k0:k1] for a in cand)
        with pool.taken(b, n) as bufs:
            many_nb(o, h, l, c, ind, r, lv, e, ppy, res[0][k0:k1], res[1][k0:k1], *bufs)

    threaded = threaded and many_nb in (run_many_nb, run_many_long_nb)
    if threaded:
        _on_threads(run_part, parts, threads)
    else:
        for part in parts:
            run_part(part)
    if order is not None:
        out[order] = res[0]
        found[order] = res[1]
    again = np.flatnonzero(~found).tolist()
    if again:
        _run_again(ohlc, ind, (rules, levels, ex), ppy, out, again, threads if threaded else 1)


def _tile_side(n: int) -> int:
    """The side of the tiles of candidates on ``n`` bars (< 2: no tiles)."""
    if n < TILED_FROM:
        return 0
    return min(_TILE, math.isqrt(_TILE_BYTES // (8 * max(n, 1))))


def _plan(
    rules: np.ndarray, n: int, threads: int, side: int
) -> tuple[np.ndarray | None, list[tuple[int, int]], bool]:
    """How `run_many` goes through the candidates: their order (None: as given), the
    ``(start, end)`` of each kernel call in it, and whether on several threads; in
    tiles of ``side`` x ``side`` candidates if ``side`` (else slices)."""
    n_cand = rules.shape[0]
    if side:
        order, parts = tiles(rules, side)
        return order, parts, threads > 1 and n_cand * (n + _PER_CANDIDATE) >= THREADED_FROM
    per = _slice_size(n_cand, n, threads)
    step = per or max(n_cand, 1)
    return None, [(k0, min(n_cand, k0 + step)) for k0 in range(0, n_cand, step)], per > 0


def _run_again(
    ohlc: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    ind: np.ndarray,
    cand: tuple[np.ndarray, np.ndarray, np.ndarray],
    ppy: float,
    out: np.ndarray,
    again: list[int],
    threads: int,
) -> None:
    """Candidates ``again`` with `run_one_nb` into ``out``: their tails moved inside
    the band and the kernel's change log overflowed (see batch_metrics_nb); the
    one-candidate path keeps every return."""
    wait_for_background()
    rules, levels, ex = cand

    def run_again(k: int) -> None:
        args = (*ohlc, ind, rules[k], levels[k], ex[k], ppy, False)
        out[k] = composite(run_one_nb, args)(*args)[4]

    if threads > 1 and len(again) > 1:
        _on_threads(run_again, again, threads)
    else:
        for k in again:
            run_again(k)


def run_but_tails(
    ohlc: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    ind: np.ndarray,
    rules: np.ndarray,
    levels: np.ndarray,
    ex: np.ndarray,
    ppy: float,
    out: np.ndarray,
    passes: int = PASS_DRAWDOWN,
) -> None:
    """`run_many` without VaR, CVaR and the tail ratio: every other metric of each
    candidate into ``out[k]``, bit for bit the full pass's; those three entries are
    meaningless (`run_but_tails_nb`, compiled on its first use), and so are the
    drawdown metrics with ``passes=PASS_SUMS`` and every metric that needs a return
    with ``PASS_NONE``."""
    o, h, l, c = ohlc  # noqa: E741 (the engine's name for the lows)
    counters = np.zeros(2, dtype=np.int64)  # candidates taken, candidates done
    args = (o, h, l, c, ind, rules, levels, ex, ppy, out, passes, counters)
    with subset_launch(rules.shape[0], c.shape[0]) as threads:
        if threads:
            run_but_tails_threads_nb(*args, threads)
            return
    run_but_tails_nb(*args)


@contextlib.contextmanager
def subset_launch(n_cand: int, n_bars: int) -> Iterator[int]:
    """The threads one parallel launch of a subset kernel (`run_but_tails_threads_nb`
    or one that runs it) takes for ``n_cand`` candidates on ``n_bars`` bars, for the
    ``with`` block: 0 when one thread is quicker, or when another thread's launch
    runs (then this one runs alone, holding no GIL, so concurrent callers overlap).

    numba's threads, one launch at a time: a threading layer without OpenMP or TBB
    (workqueue) aborts on concurrent launches.
    """
    threads = numba.get_num_threads()
    if _slice_size(n_cand, n_bars, threads) == 0 or not _LAUNCH.acquire(blocking=False):
        yield 0
        return
    try:
        yield threads
    finally:
        _LAUNCH.release()


# The subset kernels' parallel launches, one at a time (see `subset_launch`).
_LAUNCH = threading.Lock()


class ManyPool:
    """What `run_many` calls given the same pool share: the threads they run on
    (``threads``, default `numba.get_num_threads()`) and `run_many_nb`'s buffers
    (`stratopt.backtest.evaluate_many` passes one pool to its calls): a batch of 25
    candidates on a million bars has 200 MB of stored returns, and fresh buffers
    for every call page-fault (zero) them in again. One set per thread at a time;
    sets of another shape are dropped when a call asks for a new one."""

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads
        self._free: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def taken(self, b: int, n: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """A set for batches of ``b`` candidates on ``n`` bars, for the ``with`` block."""
        with self._lock:
            self._free = [x for x in self._free if x[0].shape == (b, n)]
            got = self._free.pop() if self._free else None
        if got is None:
            got = new_buffers(b, n)
        try:
            yield got
        finally:
            with self._lock:
                self._free.append(got)


def new_buffers(b: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`run_many_nb`'s buffers for batches of ``b`` candidates on ``n`` bars: stored
    returns, bracket samples and change logs."""
    return (
        np.empty((b, n)),
        np.empty((b, min(n, METRICS_SAMPLE))),
        _small_pages((b, n // LOG_PER + 16, N_LOG_COLS)),
    )


def _small_pages(shape: tuple[int, ...]) -> np.ndarray:
    """float64 zeros of ``shape`` in 4 KB pages: NumPy asks for 2 MB pages for large
    arrays, and each candidate's change log, a few KB written at the start of its
    3 MB on a million bars, would then hold 2 MB of memory."""
    count = math.prod(shape)
    pages = mmap.mmap(-1, max(8 * count, 1))
    return np.frombuffer(pages, dtype=np.float64, count=count).reshape(shape)


# What `composite` looks at: the buffers' types (those of any size).
_TYPES_OF_BUFFERS = new_buffers(1, 1)


def _slice_size(n_cand: int, n_bars: int, threads: int) -> int:
    """Candidates per slice on `threads` threads, or 0 when one thread is quicker."""
    work = n_cand * (n_bars + _PER_CANDIDATE)
    if threads <= 1 or n_cand <= BATCH or work < THREADED_FROM:
        return 0
    return -(-n_cand // (BATCH * threads * _SLICES_PER_THREAD)) * BATCH


def _on_threads(job: Callable[[_T], None], items: list[_T], threads: int) -> None:
    """`job(item)` for every item, on `threads` threads (this one among them), each
    taking the next item when it is free. The jobs must release the GIL."""
    pending = iter(items)
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                item = next(pending, None)
            if item is None:
                return
            job(item)

    pool = _pool()
    others = [pool.submit(worker) for _ in range(min(threads, len(items)) - 1)]
    worker()
    for f in others:
        if not f.cancel():  # one that never started (its threads busy) is not waited for
            f.result()


# Worker threads kept across calls (starting and joining one took about 0.05 ms of a
# 1 ms call), by process id: a forked child has the pool but not its threads.
_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool() -> ThreadPoolExecutor:
    pid = os.getpid()
    pool = _POOLS.get(pid)
    if pool is None:
        _POOLS.clear()
        pool = _POOLS[pid] = ThreadPoolExecutor(
            os.cpu_count() or 1, thread_name_prefix="stratopt-many"
        )
    return pool

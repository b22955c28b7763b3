"""Many candidates at once: slices of them through the compiled kernel on threads."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from stratopt.engine._background import composite, wait_for_background
from stratopt.engine._nb import BATCH, run_many_nb, run_one_nb
from stratopt.engine._subset_nb import PASS_DRAWDOWN, run_but_tails_nb

__all__ = ["run_but_tails", "run_many"]

# Below this much work one thread is quicker than starting and joining others. The
# work is counted in bar-evaluations, candidates x (bars + 256): each candidate also
# has a fixed cost (its tail quantiles, set-up) of about 256 bars' worth. Measured on
# 2 cores: 2 threads break even at about 40,000 (16 candidates x 2,148 bars, 48 x
# 500; starting and joining a thread is about 0.1 ms) and take 0.55x the time at
# 175 x 2,148; from 2**16 they take 0.75x or less.
THREADED_FROM = 1 << 16
_PER_CANDIDATE = 256

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
    threads: int | None = None,
) -> None:
    """The metrics of each candidate ``rules[k], levels[k], ex[k]`` into ``out[k]``,
    on the bars' ``(open, high, low, close)``.

    Bit for bit what `run_one_nb` gives for each candidate, whatever the number of
    threads (default `numba.get_num_threads()`): each candidate is computed on its
    own, slices of consecutive candidates go to whichever thread is free.
    """
    o, h, l, c = ohlc  # noqa: E741 (the engine's name for the lows)
    n_cand = rules.shape[0]
    found = np.ones(n_cand, dtype=np.bool_)
    # or, in a cold start, its Python twin (which holds the GIL: one thread)
    many_nb = composite(run_many_nb, (o, h, l, c, ind, rules, levels, ex, ppy, out, found))
    threads = threads or numba.get_num_threads()
    per = _slice_size(n_cand, c.shape[0], threads)
    one_thread = per == 0 or many_nb is not run_many_nb

    def run_slice(k0: int) -> None:
        k1 = min(n_cand, k0 + per)
        run_many_nb(
            o, h, l, c, ind, rules[k0:k1], levels[k0:k1], ex[k0:k1], ppy,
            out[k0:k1], found[k0:k1],
        )  # fmt: skip

    def run_again(k: int) -> None:
        # the tails moved inside the band and the kernel's change log overflowed (see
        # batch_metrics_nb): the one-candidate path keeps every return
        args = (o, h, l, c, ind, rules[k], levels[k], ex[k], ppy, False)
        out[k] = composite(run_one_nb, args)(*args)[4]

    if one_thread:
        many_nb(o, h, l, c, ind, rules, levels, ex, ppy, out, found)
    else:
        _on_threads(run_slice, list(range(0, n_cand, per)), threads)
    again = np.flatnonzero(~found).tolist()
    if again:
        wait_for_background()
    if one_thread or len(again) < 2:
        for k in again:
            run_again(k)
    else:
        _on_threads(run_again, again, threads)


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
    n_cand = rules.shape[0]
    threads = numba.get_num_threads()
    per = _slice_size(n_cand, c.shape[0], threads)
    if per == 0:
        run_but_tails_nb(o, h, l, c, ind, rules, levels, ex, ppy, out, passes)
        return

    def run_slice(k0: int) -> None:
        k1 = min(n_cand, k0 + per)
        run_but_tails_nb(
            o, h, l, c, ind, rules[k0:k1], levels[k0:k1], ex[k0:k1], ppy, out[k0:k1], passes
        )  # fmt: skip

    _on_threads(run_slice, list(range(0, n_cand, per)), threads)


def _slice_size(n_cand: int, n_bars: int, threads: int) -> int:
    """Candidates per slice on `threads` threads, or 0 when one thread is quicker."""
    work = n_cand * (n_bars + _PER_CANDIDATE)
    if threads <= 1 or n_cand <= BATCH or work < THREADED_FROM:
        return 0
    return -(-n_cand // (BATCH * threads * _SLICES_PER_THREAD)) * BATCH


def _on_threads(job: Callable[[int], None], items: list[int], threads: int) -> None:
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

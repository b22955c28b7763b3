"""The many-candidates kernel for a metric subset without the tails.

A caller that wants only some metrics (`evaluate_many(..., metrics=[...])`), none of
them VaR, CVaR or the tail ratio, does not need their selection among the stored
returns, which is about half of the full pass's time on a short series. This kernel
runs the same compiled kernels as `run_many_nb` on the same chunks (so every metric
but those three has the bits of the full pass), with the metrics pass over each chunk
reduced to the returns, drawdown and sums (`metrics_returns_chunk_nb`), and finishes
with `metrics_finish_but_tails_nb`. It is a composite of its own, compiled only when a
subset is asked for: no kernel of the full path was changed for it.

On several threads it runs inside `run_but_tails_threads_nb`, a numba ``prange`` over
the threads (numba's threading layer, OpenMP here), not on Python threads: that
layer's workers wait spinning for a while after each parallel call, so a call soon
after another parallel call (its own, or any other numba kernel's in the process)
starts at once on a core that is already awake, where a Python thread had to be woken
and take the GIL to enter the kernel (and, next to another kernel's spinning workers,
wait for a core). Its parallel lowering costs only this kernel's first compile, not a
cold start's (`run_many` has no ``prange``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from stratopt.engine._claim_nb import claim_nb
from stratopt.engine._nb import (
    N_LOG_COLS,
    S_EXPOSURE,
    SIM_CHUNK,
    fill_codes_range_nb,
    new_work_nb,
    sim_state_init_nb,
    simulate_range_nb,
)
from stratopt.engine._types import E_CASH
from stratopt.metrics._borrow_nb import borrowed
from stratopt.metrics._nb import (
    METRICS_SAMPLE,
    metrics_begin_nb,
    metrics_finish_but_tails_nb,
    metrics_returns_chunk_nb,
    trade_stats_init_nb,
)

__all__ = [
    "PASS_DRAWDOWN",
    "PASS_NONE",
    "PASS_SUMS",
    "run_but_tails_nb",
    "run_but_tails_threads_nb",
]

# What the metrics pass over the returns computes (`run_but_tails_nb`'s `passes`): nothing
# (the trade and level metrics need no return), the returns and their sums (the moments,
# Sortino, omega), or those and the drawdown.
PASS_NONE, PASS_SUMS, PASS_DRAWDOWN = 0, 1, 2

# Candidates a thread claims at a time (`run_but_tails_nb`): on 175 x 2,148 bars two
# threads took 0.35 ms claiming 4, 0.39 claiming 1 (each claim moves the counter's
# cache line between the cores), 0.37 claiming 8.
CLAIM_STEP = 4


@njit(cache=True, nogil=True)
def run_but_tails_nb(o, h, l, c, ind, rules, levels, ex, ppy, out, passes, counters):  # type: ignore[no-untyped-def]
    """Every metric but VaR, CVaR and the tail ratio (their entries meaningless) of
    many candidates, one after the other: rules[k], levels[k], ex[k] -> out[k].

    The candidates are taken ``CLAIM_STEP`` at a time from ``counters[0]`` and
    counted in ``counters[1]`` once their rows of ``out`` are written (int64[2],
    zeros at first, see `claim_nb`): threads that run this kernel on the same
    arguments and counters share them out; alone, a thread runs them all. The call
    returns when no candidate is left to take (others may still be running theirs).

    Each candidate goes through the bars chunk by chunk as in `batch_metrics_nb`:
    signal codes, simulation (no change log: nothing falls back) and the metrics
    pass as far as `passes` asks (`PASS_DRAWDOWN`: all of it; `PASS_SUMS`: the
    drawdown metrics' entries meaningless too; `PASS_NONE`: every entry that needs a
    return meaningless), then the finish without the tails. It releases the GIL.
    """
    n = c.shape[0]
    # Borrowed views (no reference counting on each slice and call, see `borrowed`) of
    # the arguments, and of the candidate's state in this call's buffers, taken in the
    # loop: a buffer is freed after its last use, which must come after its views'.
    o, h, l, c, ind = borrowed(o), borrowed(h), borrowed(l), borrowed(c), borrowed(ind)
    rules, levels, ex, out = borrowed(rules), borrowed(levels), borrowed(ex), borrowed(out)
    codes, equity, rbuf, ts, st, acc, dummy_pos, dummy_exp, dummy_trades = new_work_nb(1)
    words = codes.view(np.uint64)
    sample = np.zeros(min(n, METRICS_SAMPLE))  # not filled: the tails are not sought
    stored = np.empty(0)
    log = np.empty((0, N_LOG_COLS))
    k = rules.shape[0]
    while True:
        q0: int = claim_nb(counters, 0, CLAIM_STEP)  # type: ignore[call-arg]  # an intrinsic
        if q0 >= k:
            break
        for q in range(q0, min(k, q0 + CLAIM_STEP)):
            ts0, st0, acc0 = borrowed(ts[0]), borrowed(st[0]), borrowed(acc[0])
            cash = ex[q, E_CASH]
            trade_stats_init_nb(ts0)
            sim_state_init_nb(st0, ex[q])
            metrics_begin_nb(cash, acc0)
            prev = cash
            for j0 in range(0, n, SIM_CHUNK):
                j1 = min(n, j0 + SIM_CHUNK)
                w = j1 - j0
                fill_codes_range_nb(ind, rules[q], levels[q], codes, j0, j1)
                simulate_range_nb(
                    o, h, l, c, codes, words, j0, j1, ex[q], ts0, st0, equity, np.bool_(False),
                    dummy_pos, dummy_exp, dummy_trades, log,
                )  # fmt: skip
                if passes != PASS_NONE:
                    metrics_returns_chunk_nb(
                        equity[:w], prev, j0, rbuf, acc0, passes == PASS_DRAWDOWN
                    )
                prev = equity[w - 1]
            exposure = int(st0[S_EXPOSURE])
            metrics_finish_but_tails_nb(
                n, prev, cash, exposure, ts0, ppy, acc0, sample, stored, out[q]
            )
        claim_nb(counters, 1, min(k, q0 + CLAIM_STEP) - q0)  # type: ignore[call-arg]


@njit(cache=True, parallel=True, nogil=True)  # other Python threads run meanwhile
def run_but_tails_threads_nb(  # type: ignore[no-untyped-def]
    o, h, l, c, ind, rules, levels, ex, ppy, out, passes, counters, threads
):
    """`run_but_tails_nb` on ``threads`` threads of numba's threading layer, sharing
    ``counters`` (zeros): each thread claims candidates until none is left, so a thread
    that starts late takes fewer; the call returns when every thread has returned."""
    for _ in prange(threads):
        run_but_tails_nb(o, h, l, c, ind, rules, levels, ex, ppy, out, passes, counters)

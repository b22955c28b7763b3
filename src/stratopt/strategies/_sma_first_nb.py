"""A call's moving averages and the subset kernel in one launch of numba's threads.

`evaluate_many(..., metrics=[...])` on a short series computes its moving averages
(`sma_rows_nb`, ~0.12 ms for a sweep's 32 windows of 2,148 bars) on the caller's thread,
then launches `run_but_tails_threads_nb` (~0.45 ms on two threads). Here the threads of
that launch first share out the moving averages, four windows at a time as
`sma_rows_nb` groups them (so the same bits), and each thread starts on the candidates
once every group is written: the second core takes half of them, where it was idle.
Compiled on the first use of a metric subset on several threads (not in a cold start:
`optimize` runs the full pass).
"""

from __future__ import annotations

from numba import njit, prange

from stratopt.engine._claim_nb import claim_nb
from stratopt.engine._subset_nb import run_but_tails_nb
from stratopt.strategies._indicators_nb import _sma_four_nb

__all__ = ["sma_then_run_but_tails_threads_nb"]

# Windows per group: `sma_rows_nb`'s (a group's lanes are one pass of `_sma_four_nb`).
_GROUP = 4


@njit(cache=True, nogil=True)
def _sma_then_run_but_tails_nb(  # type: ignore[no-untyped-def]
    x, windows, rows, row_counters, o, h, l, c, ind, rules, levels, ex, ppy, out, passes, counters
):
    """``ind[rows[q]] = sma_nb(x, windows[q])`` for every window, the groups taken one at
    a time from ``row_counters[0]`` and counted in ``row_counters[1]`` once written
    (int64[2], zeros at first); then, when every group is, `run_but_tails_nb` on the
    rest of the arguments. Alone, a thread computes every group itself."""
    groups = (windows.shape[0] + _GROUP - 1) // _GROUP
    while True:
        g: int = claim_nb(row_counters, 0, 1)  # type: ignore[call-arg]  # an intrinsic
        if g >= groups:
            break
        b = g * _GROUP
        _sma_four_nb(x, windows[b : b + _GROUP], ind, rows[b : b + _GROUP])
        claim_nb(row_counters, 1, 1)  # type: ignore[call-arg]
    while claim_nb(row_counters, 1, 0) < groups:  # type: ignore[call-arg]
        pass  # another thread's last group: its rows may be read by any candidate
    run_but_tails_nb(o, h, l, c, ind, rules, levels, ex, ppy, out, passes, counters)


@njit(cache=True, parallel=True, nogil=True)  # other Python threads run meanwhile
def sma_then_run_but_tails_threads_nb(  # type: ignore[no-untyped-def]
    x, windows, rows, row_counters, o, h, l, c, ind, rules, levels, ex, ppy, out, passes,
    counters, threads,
):  # fmt: skip
    """`_sma_then_run_but_tails_nb` on ``threads`` threads of numba's threading layer,
    sharing both counters; returns when every thread has."""
    for _ in prange(threads):
        _sma_then_run_but_tails_nb(
            x, windows, rows, row_counters, o, h, l, c, ind, rules, levels, ex, ppy, out,
            passes, counters,
        )  # fmt: skip

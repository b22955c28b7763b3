"""Numba kernels of the Monte Carlo: statistics of many resampled equity paths.

Every kernel is a pure array function; rows (simulations) are independent, so the
parallel loop gives the same numbers whatever the thread count.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from stratopt._njit import njit

__all__ = ["paths_nb"]


@njit(cache=True)
def _path_1d(steps: np.ndarray, cash: float, additive: bool) -> tuple[float, float, float, float]:
    """Final equity, max drawdown, per-step Sharpe (ddof=1) and longest time under water.

    `steps` are returns (compounded) or pnl amounts (`additive`). The drawdown's peak
    starts at `cash` (docs/metrics.md); the step return is 0 once equity is <= 0. Time
    under water is the longest run of steps with equity below its peak.
    """
    eq = cash
    peak = cash
    mdd = 0.0
    run = 0
    longest = 0
    n = steps.shape[0]
    s1 = 0.0
    s2 = 0.0
    for j in range(n):
        prev = eq
        eq = eq + steps[j] if additive else eq * (1.0 + steps[j])
        r = eq / prev - 1.0 if prev > 0.0 else 0.0
        s1 += r
        s2 += r * r
        if eq > peak:
            peak = eq
        if eq < peak:
            run += 1
            longest = max(longest, run)
        else:
            run = 0
        dd = (peak - eq) / peak
        if dd > mdd:
            mdd = dd
    sharpe = 0.0
    if n >= 2:
        mean = s1 / n
        var = (s2 - s1 * mean) / (n - 1)
        sd = math.sqrt(var) if var > 1e-30 else 0.0
        if sd > 0.0:
            sharpe = mean / sd
        elif mean != 0.0:
            sharpe = math.inf if mean > 0.0 else -math.inf
    return eq, mdd, sharpe, float(longest)


@njit(cache=True, parallel=True)
def paths_nb(
    steps: np.ndarray, order: np.ndarray, cash: float, additive: bool, out: np.ndarray
) -> None:
    """out[k] = (final equity, max drawdown, per-step Sharpe, longest time under water)
    of steps[order[k]].

    steps: float64[N] trade pnl (additive) or trade / period returns (compounded);
    order: int64[K, L] indices into steps (permutations, or bootstrap draws);
    out: float64[K, 4].
    """
    for k in prange(order.shape[0]):
        path = np.empty(order.shape[1])
        for j in range(order.shape[1]):
            path[j] = steps[order[k, j]]
        f, m, s, u = _path_1d(path, cash, additive)
        out[k, 0] = f
        out[k, 1] = m
        out[k, 2] = s
        out[k, 3] = u

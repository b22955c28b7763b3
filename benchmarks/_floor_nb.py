"""The floor: the least work a numba kernel can do for an SMA-crossover grid.

This is contestant (b) of ``engine_throughput.py``. It computes one rolling mean per
distinct window, then, for every (fast, slow) combination in parallel, runs the
crossover state machine of the always-in reversal rule and keeps only the final
equity and the number of positions opened. No equity curve, no trade records, no
metrics: whatever a full engine does beyond this is overhead measured against it.

Accounting follows ``docs/engine.md`` for this configuration exactly (``fill:
next_open``, ``sizing: fraction``, proportional commission, no stops, the position
still open after the last bar closed at the last close with a fee), so that its final
equity matches stratopt's to rounding and its trade count matches stratopt's
``trades`` metric.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def rolling_means(close: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """Simple moving averages of ``close``, one row per window (NaN during warm-up).

    A running sum per window: ``O(n)`` per window whatever its length.
    """
    n = close.shape[0]
    k = windows.shape[0]
    out = np.empty((k, n))
    for j in prange(k):
        w = windows[j]
        row = out[j]
        s = 0.0
        warm = min(w - 1, n)
        for i in range(warm):
            s += close[i]
            row[i] = np.nan
        for i in range(warm, n):
            s += close[i]
            row[i] = s / w
            s -= close[i - w + 1]
    return out


@njit(parallel=True, cache=True)
def sma_cross_floor(
    open_: np.ndarray,
    close: np.ndarray,
    means: np.ndarray,
    fast_row: np.ndarray,
    slow_row: np.ndarray,
    start: np.ndarray,
    cash0: float,
    commission: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Final equity and number of opened positions for every combination.

    ``means[fast_row[c]]`` and ``means[slow_row[c]]`` are the two averages of
    combination ``c``; ``start[c]`` is the first bar at which both are defined.
    The state is the sign of ``fast - slow`` at the previous bar (0 for a tie or NaN),
    so a strict crossing at bar ``i`` is ``prev == -cur != 0``; its order fills at
    ``open[i+1]`` (a signal on the last bar is never executed). A reversal closes,
    then sizes the new position from the cash left.
    """
    m = fast_row.shape[0]
    n = close.shape[0]
    final_equity = np.empty(m)
    trades = np.zeros(m, dtype=np.int64)
    for c in prange(m):
        fast = means[fast_row[c]]
        slow = means[slow_row[c]]
        cash = cash0
        units = 0.0
        side = 0  # sign of the position held
        opened = 0
        prev = 0
        for i in range(start[c], n - 1):
            d = fast[i] - slow[i]
            cur = 1 if d > 0.0 else (-1 if d < 0.0 else 0)
            if cur != 0 and prev == -cur and cur != side:
                price = open_[i + 1]
                if units != 0.0:
                    cash += units * price
                    cash -= abs(units) * price * commission
                    units = 0.0
                    side = 0
                if cash > 0.0:
                    units = cur * cash / (price * (1.0 + commission))
                    cash -= units * price
                    cash -= abs(units) * price * commission
                    side = cur
                    opened += 1
            prev = cur
        if units != 0.0:
            price = close[n - 1]
            cash += units * price
            cash -= abs(units) * price * commission
        final_equity[c] = cash
        trades[c] = opened
    return final_equity, trades

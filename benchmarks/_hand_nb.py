"""A hand-written numba kernel for the small-data contestant of study_throughput.py.

SMA crossover, always in the market (reverse on each cross), market orders filled at
the next bar's open, whole units of a fraction of equity, commission per side; per
candidate only what a user's own kernel would compute: final equity, trade count and
the annualized Sharpe ratio of the per-bar returns. The moving averages of the distinct
windows are computed once (a running sum), as a user would.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(cache=True)
def sma_rows(close, windows):  # type: ignore[no-untyped-def]
    n = close.shape[0]
    out = np.full((windows.shape[0], n), np.nan)
    for r in range(windows.shape[0]):
        w = windows[r]
        s = 0.0
        for i in range(n):
            s += close[i]
            if i >= w:
                s -= close[i - w]
            if i >= w - 1:
                out[r, i] = s / w
    return out


@njit(cache=True, parallel=True)
def sma_cross_hand(o, c, rows, fast_row, slow_row, cash, commission, size, ppy):  # type: ignore[no-untyped-def]
    n = c.shape[0]
    k = fast_row.shape[0]
    final = np.empty(k)
    trades = np.zeros(k, dtype=np.int64)
    sharpe = np.empty(k)
    for q in prange(k):
        f = rows[fast_row[q]]
        s = rows[slow_row[q]]
        money = cash
        units = 0.0
        pending = 0
        prev = cash
        s1 = 0.0
        s2 = 0.0
        n_tr = 0
        for i in range(n):
            if pending != 0:
                px = o[i]
                if units != 0.0:  # close the position
                    money += units * px - abs(units) * px * commission
                    units = 0.0
                    n_tr += 1
                equity = money
                u = math.floor(size * equity / (px * (1.0 + commission)))
                if u > 0.0:
                    units = pending * u
                    money -= units * px + u * px * commission
                pending = 0
            if i > 0:
                if f[i - 1] < s[i - 1] and f[i] > s[i]:
                    pending = 1
                elif f[i - 1] > s[i - 1] and f[i] < s[i]:
                    pending = -1
            eq = money + units * c[i]
            r = eq / prev - 1.0
            s1 += r
            s2 += r * r
            prev = eq
        if units != 0.0:
            money += units * c[n - 1] - abs(units) * c[n - 1] * commission
            n_tr += 1
        final[q] = money
        trades[q] = n_tr
        mean = s1 / n
        var = (s2 - n * mean * mean) / (n - 1)
        sharpe[q] = mean / math.sqrt(var) * math.sqrt(ppy) if var > 0.0 else 0.0
    return final, trades, sharpe

"""Indicator kernels: float64[n] in, float64[n] out, NaN until the window is full.

Inputs are finite (validated prices, or outputs of these kernels whose leading NaNs
are skipped). Kernels release the GIL, so a sweep computes its indicators on all
cores.
"""

from __future__ import annotations

import math

import numpy as np

from stratopt._njit import njit


@njit(cache=True, nogil=True, called_from_python=False)
def _first_valid(x):  # type: ignore[no-untyped-def]
    for i in range(x.shape[0]):
        if not math.isnan(x[i]):
            return i
    return x.shape[0]


@njit(cache=True, nogil=True)
def sma_nb(x, window):  # type: ignore[no-untyped-def]
    """Simple moving average over `window` bars.

    A Kahan-compensated running sum: as exact as summing each window afresh, so two
    averages that are equal in decimal prices compare equal (a strict crossover then
    does not fire on a tie, as with pandas), at one pass per series.
    """
    n = x.shape[0]
    out = np.full(n, np.nan)
    start = _first_valid(x)
    total = 0.0
    comp = 0.0
    for i in range(start, n):
        y = x[i] - comp
        t = total + y
        comp = (t - total) - y
        total = t
        if i - start >= window:
            y = -x[i - window] - comp
            t = total + y
            comp = (t - total) - y
            total = t
        if i - start >= window - 1:
            out[i] = total / window
    return out


@njit(cache=True, nogil=True, called_from_python=False)
def _kahan_add(total, comp, v):  # type: ignore[no-untyped-def]
    """One step of `sma_nb`'s compensated sum: ``(total, comp)`` after adding ``v``."""
    y = v - comp
    t = total + y
    return t, (t - total) - y


@njit(cache=True, nogil=True)
def sma_rows_nb(x, windows, out, rows):  # type: ignore[no-untyped-def]
    """``out[rows[q]] = sma_nb(x, windows[q])`` for every window, four at a time.

    One call for all the windows of a series: a sweep's 32 moving averages of a few
    thousand bars cost less than the 8 calls (and their arguments) did.
    """
    for b in range(0, windows.shape[0], 4):
        _sma_four_nb(x, windows[b : b + 4], out, rows[b : b + 4])


@njit(cache=True, nogil=True)
def sma_rows_long_nb(x, windows, out, rows):  # type: ignore[no-untyped-def]
    """`sma_rows_nb` eight windows at a time (`_sma_eight_nb`; four or fewer left over
    go through `_sma_four_nb`), the same bits: for long series, where the rows take a
    tenth of an `evaluate_many` call. A kernel of its own, compiled on the first long
    series: compiled into `sma_rows_nb`, the eight lanes lengthened a cold start (a
    study of 5,000 bars) by 0.3-1.4 s in three pairs (benchmarks/README.md, session 19).
    """
    k = windows.shape[0]
    for b in range(0, k, 8):
        if k - b > 4:
            _sma_eight_nb(x, windows[b : b + 8], out, rows[b : b + 8])
        else:
            _sma_four_nb(x, windows[b : b + 4], out, rows[b : b + 4])


@njit(cache=True, nogil=True, called_from_python=False)
def _sma_four_nb(x, windows, out, rows):  # type: ignore[no-untyped-def]
    """`sma_nb` of up to four windows at once: ``out[rows[q]] = sma_nb(x, windows[q])``.

    Bit for bit the same as `sma_nb` (the same operations per window), in one pass:
    one compensated sum is a chain of dependent additions that leaves the core mostly
    waiting, four independent ones fill that time (about 3x the throughput of four
    separate passes on one core). Writes straight into the rows, no temporary array.
    """
    k = windows.shape[0]
    n = x.shape[0]
    start = _first_valid(x)
    # four lanes; fewer windows repeat the last one (the same values, written twice)
    w0 = windows[0]
    w1 = windows[min(1, k - 1)]
    w2 = windows[min(2, k - 1)]
    w3 = windows[min(3, k - 1)]
    r0 = out[rows[0]]
    r1 = out[rows[min(1, k - 1)]]
    r2 = out[rows[min(2, k - 1)]]
    r3 = out[rows[min(3, k - 1)]]
    _nan_leads_nb(x, windows, out, rows, start)
    t0 = c0 = t1 = c1 = t2 = c2 = t3 = c3 = 0.0
    steady = min(n, start + max(w0, w1, w2, w3))
    for i in range(start, steady):
        xi = x[i]
        m = i - start
        t0, c0 = _kahan_add(t0, c0, xi)
        t1, c1 = _kahan_add(t1, c1, xi)
        t2, c2 = _kahan_add(t2, c2, xi)
        t3, c3 = _kahan_add(t3, c3, xi)
        if m >= w0:
            t0, c0 = _kahan_add(t0, c0, -x[i - w0])
        if m >= w1:
            t1, c1 = _kahan_add(t1, c1, -x[i - w1])
        if m >= w2:
            t2, c2 = _kahan_add(t2, c2, -x[i - w2])
        if m >= w3:
            t3, c3 = _kahan_add(t3, c3, -x[i - w3])
        if m >= w0 - 1:
            r0[i] = t0 / w0
        if m >= w1 - 1:
            r1[i] = t1 / w1
        if m >= w2 - 1:
            r2[i] = t2 / w2
        if m >= w3 - 1:
            r3[i] = t3 / w3
    # past the longest window every lane adds and removes on every bar: no branches
    for i in range(steady, n):
        xi = x[i]
        t0, c0 = _kahan_add(t0, c0, xi)
        t1, c1 = _kahan_add(t1, c1, xi)
        t2, c2 = _kahan_add(t2, c2, xi)
        t3, c3 = _kahan_add(t3, c3, xi)
        t0, c0 = _kahan_add(t0, c0, -x[i - w0])
        t1, c1 = _kahan_add(t1, c1, -x[i - w1])
        t2, c2 = _kahan_add(t2, c2, -x[i - w2])
        t3, c3 = _kahan_add(t3, c3, -x[i - w3])
        r0[i] = t0 / w0
        r1[i] = t1 / w1
        r2[i] = t2 / w2
        r3[i] = t3 / w3


@njit(cache=True, nogil=True, called_from_python=False)
def _sma_eight_nb(x, windows, out, rows):  # type: ignore[no-untyped-def]
    """`_sma_four_nb` with eight lanes: ``out[rows[q]] = sma_nb(x, windows[q])`` for
    five to eight windows (fewer than eight repeat the last one), the same operations
    per window.

    Four compensated sums still leave the adders waiting on each bar's chain of
    dependent additions (about 24 cycles a bar for the four); eight fill that time:
    1.32 against 1.76 ms a row of 1M bars on Zen 4 (benchmarks/README.md, session 19).
    Written out lane by lane so that every sum stays in a register.
    """
    k = windows.shape[0]
    n = x.shape[0]
    start = _first_valid(x)
    w0, w1, w2, w3 = windows[0], windows[1], windows[2], windows[3]
    w4 = windows[min(4, k - 1)]
    w5 = windows[min(5, k - 1)]
    w6 = windows[min(6, k - 1)]
    w7 = windows[min(7, k - 1)]
    r0, r1, r2, r3 = out[rows[0]], out[rows[1]], out[rows[2]], out[rows[3]]
    r4 = out[rows[min(4, k - 1)]]
    r5 = out[rows[min(5, k - 1)]]
    r6 = out[rows[min(6, k - 1)]]
    r7 = out[rows[min(7, k - 1)]]
    _nan_leads_nb(x, windows, out, rows, start)
    t0 = c0 = t1 = c1 = t2 = c2 = t3 = c3 = 0.0
    t4 = c4 = t5 = c5 = t6 = c6 = t7 = c7 = 0.0
    steady = min(n, start + max(w0, w1, w2, w3, w4, w5, w6, w7))
    for i in range(start, steady):
        xi = x[i]
        m = i - start
        t0, c0 = _kahan_add(t0, c0, xi)
        t1, c1 = _kahan_add(t1, c1, xi)
        t2, c2 = _kahan_add(t2, c2, xi)
        t3, c3 = _kahan_add(t3, c3, xi)
        t4, c4 = _kahan_add(t4, c4, xi)
        t5, c5 = _kahan_add(t5, c5, xi)
        t6, c6 = _kahan_add(t6, c6, xi)
        t7, c7 = _kahan_add(t7, c7, xi)
        t0, c0 = _kahan_sub_from(t0, c0, x, i, w0, m)
        t1, c1 = _kahan_sub_from(t1, c1, x, i, w1, m)
        t2, c2 = _kahan_sub_from(t2, c2, x, i, w2, m)
        t3, c3 = _kahan_sub_from(t3, c3, x, i, w3, m)
        t4, c4 = _kahan_sub_from(t4, c4, x, i, w4, m)
        t5, c5 = _kahan_sub_from(t5, c5, x, i, w5, m)
        t6, c6 = _kahan_sub_from(t6, c6, x, i, w6, m)
        t7, c7 = _kahan_sub_from(t7, c7, x, i, w7, m)
        _mean_into(r0, i, t0, w0, m)
        _mean_into(r1, i, t1, w1, m)
        _mean_into(r2, i, t2, w2, m)
        _mean_into(r3, i, t3, w3, m)
        _mean_into(r4, i, t4, w4, m)
        _mean_into(r5, i, t5, w5, m)
        _mean_into(r6, i, t6, w6, m)
        _mean_into(r7, i, t7, w7, m)
    # past the longest window every lane adds and removes on every bar: no branches
    for i in range(steady, n):
        xi = x[i]
        t0, c0 = _kahan_slide(t0, c0, xi, x[i - w0])
        t1, c1 = _kahan_slide(t1, c1, xi, x[i - w1])
        t2, c2 = _kahan_slide(t2, c2, xi, x[i - w2])
        t3, c3 = _kahan_slide(t3, c3, xi, x[i - w3])
        t4, c4 = _kahan_slide(t4, c4, xi, x[i - w4])
        t5, c5 = _kahan_slide(t5, c5, xi, x[i - w5])
        t6, c6 = _kahan_slide(t6, c6, xi, x[i - w6])
        t7, c7 = _kahan_slide(t7, c7, xi, x[i - w7])
        r0[i] = t0 / w0
        r1[i] = t1 / w1
        r2[i] = t2 / w2
        r3[i] = t3 / w3
        r4[i] = t4 / w4
        r5[i] = t5 / w5
        r6[i] = t6 / w6
        r7[i] = t7 / w7


@njit(cache=True, nogil=True, inline="always")
def _nan_leads_nb(x, windows, out, rows, start):  # type: ignore[no-untyped-def]
    """NaN in ``out[rows[q]]`` before the first full window of ``windows[q]`` bars (the
    series ``x`` valid from bar ``start``)."""
    n = x.shape[0]
    for q in range(windows.shape[0]):
        row = out[rows[q]]
        for i in range(min(n, start + windows[q] - 1)):
            row[i] = np.nan


@njit(cache=True, nogil=True, inline="always")
def _kahan_slide(total, comp, v, old):  # type: ignore[no-untyped-def]
    """`_kahan_add` of ``v``, then of ``-old``: a window's sum one bar on."""
    total, comp = _kahan_add(total, comp, v)
    return _kahan_add(total, comp, -old)


@njit(cache=True, nogil=True, inline="always")
def _kahan_sub_from(total, comp, x, i, w, m):  # type: ignore[no-untyped-def]
    """`_kahan_add` of ``-x[i - w]`` once the window of ``w`` bars is full (``m >= w``
    bars since the first valid one); else the sum as it is."""
    if m >= w:
        return _kahan_add(total, comp, -x[i - w])
    return total, comp


@njit(cache=True, nogil=True, inline="always")
def _mean_into(row, i, total, w, m):  # type: ignore[no-untyped-def]
    """``row[i] = total / w`` once the window of ``w`` bars is full at bar ``i``."""
    if m >= w - 1:
        row[i] = total / w


@njit(cache=True, nogil=True)
def ema_nb(x, window):  # type: ignore[no-untyped-def]
    """Exponential moving average, alpha = 2/(window+1), seeded with the first SMA."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    start = _first_valid(x)
    if n - start < window:
        return out
    alpha = 2.0 / (window + 1.0)
    seed = 0.0
    for i in range(start, start + window):
        seed += x[i]
    value = seed / window
    out[start + window - 1] = value
    for i in range(start + window, n):
        value = value + alpha * (x[i] - value)
        out[i] = value
    return out


@njit(cache=True, nogil=True)
def rsi_nb(x, window):  # type: ignore[no-untyped-def]
    """Wilder's RSI: smoothed gains / losses with alpha = 1/window, seeded by their mean."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    start = _first_valid(x)
    if n - start <= window:
        return out
    gain = 0.0
    loss = 0.0
    for i in range(start + 1, start + window + 1):
        d = x[i] - x[i - 1]
        if d > 0:
            gain += d
        else:
            loss -= d
    gain /= window
    loss /= window
    for i in range(start + window, n):
        if i > start + window:
            d = x[i] - x[i - 1]
            gain = (gain * (window - 1) + (d if d > 0 else 0.0)) / window
            loss = (loss * (window - 1) + (-d if d < 0 else 0.0)) / window
        if loss == 0.0:
            out[i] = 100.0 if gain > 0.0 else 50.0
        else:
            out[i] = 100.0 - 100.0 / (1.0 + gain / loss)
    return out


@njit(cache=True, nogil=True)
def rolling_std_nb(x, window):  # type: ignore[no-untyped-def]
    """Population standard deviation over `window` bars (Bollinger's convention)."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    start = _first_valid(x)
    for i in range(start + window - 1, n):
        mean = 0.0
        for k in range(i - window + 1, i + 1):
            mean += x[k]
        mean /= window
        acc = 0.0
        for k in range(i - window + 1, i + 1):
            d = x[k] - mean
            acc += d * d
        out[i] = math.sqrt(acc / window)
    return out


@njit(cache=True, nogil=True)
def rolling_max_nb(x, window):  # type: ignore[no-untyped-def]
    """Highest value of the last `window` bars (monotonic deque, O(n))."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    start = _first_valid(x)
    dq = np.empty(n, dtype=np.int64)
    head = 0
    tail = 0
    for i in range(start, n):
        while tail > head and x[dq[tail - 1]] <= x[i]:
            tail -= 1
        dq[tail] = i
        tail += 1
        if dq[head] <= i - window:
            head += 1
        if i - start >= window - 1:
            out[i] = x[dq[head]]
    return out


@njit(cache=True, nogil=True)
def rolling_min_nb(x, window):  # type: ignore[no-untyped-def]
    """Lowest value of the last `window` bars."""
    return -rolling_max_nb(-x, window)

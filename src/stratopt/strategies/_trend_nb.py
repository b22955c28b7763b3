"""Trend and range kernels over high/low/close: Wilder's ATR and ADX, and the regime of
the hedge grid (docs/grid.md §6).

float64[n] in, float64[n] (or int8[n]) out, NaN until the window is full; inputs are
validated prices (finite, positive, low <= close <= high).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def true_range_nb(h, lo, c):  # type: ignore[no-untyped-def]
    """True range: ``h - lo`` on the first bar, then ``max(h - lo, |h - c[-1]|, |lo - c[-1]|)``."""
    n = c.shape[0]
    out = np.empty(n)
    for i in range(n):
        r = h[i] - lo[i]
        if i > 0:
            r = max(r, abs(h[i] - c[i - 1]), abs(lo[i] - c[i - 1]))
        out[i] = r
    return out


@njit(cache=True, nogil=True)
def atr_nb(h, lo, c, window):  # type: ignore[no-untyped-def]
    """Wilder's average true range: the mean of the first `window` true ranges, then
    ``atr = (atr * (window - 1) + tr) / window``."""
    n = c.shape[0]
    out = np.full(n, np.nan)
    if n < window:
        return out
    tr = true_range_nb(h, lo, c)
    value = 0.0
    for i in range(window):
        value += tr[i]
    value /= window
    out[window - 1] = value
    for i in range(window, n):
        value = (value * (window - 1) + tr[i]) / window
        out[i] = value
    return out


@njit(cache=True, nogil=True)
def adx_nb(h, lo, c, window):  # type: ignore[no-untyped-def]
    """Wilder's average directional index, 0..100.

    From bar 1: ``+DM = up`` when ``up = h - h[-1]`` exceeds ``down = lo[-1] - lo`` and 0,
    else 0 (``-DM`` mirrored); true range, +DM and -DM are smoothed by Wilder's sums
    (the first sum over bars 1..window, then ``s = s - s / window + x``);
    ``DX = 100 * |+DI - -DI| / (+DI + -DI)`` (0 when both are 0); ADX is the mean of
    the first `window` DX values, then smoothed like the ATR. Defined from bar
    ``2 * window - 1``.
    """
    n = c.shape[0]
    out = np.full(n, np.nan)
    if n < 2 * window:
        return out
    s_tr = 0.0
    s_pdm = 0.0
    s_ndm = 0.0
    adx = 0.0
    for i in range(1, n):
        up = h[i] - h[i - 1]
        down = lo[i - 1] - lo[i]
        pdm = up if up > down and up > 0.0 else 0.0
        ndm = down if down > up and down > 0.0 else 0.0
        tr = max(h[i] - lo[i], abs(h[i] - c[i - 1]), abs(lo[i] - c[i - 1]))
        if i <= window:
            s_tr += tr
            s_pdm += pdm
            s_ndm += ndm
            if i < window:
                continue
        else:
            s_tr = s_tr - s_tr / window + tr
            s_pdm = s_pdm - s_pdm / window + pdm
            s_ndm = s_ndm - s_ndm / window + ndm
        if s_tr > 0.0:
            pdi = 100.0 * s_pdm / s_tr
            ndi = 100.0 * s_ndm / s_tr
        else:
            pdi = 0.0
            ndi = 0.0
        dx = 100.0 * abs(pdi - ndi) / (pdi + ndi) if pdi + ndi > 0.0 else 0.0
        # the DX of bar i is the (i - window + 1)-th
        m = i - window + 1
        if m < window:
            adx += dx
        elif m == window:
            adx = (adx + dx) / window
            out[i] = adx
        else:
            adx = (adx * (window - 1) + dx) / window
            out[i] = adx
    return out


ADX_TREND = 25.0
UP = 1
DOWN = -1
SIDEWAYS = 0


@njit(cache=True, nogil=True)
def regime_sides_nb(close, fast, slow, atr, adx, hysteresis_bps):  # type: ignore[no-untyped-def]
    """The active sides of each bar from the hedge grid's regime (docs/grid.md §6):
    UP -> 2 (short ladder), DOWN -> 1 (long ladder), SIDEWAYS -> 3 (both), 0 while any
    input is NaN (warm-up). Uses data up to each bar's close only."""
    n = close.shape[0]
    out = np.zeros(n, dtype=np.int8)
    state = SIDEWAYS
    started = False
    for i in range(n):
        a = atr[i]
        x = adx[i]
        spread = fast[i] - slow[i]
        if math.isnan(a) or math.isnan(x) or math.isnan(spread):
            continue
        if not started:
            started = True
            state = SIDEWAYS
        band = hysteresis_bps / 10000 * close[i]
        trend = x >= ADX_TREND
        enter_up = trend and spread > a + band
        enter_down = trend and spread < -(a + band)
        if state == UP:
            if not (trend and spread > a - band):
                state = DOWN if enter_down else SIDEWAYS
        elif state == DOWN:
            if not (trend and spread < -(a - band)):
                state = UP if enter_up else SIDEWAYS
        elif enter_up:
            state = UP
        elif enter_down:
            state = DOWN
        out[i] = 2 if state == UP else (1 if state == DOWN else 3)
    return out

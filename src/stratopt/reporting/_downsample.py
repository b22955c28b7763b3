"""Fewer points for display, keeping what the eye reads from a curve.

An equity curve of 100,000 bars drawn as 100,000 SVG points makes a slow, heavy page and
shows nothing more than 4,000 do. `minmax_indices` keeps, in each of `max_points / 2`
equal buckets of bars, the bar with the lowest and the bar with the highest value (and
the first and last bar): every peak and trough a bucket holds stays, so a drawdown's
depth on screen is the curve's true depth. The number of points shown is stated on the
page.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MAX_POINTS", "minmax_indices", "step_change_indices"]

MAX_POINTS = 4000  # per trace


def minmax_indices(values: np.ndarray, max_points: int = MAX_POINTS) -> np.ndarray:
    """Sorted positions of at most `max_points` points of `values` (see the module).

    NaN values are never chosen as a bucket's min or max (a bucket of NaN only
    contributes nothing). All positions when there are at most `max_points`.
    """
    v = np.asarray(values, dtype=np.float64)
    n = v.size
    if n <= max_points:
        return np.arange(n)
    if max_points < 4:
        raise ValueError(f"max_points must be >= 4, got {max_points}")
    buckets = (max_points - 2) // 2
    size = math.ceil(n / buckets)
    padded = np.full(buckets * size, np.nan)
    padded[:n] = v
    grid = padded.reshape(buckets, size)
    valid = ~np.isnan(grid)
    has = valid.any(axis=1)
    lo = np.where(valid, grid, np.inf).argmin(axis=1)
    hi = np.where(valid, grid, -np.inf).argmax(axis=1)
    base = np.arange(buckets) * size
    keep = np.concatenate(([0, n - 1], (base + lo)[has], (base + hi)[has]))
    return np.unique(keep)


def step_change_indices(values: np.ndarray) -> np.ndarray:
    """Positions where a step function (a best-so-far line) changes, with its ends.

    Drawn with `line_shape="hv"` these positions give exactly the full line.
    """
    v = np.asarray(values, dtype=np.float64)
    n = v.size
    if n <= 2:
        return np.arange(n)
    same = (v[1:] == v[:-1]) | (np.isnan(v[1:]) & np.isnan(v[:-1]))
    changes = np.flatnonzero(~same) + 1
    return np.unique(np.concatenate(([0], changes, [n - 1])))

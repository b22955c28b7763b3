"""Binned 2-D summaries of trials: the median objective per cell, never a raw scatter.

Thousands of trials drawn as dots per parameter pair hide where the good region is
(dots overlap, and TPE piles them up near the best). A cell holds every trial whose two
parameters fall in it; its colour is their median objective and its hover gives how many
trials it holds, so a cell built on one lucky trial is visible as such.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from stratopt.reporting._format import number

__all__ = ["MAX_BINS", "Axis", "Grid", "axis_bins", "binned_median"]

MAX_BINS = 20  # per axis; a parameter with at most this many values gets one bin each


@dataclass(frozen=True)
class Axis:
    """How one parameter's values map to bins.

    `edges` (numeric bins, `len(labels) + 1` of them) or `values` (one bin per distinct
    value, for lists, categories and small integer ranges).
    """

    name: str
    labels: tuple[str, ...]
    edges: np.ndarray | None = None
    values: tuple[Any, ...] | None = None
    log: bool = False

    def bin_of(self, values: Sequence[Any] | np.ndarray) -> np.ndarray:
        """The bin of each value (-1 when it falls in none)."""
        if self.values is not None:
            lookup = {_key(v): i for i, v in enumerate(self.values)}
            return np.array([lookup.get(_key(v), -1) for v in values], dtype=np.int64)
        assert self.edges is not None
        x = np.asarray(values, dtype=np.float64)
        idx = np.searchsorted(self.edges, x, side="right") - 1
        idx[x == self.edges[-1]] = len(self.labels) - 1  # the top edge belongs to the last bin
        idx[(x < self.edges[0]) | (x > self.edges[-1]) | ~np.isfinite(x)] = -1
        return idx.astype(np.int64)


def _key(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, np.generic):
        return _key(value.item())
    return value


def axis_bins(name: str, values: Sequence[Any], *, log: bool = False) -> Axis:
    """Bins for a parameter from the values its trials took.

    At most `MAX_BINS` distinct values (or any non-numeric value): one bin per value,
    in sorted order. Otherwise `MAX_BINS` equal-width bins over the observed range,
    equal on a log scale when the dimension is searched on one.
    """
    series = pd.Series(list(values)).dropna()
    distinct = sorted({_key(v) for v in series}, key=lambda v: (isinstance(v, str), v))
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in distinct)
    if len(distinct) <= MAX_BINS or not numeric:
        return Axis(name, tuple(_label(v) for v in distinct), values=tuple(distinct))
    x = series.to_numpy(dtype=np.float64)
    lo, hi = float(x.min()), float(x.max())
    use_log = log and lo > 0
    if use_log:
        edges = np.geomspace(lo, hi, MAX_BINS + 1)
    else:
        edges = np.linspace(lo, hi, MAX_BINS + 1)
    labels = tuple(f"{number(a)}–{number(b)}" for a, b in zip(edges[:-1], edges[1:], strict=True))
    return Axis(name, labels, edges=edges, log=use_log)


def _label(value: Any) -> str:
    if isinstance(value, float):
        return number(value)
    return str(value)


@dataclass(frozen=True)
class Grid:
    """`median[j, i]` and `count[j, i]`: trials with y in bin j and x in bin i."""

    x: Axis
    y: Axis
    median: np.ndarray
    count: np.ndarray
    trials: int


def binned_median(x: Axis, y: Axis, xs: Sequence[Any], ys: Sequence[Any], z: np.ndarray) -> Grid:
    """The median of `z` per (x bin, y bin) cell; NaN where a cell holds no trial."""
    zi = np.asarray(z, dtype=np.float64)
    bx, by = x.bin_of(xs), y.bin_of(ys)
    ok = (bx >= 0) & (by >= 0) & np.isfinite(zi)
    nx, ny = len(x.labels), len(y.labels)
    median = np.full((ny, nx), math.nan)
    count = np.zeros((ny, nx), dtype=np.int64)
    if ok.any():
        frame = pd.DataFrame({"i": bx[ok], "j": by[ok], "z": zi[ok]})
        grouped = frame.groupby(["j", "i"])["z"]
        med, cnt = grouped.median(), grouped.size()
        jj = med.index.get_level_values(0).to_numpy()
        ii = med.index.get_level_values(1).to_numpy()
        median[jj, ii] = med.to_numpy()
        count[jj, ii] = cnt.to_numpy()
    return Grid(x, y, median, count, int(ok.sum()))

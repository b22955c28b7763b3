"""Binned 2-D summaries of trials: the median objective per cell, never a raw scatter.

Thousands of trials drawn as dots per parameter pair hide where the good region is
(dots overlap, and TPE piles them up near the best). A cell holds every trial whose two
parameters fall in it; its colour is their median objective and its hover gives how many
trials it holds, so a cell built on one lucky trial is visible as such.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from stratopt.reporting._format import number
from stratopt.search import Choice, Dimension, FloatRange, IntRange

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


def axis_bins(name: str, values: Sequence[Any], *, dim: Dimension | None = None) -> Axis:
    """Bins for a parameter over its searched range (`dim`), else over its values.

    A list, or a range of at most `MAX_BINS` grid values: one bin per value, visited or
    not, so the axis is spaced as the space is. A wider range: `MAX_BINS` bins of equal
    width (whole numbers for an integer range, equal on a log scale for a log range).
    Without `dim`, the same from the values the trials took.
    """
    if isinstance(dim, Choice):
        ordered = _sorted_values(dim.values)
        return Axis(name, tuple(_label(v) for v in ordered), values=tuple(map(_key, ordered)))
    if isinstance(dim, IntRange | FloatRange):
        return _range_bins(name, dim)
    return _observed_bins(name, values)


def _sorted_values(values: Sequence[Any]) -> list[Any]:
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    return sorted(values) if numeric else list(values)


def _range_bins(name: str, dim: IntRange | FloatRange) -> Axis:
    if dim.is_discrete and dim.grid_size() <= MAX_BINS:
        grid = [_key(v) for v in dim.grid_values()]
        return Axis(name, tuple(_label(v) for v in grid), values=tuple(grid))
    top = float(dim.grid_value(dim.grid_size() - 1)) if dim.is_discrete else float(dim.high)
    if isinstance(dim, IntRange) and not dim.log and dim.step == 1:
        return _integer_bins(name, int(dim.low), int(top))
    return _equal_bins(name, float(dim.low), top, log=bool(dim.log))


def _equal_bins(name: str, lo: float, hi: float, *, log: bool) -> Axis:
    use_log = log and lo > 0
    edges = np.geomspace(lo, hi, MAX_BINS + 1) if use_log else np.linspace(lo, hi, MAX_BINS + 1)
    labels = tuple(f"{number(a)}–{number(b)}" for a, b in itertools.pairwise(edges))
    return Axis(name, labels, edges=edges, log=use_log)


def _observed_bins(name: str, values: Sequence[Any]) -> Axis:
    series = pd.Series(list(values)).dropna()
    distinct = sorted({_key(v) for v in series}, key=lambda v: (isinstance(v, str), v))
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in distinct)
    if len(distinct) <= MAX_BINS or not numeric:
        return Axis(name, tuple(_label(v) for v in distinct), values=tuple(distinct))
    x = series.to_numpy(dtype=np.float64)
    lo, hi = float(x.min()), float(x.max())
    if all(isinstance(v, int) for v in distinct):
        return _integer_bins(name, int(lo), int(hi))
    return _equal_bins(name, lo, hi, log=False)


def _integer_bins(name: str, lo: int, hi: int) -> Axis:
    """Bins of whole numbers, `[a, b]` inclusive, all of one width: `2–3`, `4–5`, ..."""
    width = math.ceil((hi - lo + 1) / MAX_BINS)
    starts = np.arange(lo, hi + 1, width)
    # Edges half a unit outside each run of integers, so every integer has one bin.
    edges = np.append(starts - 0.5, starts[-1] + width - 0.5).astype(np.float64)
    ends = np.minimum(starts + width - 1, hi)
    labels = tuple(f"{a}–{b}" if b > a else str(a) for a, b in zip(starts, ends, strict=True))
    return Axis(name, labels, edges=edges)


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

"""Window arithmetic: holdout cut, walk-forward windows, CPCV splits and paths.

Pure functions over a sorted time axis (or a bar count); every bound is a bar position
and every interval is half-open, ``[start, stop)``. Formulas are in docs/validation.md.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from stratopt.config import Span, parse_holdout, parse_span
from stratopt.data import as_ns
from stratopt.errors import ConfigError

__all__ = [
    "CpcvPlan",
    "CpcvSplit",
    "Window",
    "cpcv_plan",
    "holdout_start",
    "walk_forward_windows",
]


def holdout_start(
    time: npt.ArrayLike, holdout: object, *, field: str = "validation.holdout", min_bars: int = 2
) -> int:
    """Position of the first holdout bar on a sorted time axis.

    A fraction `f` keeps ``h = floor(n * f + 0.5)`` bars (rounded half up) for the holdout:
    the cut is ``n - h``. A date keeps every bar at or after it. Both sides must keep at
    least `min_bars` bars.

    Raises:
        ConfigError: bad value, or a side with fewer than `min_bars` bars.
    """
    ns = as_ns(time)
    n = int(ns.shape[0])
    spec = parse_holdout(holdout, field=field)
    if isinstance(spec, float):
        cut = n - math.floor(n * spec + 0.5)
    else:
        cut = int(np.searchsorted(ns, spec.value, side="left"))
    if cut < min_bars or n - cut < min_bars:
        first, last = (pd.Timestamp(ns[0]), pd.Timestamp(ns[-1])) if n else (None, None)
        raise ConfigError(
            f"{field}: {holdout!r} leaves {cut} bar(s) for the search and {n - cut} for the "
            f"holdout; both need at least {min_bars} (the data covers {first} to {last}, "
            f"{n} bars)"
        )
    return cut


# ---- walk-forward ---------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """One walk-forward window: train ``[train_start, train_stop)``, test after it."""

    index: int
    train_start: int
    train_stop: int
    test_start: int
    test_stop: int

    @property
    def train_bars(self) -> int:
        return self.train_stop - self.train_start

    @property
    def test_bars(self) -> int:
        return self.test_stop - self.test_start


@dataclass(frozen=True)
class _Axis:
    """Positions <-> times on a sorted axis; the end of data is one bar past the last."""

    ns: npt.NDArray[np.int64]
    interval: int

    def pos(self, point: int | _Time) -> int:
        if isinstance(point, _Time):
            return int(np.searchsorted(self.ns, point.ns, side="left"))
        return point

    def at(self, point: int | _Time) -> _Time:
        if isinstance(point, _Time):
            return point
        n = self.ns.shape[0]
        if point < n:
            return _Time(int(self.ns[point]))
        return _Time(int(self.ns[-1]) + (point - n + 1) * self.interval)

    @property
    def end_ns(self) -> int:
        return int(self.ns[-1]) + self.interval

    def advance(self, point: int | _Time, span: Span) -> int | _Time:
        if isinstance(span, int):
            return self.pos(point) + span
        return _Time(self.at(point).ns + int(span.value))


@dataclass(frozen=True)
class _Time:
    ns: int


def _span_times(span: Span, k: int) -> Span:
    return span * k if isinstance(span, int) else pd.Timedelta(int(span.value) * k, unit="ns")


def walk_forward_windows(
    time: npt.ArrayLike,
    *,
    train: object,
    test: object,
    step: object | None = None,
    mode: Literal["rolling", "anchored"] = "rolling",
    purge: object = 0,
    field: str = "validation.walk_forward",
    min_bars: int = 2,
) -> list[Window]:
    """The walk-forward windows over a sorted time axis.

    With ``B(k) = start + train + k * step`` (the end of train window `k`):

    * rolling: train ``[start + k * step, B(k))``; anchored: train ``[start, B(k))``;
    * test ``[B(k) + purge, B(k) + purge + test)``;
    * windows ``k = 0, 1, ...`` while the test window ends within the data.

    Lengths in bars move by positions; durations move in time from the first bar (so
    windows never drift) and a time maps to the first bar at or after it. The data ends
    one bar interval (the median spacing) after its last timestamp. `step` defaults to
    `test` (test windows tile the data). `train`, `test` and `step` must all be bars or
    all durations; `purge` may be either.

    Raises:
        ConfigError: a bad length, mixed units, no complete window, or a window with
            fewer than `min_bars` bars; the message names the field and value.
    """
    ns = as_ns(time)
    n = int(ns.shape[0])
    tr = parse_span(train, field=f"{field}.train")
    te = parse_span(test, field=f"{field}.test")
    st = te if step is None else parse_span(step, field=f"{field}.step")
    gap = parse_span(purge, field=f"{field}.purge", allow_zero=True)
    if mode not in ("rolling", "anchored"):
        raise ConfigError(f"{field}.mode: expected 'rolling' or 'anchored', got {mode!r}")
    kinds = {isinstance(s, int) for s in (tr, te, st)}
    if len(kinds) > 1:
        raise ConfigError(
            f"{field}: train, test and step must all be bars or all durations, got "
            f"train={train!r}, test={test!r}, step={step if step is not None else test!r}"
        )
    if n < 2:
        raise ConfigError(f"{field}: the data has {n} bar(s); walk-forward needs more")
    interval = int(np.median(np.diff(ns)))
    axis = _Axis(ns, interval)
    origin: int | _Time = 0 if isinstance(tr, int) else _Time(int(ns[0]))
    windows: list[Window] = []
    for k in itertools.count():
        boundary = axis.advance(origin, _span_times(tr, 1) + _span_times(st, k))  # type: ignore[operator]
        start = origin if mode == "anchored" else axis.advance(origin, _span_times(st, k))
        # No purge: the test opens at the boundary itself, so that a boundary time
        # falling between bars is not moved to a bar before the test length is added.
        test_start = boundary if _is_zero(gap) else axis.advance(boundary, gap)
        test_stop = axis.advance(test_start, te)
        if _beyond(axis, test_stop, n):
            break
        w = Window(k, axis.pos(start), axis.pos(boundary), axis.pos(test_start),
                   axis.pos(test_stop))  # fmt: skip
        if w.train_bars < min_bars or w.test_bars < min_bars:
            which = "train" if w.train_bars < min_bars else "test"
            raise ConfigError(
                f"{field}.{which}: window {k} holds {getattr(w, which + '_bars')} bar(s) "
                f"({which}={train if which == 'train' else test!r}); at least {min_bars} needed"
            )
        windows.append(w)
    if not windows:
        raise ConfigError(
            f"{field}: train={train!r} + purge={purge!r} + test={test!r} does not fit in the "
            f"data ({n} bars, {pd.Timestamp(ns[0])} to {pd.Timestamp(ns[-1])}); "
            "no complete window"
        )
    return windows


def _is_zero(span: Span) -> bool:
    return span == 0 if isinstance(span, int) else span == pd.Timedelta(0)


def _beyond(axis: _Axis, point: int | _Time, n: int) -> bool:
    if isinstance(point, _Time):
        return point.ns > axis.end_ns
    return point > n


# ---- combinatorial purged cross-validation --------------------------------------------


@dataclass(frozen=True)
class CpcvSplit:
    """One CPCV split: its test groups, and the bar positions it trains and tests on."""

    index: int
    test_groups: tuple[int, ...]
    train: npt.NDArray[np.int64]
    test: npt.NDArray[np.int64]


@dataclass(frozen=True)
class CpcvPlan:
    """Groups, splits and backtest paths of combinatorial purged cross-validation.

    Attributes:
        bounds: ``(start, stop)`` of each of the N groups.
        splits: the ``C(N, k)`` splits, test groups in lexicographic order.
        paths: ``paths[j][g]`` is the split whose test result fills group `g` of path
            `j`; there are ``C(N-1, k-1)`` paths.
    """

    n_bars: int
    groups: int
    test_groups: int
    purge: int
    embargo: int
    bounds: tuple[tuple[int, int], ...]
    splits: tuple[CpcvSplit, ...]
    paths: tuple[tuple[int, ...], ...]

    @property
    def n_splits(self) -> int:
        return len(self.splits)

    @property
    def n_paths(self) -> int:
        return len(self.paths)


def cpcv_plan(
    n_bars: int,
    *,
    groups: int,
    test_groups: int,
    purge: int = 0,
    embargo: int = 0,
    field: str = "validation.cpcv",
) -> CpcvPlan:
    """Split ``n_bars`` bars into `groups` contiguous groups and form every split.

    Group `g` holds bars ``[floor(g T / N), floor((g+1) T / N))``. Each split tests
    `test_groups` groups and trains on the rest, minus `purge` bars before and `embargo`
    bars after each contiguous block of test groups. The j-th split (in order) testing
    group `g` fills group `g` of path `j`, so every path covers every group once.

    Raises:
        ConfigError: ``groups < 2``, ``test_groups`` not in ``[1, groups)``, negative
            purge/embargo, groups of fewer than 2 bars, or a split left with no train bar.
    """
    for name, value, least in (("groups", groups, 2), ("test_groups", test_groups, 1),
                               ("purge", purge, 0), ("embargo", embargo, 0)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
            raise ConfigError(f"{field}.{name}: expected an integer >= {least}, got {value!r}")
    if test_groups >= groups:
        raise ConfigError(
            f"{field}.test_groups: must be less than groups={groups}, got {test_groups!r}"
        )
    if n_bars < 2 * groups:
        raise ConfigError(
            f"{field}.groups: {groups} groups of {n_bars} bars leave fewer than 2 bars a group"
        )
    edges = [g * n_bars // groups for g in range(groups + 1)]
    bounds = tuple((edges[g], edges[g + 1]) for g in range(groups))
    splits = []
    for i, combo in enumerate(itertools.combinations(range(groups), test_groups)):
        test = np.zeros(n_bars, dtype=bool)
        for g in combo:
            test[bounds[g][0] : bounds[g][1]] = True
        train = ~test
        for a, b in _blocks(test):
            train[max(0, a - purge) : a] = False
            train[b : b + embargo] = False
        if not train.any():
            raise ConfigError(
                f"{field}: purge={purge} and embargo={embargo} leave split {combo} no train bar"
            )
        splits.append(CpcvSplit(i, combo, np.flatnonzero(train), np.flatnonzero(test)))
    n_paths = math.comb(groups - 1, test_groups - 1)
    per_group: list[list[int]] = [[] for _ in range(groups)]
    for s in splits:
        for g in s.test_groups:
            per_group[g].append(s.index)
    assert all(len(p) == n_paths for p in per_group)  # each group is tested C(N-1, k-1) times
    paths = tuple(tuple(per_group[g][j] for g in range(groups)) for j in range(n_paths))
    return CpcvPlan(n_bars, groups, test_groups, purge, embargo, bounds, tuple(splits), paths)


def _blocks(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """``(start, stop)`` of each run of True in `mask`."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]

"""Folds over the development samples, purged and embargoed so no label crosses a test block.

Sample `t` (a bar) has the label interval ``[t, t + reach]`` with ``reach = lag +
horizon``: its features are known at `t` and its label reads closes up to ``t + reach``.
Two samples are independent only when their intervals are disjoint, ``|s - t| > reach``.
So a training sample must be at least `purge >= reach` bars before a test block, and, when
training data follows the block (CPCV), at least ``purge + embargo`` bars after its last
sample; the embargo adds a margin for serial dependence that labels do not show.

The development samples are the bars before the holdout whose label ends before it:
``[0, holdout_start - reach)``. Neither stage sees a holdout bar (docs/ml.md).

Walk-forward folds come from `stratopt.validation.walk_forward_windows` (train, then a gap
of `purge` bars, then the test block); CPCV from `stratopt.validation.cpcv_plan` with the
embargo widened to ``purge + embargo``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from stratopt.errors import ConfigError
from stratopt.validation import cpcv_plan, walk_forward_windows

__all__ = ["Fold", "FoldPlan", "inner_split", "plan_folds", "runs"]


@dataclass(frozen=True, eq=False)
class Fold:
    """One fit: the sample positions it trains on and those it predicts."""

    index: int
    train: np.ndarray
    test: np.ndarray


@dataclass(frozen=True, eq=False)
class FoldPlan:
    """Every fold, and which fold predicts each bar of each backtest path.

    Attributes:
        scheme: ``walk_forward`` or ``cpcv``.
        folds: The folds, in order.
        paths: Per path, per bar of the development span, the fold whose prediction it
            uses (-1: none). Walk-forward has one path; CPCV ``C(N-1, k-1)``.
        n_samples: Development samples ``[0, n_samples)``.
        purge: Bars dropped before (and, for CPCV, after) each test block.
        embargo: Further bars dropped after each test block when training follows it.
    """

    scheme: str
    folds: tuple[Fold, ...]
    paths: np.ndarray
    n_samples: int
    purge: int
    embargo: int

    def boundaries(self) -> list[dict[str, Any]]:
        """Each fold's train and test blocks as ``[start, stop)`` runs (the cache key's)."""
        return [{"fold": f.index, "train": runs(f.train), "test": runs(f.test)} for f in self.folds]


def runs(positions: np.ndarray) -> list[list[int]]:
    """Sorted positions as ``[start, stop)`` runs of consecutive values."""
    p = np.asarray(positions, dtype=np.int64)
    if p.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(p) != 1)
    starts = np.concatenate(([p[0]], p[breaks + 1]))
    stops = np.concatenate((p[breaks] + 1, [p[-1] + 1]))
    return [[int(a), int(b)] for a, b in zip(starts, stops, strict=True)]


@dataclass(frozen=True)
class FoldSettings:
    """The `folds:` section, resolved: scheme, spans and gaps in bars."""

    scheme: Literal["walk_forward", "cpcv"] = "walk_forward"
    mode: Literal["anchored", "rolling"] = "anchored"
    train: int | str | None = None
    test: int | str | None = None
    step: int | str | None = None
    groups: int = 6
    test_groups: int = 2
    purge: int = 0
    embargo: int = 0


def plan_folds(time: np.ndarray, n_samples: int, settings: FoldSettings) -> FoldPlan:
    """The folds over development samples ``[0, n_samples)`` of the time axis `time`.

    Raises:
        ConfigError: spans that leave no complete fold, or a fold with no training sample.
    """
    if n_samples < 4:
        raise ConfigError(
            f"holdout: leaves {n_samples} development samples after the label's reach; "
            "more data or a smaller holdout is needed"
        )
    if settings.scheme == "cpcv":
        return _cpcv(n_samples, settings)
    return _walk_forward(time[:n_samples], n_samples, settings)


def _walk_forward(time: np.ndarray, n: int, s: FoldSettings) -> FoldPlan:
    train: int | str = s.train if s.train is not None else max(2, n // 2)
    if s.test is not None:
        test: int | str = s.test
    else:
        first = train if isinstance(train, int) else n // 2
        test = max(2, (n - first - s.purge) // 4)
    windows = walk_forward_windows(
        time, train=train, test=test, step=s.step, mode=s.mode, purge=s.purge, field="folds"
    )
    folds = []
    path = np.full(n, -1, dtype=np.int64)
    for w in windows:
        tr = np.arange(w.train_start, w.train_stop, dtype=np.int64)
        te = np.arange(w.test_start, w.test_stop, dtype=np.int64)
        folds.append(Fold(w.index, tr, te))
        path[te] = w.index  # a later window overrides an overlap (step < test)
    return FoldPlan("walk_forward", tuple(folds), path[None, :], n, s.purge, s.embargo)


def _cpcv(n: int, s: FoldSettings) -> FoldPlan:
    plan = cpcv_plan(
        n,
        groups=s.groups,
        test_groups=s.test_groups,
        purge=s.purge,
        embargo=s.purge + s.embargo,  # after a block: the label reach, then the embargo
        field="folds",
    )
    folds = tuple(Fold(sp.index, sp.train, sp.test) for sp in plan.splits)
    paths = np.full((len(plan.paths), n), -1, dtype=np.int64)
    for j, per_group in enumerate(plan.paths):
        for g, split in enumerate(per_group):
            a, b = plan.bounds[g]
            paths[j, a:b] = split
    return FoldPlan("cpcv", folds, paths, n, s.purge, s.embargo)


def inner_split(train: np.ndarray, *, fraction: float, purge: int) -> tuple[np.ndarray, np.ndarray]:
    """Early stopping's split of a training set: fit on the head, validate on the tail.

    The tail is the last `fraction` of the training samples (in time); the head loses the
    `purge` bars before the tail, so no fit label overlaps a validation label. With too
    few samples for both, the tail is empty (no early stopping).
    """
    t = np.asarray(train, dtype=np.int64)
    n_tail = int(len(t) * fraction)
    if n_tail < 2 or len(t) - n_tail < 2:
        return t, t[:0]
    cut = int(t[len(t) - n_tail])
    head = t[t < cut - purge]
    tail = t[t >= cut]
    if head.size < 2:
        return t, t[:0]
    return head, tail

"""Drawdown episodes of an equity curve, with the running peak starting at the cash.

The peak starts at the cash, as the `max_drawdown` metric's does (docs/metrics.md), so
the deepest episode here has the metric's depth on the same bars.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Episode", "drawdown_episodes", "underwater"]


def underwater(equity: np.ndarray, cash: float) -> np.ndarray:
    """`equity / running peak - 1` per bar (0 at a new high, negative below it)."""
    e = np.asarray(equity, dtype=np.float64)
    peak = np.maximum.accumulate(np.maximum(e, cash))
    return e / peak - 1.0


@dataclass(frozen=True)
class Episode:
    """One drawdown: from a peak to the deepest point, and back (or not) to the peak.

    Positions are bar indices; `recovery` is None while the equity is still below it.
    """

    peak: int
    trough: int
    recovery: int | None
    depth: float  # a positive fraction of the peak


def drawdown_episodes(equity: np.ndarray, cash: float, worst: int = 10) -> list[Episode]:
    """The `worst` deepest episodes, deepest first (ties: the earlier first)."""
    dd = underwater(equity, cash)
    below = dd < 0
    if not below.any():
        return []
    edges = np.diff(np.concatenate(([0], below.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)  # the first bar back at the peak (or n)
    out = []
    n = dd.size
    for s, e in zip(starts, ends, strict=True):
        trough = int(s + np.argmin(dd[s:e]))
        out.append(
            Episode(
                peak=int(s - 1) if s > 0 else 0,
                trough=trough,
                recovery=int(e) if e < n else None,
                depth=float(-dd[trough]),
            )
        )
    out.sort(key=lambda ep: (-ep.depth, ep.peak))
    return out[:worst]

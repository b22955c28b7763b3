"""The `drawdowns` section: episodes under water, the top-N table, time under water.

Definitions: docs/analysis.md ("drawdowns").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from stratopt.analysis._curve import Curve, under_water

__all__ = ["Episode", "drawdown_episodes", "drawdown_section"]


@dataclass(frozen=True)
class Episode:
    """One maximal run of bars under water, bars `start … end` (positions)."""

    start: int
    end: int
    valley: int
    depth: float
    recovered: bool

    @property
    def peak(self) -> int:
        return self.start - 1

    @property
    def recovery(self) -> int | None:
        return self.end + 1 if self.recovered else None


def drawdown_episodes(equity: np.ndarray, cash: float) -> list[Episode]:
    """Every episode in time order."""
    dd, under = under_water(equity, cash)
    n = equity.shape[0]
    if not under.any():
        return []
    edge = np.diff(np.concatenate(([False], under, [False])).astype(np.int8))
    starts = np.flatnonzero(edge == 1)
    ends = np.flatnonzero(edge == -1) - 1
    out = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        v = s + int(np.argmax(dd[s : e + 1]))
        out.append(Episode(s, e, v, float(dd[v]), recovered=e + 1 < n))
    return out


def drawdown_section(curve: Curve, *, top: int = 5) -> dict[str, Any]:
    """The top-`top` table by depth, the episode count, time under water, the current one."""
    episodes = drawdown_episodes(curve.equity, curve.cash)
    n = len(curve)
    dd, under = under_water(curve.equity, curve.cash)
    ranked = sorted(episodes, key=lambda ep: (-ep.depth, ep.start))[:top]
    last = episodes[-1] if episodes and not episodes[-1].recovered else None
    return {
        "table": [_row(curve, ep) for ep in ranked],
        "episodes": len(episodes),
        "time_under_water": float(under.sum() / n) if n else 0.0,
        "current": {
            "depth": float(dd[-1]) if n else 0.0,
            "bars": (last.end - last.start + 1) if last else 0,
        },
        "max_drawdown": curve.metrics["max_drawdown"],
        "max_drawdown_duration": curve.metrics["max_drawdown_duration"],
    }


def _row(curve: Curve, ep: Episode) -> dict[str, Any]:
    times = curve.index
    recovery = ep.recovery
    return {
        "peak": str(times[max(ep.peak, 0)]),
        "peak_bar": ep.peak,
        "valley": str(times[ep.valley]),
        "valley_bar": ep.valley,
        "recovery": str(times[recovery]) if recovery is not None else "not recovered",
        "recovery_bar": recovery,
        "depth": ep.depth,
        "bars_to_valley": ep.valley - ep.peak,
        "bars_to_recovery": recovery - ep.peak if recovery is not None else None,
        "bars_under_water": ep.end - ep.start + 1,
    }

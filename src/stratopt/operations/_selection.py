"""How many candidates a study backtested, and their Sharpe moments, across cleanups.

The deflated Sharpe ratio deflates the best by the number of candidates tried (N) and
the variance of their Sharpe ratios. `cleanup` deletes trials, so before it does it
records both as a study attribute (`stratopt.storage.ATTR_SELECTION`); the statistics
then count the recorded candidates plus those run after the cleanup, never only the
survivors (which would flatter the best).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Counted", "counted", "selection_record"]


@dataclass(frozen=True)
class Counted:
    """Distinct candidates backtested (`n`) and the moments of their finite `sharpe`
    metrics (count, mean, sum of squared deviations); `cleanup`: the record they
    include (None when the study was never cleaned up)."""

    n: int
    sharpe_count: int
    sharpe_mean: float
    sharpe_m2: float
    cleanup: Mapping[str, Any] | None = None

    @property
    def sharpe_variance(self) -> float:
        """The sample variance (ddof 1) of the trials' annualized Sharpe ratios."""
        return self.sharpe_m2 / (self.sharpe_count - 1) if self.sharpe_count >= 2 else 0.0


def _sharpe(trials: pd.DataFrame) -> np.ndarray:
    if "metrics.sharpe" not in trials:
        return np.zeros(0)
    s = trials["metrics.sharpe"].to_numpy(dtype=np.float64)
    finite: np.ndarray = s[np.isfinite(s)]
    return finite


def _of(trials: pd.DataFrame) -> Counted:
    s = _sharpe(trials)
    if s.size == 0:
        return Counted(len(trials), 0, 0.0, 0.0)
    mean = float(s.mean())
    return Counted(len(trials), int(s.size), mean, float(((s - mean) ** 2).sum()))


def _merge(a: Counted, b: Counted, cleanup: Mapping[str, Any]) -> Counted:
    """Chan et al.'s pairwise update of count, mean and M2."""
    count = a.sharpe_count + b.sharpe_count
    if b.sharpe_count == 0 or a.sharpe_count == 0:
        one = a if b.sharpe_count == 0 else b
        return Counted(a.n + b.n, count, one.sharpe_mean, one.sharpe_m2, cleanup)
    delta = b.sharpe_mean - a.sharpe_mean
    mean = a.sharpe_mean + delta * b.sharpe_count / count
    m2 = a.sharpe_m2 + b.sharpe_m2 + delta**2 * a.sharpe_count * b.sharpe_count / count
    return Counted(a.n + b.n, count, mean, m2, cleanup)


def counted(ran: pd.DataFrame, selection: Mapping[str, Any] | None) -> Counted:
    """What the statistics count, from the distinct backtested trials `ran` of the
    stored study and its cleanup record `selection` (None: no cleanup).

    After a cleanup the kept trials are numbered from 0 and are among the recorded
    candidates; trials numbered from `kept` on ran after it and are added.
    """
    if not selection:
        return _of(ran)
    sharpe = selection["sharpe"]
    before = Counted(
        int(selection["n_backtested"]), int(sharpe["count"]), float(sharpe["mean"]),
        float(sharpe["m2"]),
    )  # fmt: skip
    after = ran[ran["trial"] >= int(selection["kept"])] if len(ran) else ran
    return _merge(before, _of(after), selection)


def selection_record(
    ran: pd.DataFrame, selection: Mapping[str, Any] | None, *, kept: int, deleted: int
) -> dict[str, Any]:
    """The study attribute a cleanup that keeps `kept` trials and deletes `deleted`
    writes before deleting (`selection`: the one an earlier cleanup wrote)."""
    now = counted(ran, selection)
    previous = selection or {}
    return {
        "n_backtested": now.n,
        "sharpe": {"count": now.sharpe_count, "mean": now.sharpe_mean, "m2": now.sharpe_m2},
        "kept": kept,
        "deleted": int(previous.get("deleted", 0)) + deleted,
        "cleanups": int(previous.get("cleanups", 0)) + 1,
    }

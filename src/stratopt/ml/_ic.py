"""Information coefficients: how well predictions rank what happened next.

Cross-sectional (Qlib's `calc_ic`): on each date, the Pearson correlation (IC) and the
Spearman correlation (rank IC: Pearson of average ranks, so ties share a rank) between
the predictions and the labels of the assets that have both. A date with fewer than 2
such assets, or with no variance in either, has no IC and is skipped. Over the dates:
mean, standard deviation (ddof 1), IR = mean / std, and the standard error of the mean
``std / sqrt(n)``.

Time series (one asset, or assets pooled): the same correlation over the bars of each
block of `block` consecutive test bars instead of over the assets of a date.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["IcSummary", "block_ic", "per_date_ic", "summarize"]


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    # Constant values: no correlation. Tested on the values themselves, as their centred
    # sum of squares is a rounding residue (1e-33), not zero, when the mean is inexact.
    if x.max() == x.min() or y.max() == y.min():
        return math.nan
    dx = x - x.mean()
    dy = y - y.mean()
    sxx = float(np.dot(dx, dx))
    syy = float(np.dot(dy, dy))
    if sxx == 0.0 or syy == 0.0:
        return math.nan
    return float(np.dot(dx, dy)) / math.sqrt(sxx * syy)


def correlation(pred: np.ndarray, label: np.ndarray, *, rank: bool) -> float:
    """Pearson (or Spearman with `rank`) over the pairs where both are finite."""
    ok = np.isfinite(pred) & np.isfinite(label)
    if int(ok.sum()) < 2:
        return math.nan
    x, y = pred[ok], label[ok]
    if rank:
        x, y = _ranks(x), _ranks(y)
    return _pearson(x, y)


def _ranks(x: np.ndarray, axis: int = 0) -> np.ndarray:
    # Imported here: scipy.stats takes ~0.5 s to import, and every CLI command imports
    # this module (through the `ml` commands) while only the ML stages rank.
    from scipy.stats import rankdata

    return np.asarray(rankdata(x, axis=axis))


def per_date_ic(pred: np.ndarray, label: np.ndarray, *, rank: bool) -> np.ndarray:
    """One IC per row (date) of (T, N) predictions and labels; NaN where undefined.

    Rows where every asset has both values are computed together; the others one by one.
    """
    p = np.asarray(pred, dtype=np.float64)
    y = np.asarray(label, dtype=np.float64)
    out = np.full(p.shape[0], np.nan)
    full = (np.isfinite(p) & np.isfinite(y)).all(axis=1)
    if p.shape[1] >= 2 and full.any():
        x, z = p[full], y[full]
        if rank:
            x, z = _ranks(x, axis=1), _ranks(z, axis=1)
        out[full] = _row_pearson(x, z)
    for t in np.flatnonzero(~full):
        out[t] = correlation(p[t], y[t], rank=rank)
    return out


def _row_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    dx = x - x.mean(axis=1, keepdims=True)
    dy = y - y.mean(axis=1, keepdims=True)
    sxx = np.einsum("ij,ij->i", dx, dx)
    syy = np.einsum("ij,ij->i", dy, dy)
    sxy = np.einsum("ij,ij->i", dx, dy)
    ok = (np.ptp(x, axis=1) > 0) & (np.ptp(y, axis=1) > 0) & (sxx > 0) & (syy > 0)
    out = np.full(x.shape[0], np.nan)
    out[ok] = sxy[ok] / np.sqrt(sxx[ok] * syy[ok])
    return out


def block_ic(
    pred: np.ndarray, label: np.ndarray, rows: np.ndarray, *, block: int, rank: bool
) -> np.ndarray:
    """One IC per block of `block` consecutive rows of `rows` (all assets pooled).

    A last block shorter than half a block joins the one before it.
    """
    r = np.asarray(rows, dtype=np.int64)
    n_blocks = max(1, len(r) // block)
    if len(r) - n_blocks * block >= block / 2:
        n_blocks += 1
    edges = [min(len(r), k * block) for k in range(n_blocks)] + [len(r)]
    out = []
    for a, b in itertools.pairwise(edges):
        idx = r[a:b]
        out.append(correlation(pred[idx].ravel(), label[idx].ravel(), rank=rank))
    return np.array(out)


@dataclass(frozen=True)
class IcSummary:
    """Mean, std (ddof 1), IR and standard error of per-date (or per-block) ICs."""

    mean: float
    std: float
    ir: float
    se: float
    n: int

    def to_dict(self, prefix: str) -> dict[str, Any]:
        return {
            f"{prefix}": self.mean,
            f"{prefix}_std": self.std,
            f"{prefix}ir" if prefix.endswith("ic") else f"{prefix}_ir": self.ir,
            f"{prefix}_se": self.se,
        }


def summarize(values: np.ndarray) -> IcSummary:
    """Summary of the defined ICs (NaN dates skipped)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n == 0:
        return IcSummary(math.nan, math.nan, math.nan, math.nan, 0)
    mean = float(v.mean())
    if n < 2:
        return IcSummary(mean, math.nan, math.nan, math.nan, n)
    std = float(v.std(ddof=1))
    ir = mean / std if std > 0 else math.nan
    return IcSummary(mean, std, ir, std / math.sqrt(n), n)

"""The `correlation` section: how two or more candidates move together.

Definitions: docs/analysis.md ("correlation").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from stratopt.analysis._curve import Curve, period_returns, under_water

__all__ = ["correlation_section", "effective_candidates"]

MIN_SHARED_BARS = 3


def effective_candidates(corr: np.ndarray) -> float:
    """(Σλ)² / Σλ² of a correlation matrix = M² / Σ_ij ρ_ij²."""
    eig = np.linalg.eigvalsh(np.asarray(corr, dtype=np.float64))
    return float(eig.sum() ** 2 / np.sum(eig**2))


def _clean_corr(frame: pd.DataFrame, method: str) -> pd.DataFrame:
    """Correlation with 0 for a constant column against the others and 1 on the diagonal."""
    corr = frame.corr(method=method).fillna(0.0)  # type: ignore[arg-type]
    values = corr.to_numpy(copy=True)
    np.fill_diagonal(values, 1.0)
    return pd.DataFrame(values, index=corr.index, columns=corr.columns)


def _matrix(corr: pd.DataFrame) -> dict[str, dict[str, float]]:
    return {str(a): {str(b): float(corr.loc[a, b]) for b in corr.columns} for a in corr.index}


def _aligned(curves: Sequence[Curve], *, daily: bool) -> pd.DataFrame:
    cols = {
        c.label: period_returns(c, "day") if daily else pd.Series(c.returns, index=c.index)
        for c in curves
    }
    return pd.concat(cols, axis=1, join="inner")


def _overlap(curves: Sequence[Curve], shared: pd.DatetimeIndex) -> dict[str, dict[str, float]]:
    masks = {}
    for c in curves:
        under = pd.Series(under_water(c.equity, c.cash)[1], index=c.index)
        masks[c.label] = under.loc[shared].to_numpy()
    out: dict[str, dict[str, float]] = {}
    for a, ma in masks.items():
        out[a] = {}
        for b, mb in masks.items():
            either = int((ma | mb).sum())
            out[a][b] = float((ma & mb).sum() / either) if either else 0.0
    return out


def _cluster_order(corr: pd.DataFrame) -> list[str]:
    labels = [str(c) for c in corr.columns]
    if len(labels) < 3:
        return labels
    # scipy.cluster takes half a second to import: only with three candidates or more
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    dist = np.sqrt(np.clip((1.0 - corr.to_numpy()) / 2.0, 0.0, None))
    np.fill_diagonal(dist, 0.0)
    tree = linkage(squareform(dist, checks=False), method="average")
    return [labels[i] for i in leaves_list(tree)]


def correlation_section(curves: Sequence[Curve]) -> dict[str, Any]:
    """Correlations, drawdown overlap, cluster order and the effective number of candidates."""
    if len(curves) < 2:
        return {"available": False, "reason": "needs two or more candidates"}
    per_bar = _aligned(curves, daily=False)
    if len(per_bar) < MIN_SHARED_BARS:
        return {
            "available": False,
            "reason": f"the candidates share {len(per_bar)} bar times; {MIN_SHARED_BARS} needed",
        }
    daily = _aligned(curves, daily=True)
    pearson = _clean_corr(per_bar, "pearson")
    out: dict[str, Any] = {
        "shared_bars": len(per_bar),
        "pearson": _matrix(pearson),
        "spearman": _matrix(_clean_corr(per_bar, "spearman")),
    }
    if len(daily) >= MIN_SHARED_BARS:
        out["pearson_daily"] = _matrix(_clean_corr(daily, "pearson"))
        out["spearman_daily"] = _matrix(_clean_corr(daily, "spearman"))
    out["drawdown_overlap"] = _overlap(curves, pd.DatetimeIndex(per_bar.index))
    out["cluster_order"] = _cluster_order(pearson)
    out["effective_candidates"] = effective_candidates(pearson.to_numpy())
    return out

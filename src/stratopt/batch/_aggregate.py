"""From task results to batch.csv rows, metric matrices and per-parameter-set summaries.

Rank consistency across markets is Kendall's coefficient of concordance W (Kendall &
Babington Smith, 1939), with the correction for ties: each series (symbol/timeframe)
ranks the parameter sets by the metric, and W is 1 when every series ranks them alike,
0 when the rankings share nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from stratopt.batch._series import Series
from stratopt.batch._tasks import TaskResult
from stratopt.metrics import METRIC_IDS, get_metric

__all__ = ["batch_frame", "kendalls_w", "metric_matrix", "set_labels", "set_summaries"]


def set_labels(params: Sequence[Mapping[str, Any]]) -> list[str]:
    """`fast=10 slow=40` per parameter set; `#i ` in front when two sets read the same."""
    text = [" ".join(f"{k}={v}" for k, v in p.items()) or "(defaults)" for p in params]
    if len(set(text)) == len(text):
        return text
    return [f"#{i} {t}" for i, t in enumerate(text)]


def batch_frame(
    series: Sequence[Series],
    params: Sequence[Mapping[str, Any]],
    results: Mapping[str, TaskResult],
) -> pd.DataFrame:
    """One row per series × parameter set (series outer), every metric and `error`."""
    n_sets, n_series = len(params), len(series)
    values = np.full((n_series, n_sets, len(METRIC_IDS)), np.nan)
    errors: list[list[str | None]] = [[s.error] * n_sets for s in series]
    for res in results.values():
        values[res.task.series, list(res.task.sets)] = res.metrics
        for i, err in zip(res.task.sets, res.errors, strict=True):
            errors[res.task.series][i] = err
    per_series = {
        "symbol": [s.symbol for s in series],
        "timeframe": [s.timeframe for s in series],
        "source": [s.source for s in series],
        "bars": [len(s.bars) if s.bars is not None else 0 for s in series],
        "start": [str(s.bars.index[0]) if s.bars is not None else "" for s in series],
        "end": [str(s.bars.index[-1]) if s.bars is not None else "" for s in series],
    }
    keys = sorted({k for p in params for k in p})
    per_set: dict[str, list[Any]] = {
        "set": list(range(n_sets)),
        "label": set_labels(params),
        **{f"params.{k}": [p.get(k) for p in params] for k in keys},
        "params": [json.dumps(dict(p), sort_keys=True, default=str) for p in params],
    }
    first = ("symbol", "timeframe")
    cols: dict[str, Any] = {k: np.repeat(np.asarray(per_series[k], dtype=object), n_sets)
                            for k in first}  # fmt: skip
    cols.update({k: np.tile(np.asarray(v, dtype=object), n_series) for k, v in per_set.items()})
    cols.update({k: np.repeat(np.asarray(v, dtype=object), n_sets)
                 for k, v in per_series.items() if k not in first})  # fmt: skip
    flat = values.reshape(n_series * n_sets, len(METRIC_IDS))
    cols.update({m: flat[:, j] for j, m in enumerate(METRIC_IDS)})
    cols["error"] = [e or "" for row in errors for e in row]
    frame = pd.DataFrame(cols)
    return frame.astype({"set": np.int64, "bars": np.int64})


def metric_matrix(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows `SYMBOL/TF`, columns the parameter sets' labels, values `metric` (NaN: error)."""
    rows = frame["symbol"].astype(str) + "/" + frame["timeframe"].astype(str)
    wide = (
        frame.assign(row=rows)
        .pivot(index="row", columns="set", values=metric)
        .reindex(index=pd.unique(rows), columns=sorted(frame["set"].unique()))
    )
    labels = frame.drop_duplicates("set").set_index("set")["label"]
    wide.columns = [labels[c] for c in wide.columns]
    wide.index.name = "series"
    return wide


def kendalls_w(values: np.ndarray, *, higher_is_better: bool = True) -> dict[str, Any]:
    """W of a (series × sets) matrix over the sets that ran somewhere (a set that failed
    on every series is left out) and the series on which all of those ran.

    Returns:
        `w`, `series` (rows used), `sets` (columns used), `chi2` = m (n - 1) W and its
        `pvalue` (χ² with n - 1 degrees of freedom), and `ranks` (mean rank per set of
        the input, 1 = best, NaN for a set left out); `w` is None with a `reason` when
        fewer than 2 rows or 2 sets are usable.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 2:
        x = x.reshape(0, 0)
    used = np.asarray(~np.isnan(x).all(axis=0), dtype=bool)
    x = x[:, used]
    rows = x[~np.isnan(x).any(axis=1)]
    m, n = rows.shape
    if m < 2 or n < 2:
        why = "needs 2 or more series and 2 or more parameter sets without error"
        return {"w": None, "series": m, "sets": n, "reason": why}
    # Imported here: scipy.stats takes ~0.5 s to import, and every CLI command imports
    # this module (through stratopt.operations) while few compute Kendall's W.
    from scipy.stats import chi2 as chi2_dist
    from scipy.stats import rankdata

    ranks = np.vstack([rankdata(-r if higher_is_better else r) for r in rows])
    totals = ranks.sum(axis=0)
    s = float(((totals - totals.mean()) ** 2).sum())
    ties = 0.0
    for r in ranks:
        _, counts = np.unique(r, return_counts=True)
        ties += float((counts**3 - counts).sum())
    denom = m * m * (n**3 - n) - m * ties
    w = 12.0 * s / denom if denom > 0 else 1.0  # every row all tied: nothing disagrees
    chi2 = m * (n - 1) * w
    return {
        "w": w, "series": m, "sets": n, "chi2": chi2,
        "pvalue": float(chi2_dist.sf(chi2, n - 1)),
        "ranks": _spread(used, totals / m),
    }  # fmt: skip


def _spread(used: np.ndarray, values: np.ndarray) -> list[float]:
    out = np.full(used.shape[0], np.nan)
    out[used] = values
    return [float(v) for v in out]


def _finite_median(v: np.ndarray) -> float:
    return float(np.median(v)) if v.size else math.nan


def set_summaries(frame: pd.DataFrame, metric: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per parameter set: cells, errors, median and worst of `metric`, fraction profitable.

    A cell with an error counts in `cells` and as not profitable; the median and the
    worst are over the cells that ran. Returns the list and Kendall's W.
    """
    info = get_metric(metric)
    matrix = metric_matrix(frame, metric)
    w = kendalls_w(matrix.to_numpy(), higher_is_better=info.higher_is_better)
    ranks = w.get("ranks") or [math.nan] * matrix.shape[1]
    out = []
    for (set_id, group), rank in zip(frame.groupby("set", sort=True), ranks, strict=True):
        ok = group["error"] == ""
        vals = group.loc[ok, metric].to_numpy(dtype=np.float64)
        vals = vals[~np.isnan(vals)]
        worst = (vals.min() if info.higher_is_better else vals.max()) if vals.size else math.nan
        out.append({
            "set": int(str(set_id)),
            "label": str(group["label"].iloc[0]),
            "params": json.loads(group["params"].iloc[0]),
            "cells": len(group),
            "errors": int((~ok).sum()),
            "median": _finite_median(vals),
            "worst": float(worst),
            "fraction_profitable": float((group["total_return"] > 0).sum() / len(group)),
            "median_total_return": _finite_median(
                group.loc[ok, "total_return"].dropna().to_numpy(dtype=np.float64)
            ),
            "mean_rank": float(rank),
        })  # fmt: skip
    return out, {k: v for k, v in w.items() if k != "ranks"} | {"metric": metric}

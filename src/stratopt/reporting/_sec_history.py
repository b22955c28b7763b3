"""Sections 2 and 3: the optimization history (or Pareto front) and parameter importance."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from stratopt.reporting._blocks import BEST, GREY, Figure, Note, Section, figure
from stratopt.reporting._candidates import (
    completed_trials,
    objective_labels,
    objective_metric,
    value_columns,
)
from stratopt.reporting._downsample import step_change_indices
from stratopt.reporting._format import count
from stratopt.reporting._inputs import StoredRun

__all__ = ["best_so_far", "history_section", "importance_section", "pareto_front", "sample_trials"]

_STATE_Y = {"pruned": "pruned", "fail": "failed", "failed": "failed"}


def best_so_far(values: np.ndarray, direction: str) -> np.ndarray:
    """The best value among the trials up to each one (trials in number order)."""
    v = np.where(np.isfinite(values), values, -np.inf if direction == "maximize" else np.inf)
    out = np.maximum.accumulate(v) if direction == "maximize" else np.minimum.accumulate(v)
    return np.where(np.isfinite(out), out, np.nan)


def sample_trials(n: int, keep: np.ndarray, max_points: int) -> np.ndarray:
    """Positions of at most `max_points` of `n` trials: all of `keep`, the rest evenly spaced."""
    if n <= max_points:
        return np.arange(n)
    room = max(max_points - keep.size, 0)
    spread = np.linspace(0, n - 1, room).round().astype(np.int64) if room else np.empty(0, int)
    return np.unique(np.concatenate((keep.astype(np.int64), spread)))[:max_points]


def _trials_in_order(run: StoredRun) -> pd.DataFrame:
    ranked = run.ranked
    return ranked.sort_values("trial", kind="stable") if "trial" in ranked else ranked


def _hover(frame: pd.DataFrame, limit: int = 6) -> list[str]:
    cols = [c for c in frame.columns if str(c).startswith("params.")][:limit]
    out = []
    for row in frame[cols].itertuples(index=False):
        out.append("<br>".join(f"{c[7:]}={v}" for c, v in zip(cols, row, strict=True)))
    return out


def _single_history(run: StoredRun, max_trials: int) -> tuple[Figure, str]:
    trials = _trials_in_order(run)
    direction = run.directions[0]
    done = trials[trials["state"] == "complete"]
    values = pd.to_numeric(done["value"], errors="coerce").to_numpy(dtype=np.float64)
    numbers = done["trial"].to_numpy()
    record = best_so_far(values, direction)
    changes = step_change_indices(record)
    shown = sample_trials(len(done), changes, max_trials)
    traces: list[dict[str, Any]] = [
        {
            "x": numbers[shown],
            "y": values[shown],
            "mode": "markers",
            "name": "completed",
            "marker": {"size": 5, "color": BEST, "opacity": 0.55},
            "text": _hover(done.iloc[shown]),
            "hovertemplate": "trial %{x}<br>value %{y:.4g}<br>%{text}<extra></extra>",
        },
        {
            "x": numbers[changes],
            "y": record[changes],
            "mode": "lines",
            "name": "best so far",
            "line": {"shape": "hv", "color": "#111827", "width": 2},
            "hoverinfo": "skip",
        },
    ]
    traces += _rejected_traces(run, trials, max_trials)
    layout = {
        "xaxis": {"anchor": "y", "showticklabels": False},
        "yaxis": {
            "title": {"text": str(run.summary.get("objective", "objective"))},
            "domain": [0.2, 1.0],
        },
        "yaxis2": {"domain": [0.0, 0.12], "type": "category", "showgrid": False},
        "xaxis2": {"matches": "x", "anchor": "y2", "title": {"text": "trial"}},
    }
    sampling = f"{count(len(shown))} of {count(len(done))} completed trials drawn"
    if len(shown) < len(done):
        sampling += " (every trial that set a new best, the rest evenly spaced)"
    sampling += "; the best-so-far line uses every completed trial"
    return figure("fig-history", traces, layout, height=420), sampling


def _reasons(frame: pd.DataFrame) -> pd.Series:
    """Why each trial was pruned or failed (a run may store neither column: ml's stages)."""
    out = pd.Series("", index=frame.index, dtype="string")
    for col in ("pruned", "error"):
        if col in frame:
            out = out + frame[col].astype("string").fillna("")
    return out


def _rejected_traces(run: StoredRun, trials: pd.DataFrame, max_trials: int) -> list[dict[str, Any]]:
    """Pruned candidates with a measured objective metric, and the rest as a rug below."""
    metric = objective_metric(run)
    col = f"metrics.{metric}" if metric else None
    rejected = trials[trials["state"].isin(["pruned", "fail"])]
    out: list[dict[str, Any]] = []
    if rejected.empty:
        return out
    measured = pd.Series(False, index=rejected.index)
    if col is not None and col in rejected and len(run.directions) == 1:
        y = pd.to_numeric(rejected[col], errors="coerce")
        measured = (rejected["state"] == "pruned") & y.notna()
        part = rejected[measured]
        pick = sample_trials(len(part), np.empty(0, int), max_trials)
        out.append(
            {
                "x": part["trial"].to_numpy()[pick],
                "y": y[measured].to_numpy()[pick],
                "mode": "markers",
                "name": f"infeasible ({metric} as measured)",
                "marker": {"symbol": "x-thin-open", "size": 6, "color": "#9aa0a8"},
                "text": _reasons(part).to_numpy()[pick].tolist(),
                "hovertemplate": "trial %{x}<br>"
                + str(metric)
                + " %{y:.4g}<br>%{text}<extra></extra>",
            }
        )
    rug = rejected[~measured]
    if not rug.empty:
        pick = sample_trials(len(rug), np.empty(0, int), max_trials)
        states = rug["state"].map(_STATE_Y).to_numpy()[pick]
        reasons = _reasons(rug)
        out.append(
            {
                "x": rug["trial"].to_numpy()[pick],
                "y": states,
                "xaxis": "x2",
                "yaxis": "y2",
                "mode": "markers",
                "name": "pruned / failed (no value)",
                "marker": {"symbol": "line-ns-open", "size": 8, "color": "#d1495b"},
                "text": reasons.to_numpy()[pick].tolist(),
                "hovertemplate": "trial %{x}: %{y}<br>%{text}<extra></extra>",
            }
        )
    return out


def pareto_front(points: np.ndarray, directions: list[str]) -> np.ndarray:
    """Positions of the non-dominated rows of `points` (one column per objective)."""
    sign = np.array([1.0 if d == "maximize" else -1.0 for d in directions])
    p = points * sign
    order = np.lexsort(tuple(-p[:, k] for k in reversed(range(p.shape[1]))))
    front: list[int] = []
    for i in order:
        row = p[i]
        if not np.isfinite(row).all():
            continue
        if front:
            f = p[front]
            if (np.all(f >= row, axis=1) & np.any(f > row, axis=1)).any():
                continue
        front.append(int(i))
    return np.array(sorted(front), dtype=np.int64)


def _pareto_figure(run: StoredRun, max_trials: int) -> tuple[Figure, str]:
    cols = value_columns(run)
    done = completed_trials(run)
    pts = done[cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    front = pareto_front(pts, run.directions)
    shown = sample_trials(len(done), front, max_trials)
    labels = objective_labels(run)
    hover = _hover(done)
    fx = front[np.argsort(pts[front, 0])]
    traces = [
        {
            "x": pts[shown, 0],
            "y": pts[shown, 1],
            "mode": "markers",
            "name": "completed",
            "marker": {"size": 5, "color": GREY},
            "text": [hover[i] for i in shown],
            "hovertemplate": "%{x:.4g}, %{y:.4g}<br>%{text}<extra></extra>",
        },
        {
            "x": pts[fx, 0],
            "y": pts[fx, 1],
            "mode": "lines+markers",
            "name": "Pareto front",
            "line": {"shape": "hv", "color": BEST},
            "marker": {"size": 8, "color": BEST},
            "text": [hover[i] for i in fx],
            "hovertemplate": "%{x:.4g}, %{y:.4g}<br>%{text}<extra></extra>",
        },
    ]
    layout = {
        "xaxis": {"title": {"text": labels[0]}},
        "yaxis": {"title": {"text": labels[1]}},
    }
    extra = f" (the first two of {len(cols)} objectives)" if len(cols) > 2 else ""
    sampling = (
        f"{count(len(shown))} of {count(len(done))} completed trials drawn{extra}; "
        f"the front ({count(len(front))} trials) is drawn in full"
    )
    return figure("fig-pareto", traces, layout, height=440), sampling


def history_section(run: StoredRun, max_trials: int) -> Section | None:
    """2: value per trial with feasible/pruned/failed markers and the best-so-far line."""
    if run.ranked.empty or "state" not in run.ranked:
        return None
    if len(run.directions) > 1:
        fig, sampling = _pareto_figure(run, max_trials)
        how = (
            "Each dot is a completed trial; the line joins the Pareto front, the trials "
            "no other trial beats on every objective."
        )
    else:
        fig, sampling = _single_history(run, max_trials)
        how = (
            "Each dot is a completed trial in the order it ran; the black step is the best "
            "so far. Grey crosses failed a requirement; red ticks below were pruned or "
            "failed without a value."
        )
    return Section("history", "Optimization history", how, sampling, (fig,))


def importance_section(run: StoredRun) -> Section | None:
    """3: PED-ANOVA importance of each parameter, per objective (as stored)."""
    importance = (run.section("robustness") or {}).get("importance")
    if not isinstance(importance, Mapping):
        return None
    per = [p for p in importance.get("per_objective") or [] if isinstance(p, Mapping)]
    if not per or not any(p.get("importances") for p in per):
        reason = importance.get("error") or importance.get("reason")
        if not reason:
            return None
        return Section("importance", "Parameter importance", "", "", (Note(str(reason), "warn"),))
    traces = []
    for i, p in enumerate(per):
        items = sorted((p.get("importances") or {}).items(), key=lambda kv: kv[1])
        traces.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": str(p.get("objective", i)),
                "x": [float(v) for _, v in items],
                "y": [str(k) for k, _ in items],
                "hovertemplate": "%{y}: %{x:.3f}<extra>%{fullData.name}</extra>",
            }
        )
    n_params = max(len(p.get("importances") or {}) for p in per)
    layout = {
        "xaxis": {"title": {"text": "importance (sums to 1)"}, "range": [0, 1]},
        "barmode": "group",
        "showlegend": len(per) > 1,
        "margin": {"l": 140},
    }
    fig = figure("fig-importance", traces, layout, height=max(220, 60 + 34 * n_params))
    return Section(
        "importance",
        "Parameter importance",
        "How much each parameter decides whether a trial reaches the top 10% of completed "
        "trials (PED-ANOVA): tune the long bars, fix the short ones.",
        f"{importance.get('evaluator', 'PED-ANOVA')} over {count(importance.get('trials'))} "
        "completed trials",
        (fig,),
    )

"""Sections 4-6: where the good region is — parallel coordinates, 1-D slices, 2-D heatmaps."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from stratopt.errors import ConfigError
from stratopt.reporting._bins import Axis, axis_bins, binned_median
from stratopt.reporting._blocks import BEST, GREY, ROBUST, Figure, Note, Section, figure
from stratopt.reporting._candidates import (
    Pick,
    best_and_robust,
    completed_trials,
    objective_labels,
    value_columns,
)
from stratopt.reporting._format import count, mapping, number, params_text, to_float
from stratopt.reporting._inputs import Extras, Slice, StoredRun
from stratopt.search import Dimension, SearchSpace
from stratopt.validation import axis_moves

__all__ = [
    "PARALLEL_TOP",
    "heatmap_section",
    "parallel_section",
    "searched_space",
    "sensitivity_section",
]

PARALLEL_TOP = 200
HEATMAP_PAIRS = 3
# Light to dark for worse to better candidates of the top N.
_SHADES = ("#d6e2f0", "#a9c3e0", "#7ba3cf", "#4d82bd", "#1f5fa8")


def searched_space(run: StoredRun) -> SearchSpace | None:
    """The study's search space, rebuilt from the exact config the summary stores."""
    config = run.summary.get("config")
    if not isinstance(config, Mapping) or not config.get("space"):
        return None
    try:
        return SearchSpace.from_config(config["space"], field="space")
    except (ConfigError, TypeError, ValueError):
        return None


def _param_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if str(c).startswith("params.")]


def _is_log(space: SearchSpace | None, name: str) -> bool:
    dim = _dimension(space, name)
    return bool(getattr(dim, "log", False))


def _dimension(space: SearchSpace | None, name: str) -> Dimension | None:
    if space is None:
        return None
    return next((d for d in space.dimensions if d.name == name), None)


# ---- 4: parallel coordinates --------------------------------------------------------


def _unit(values: pd.Series, log: bool) -> tuple[np.ndarray, list[float], list[str]]:
    """Values mapped to [0, 1] on one axis, with tick positions and labels."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all():
        x = numeric.to_numpy(dtype=np.float64)
        if log and (x > 0).all():
            x = np.log10(x)
        lo, hi = float(np.min(x)), float(np.max(x))
        span = hi - lo
        unit = (x - lo) / span if span > 0 else np.full(x.size, 0.5)
        raw_lo, raw_hi = float(numeric.min()), float(numeric.max())
        if span == 0:
            return unit, [0.5], [number(raw_lo)]
        return unit, [0.0, 1.0], [number(raw_lo), number(raw_hi)]
    cats = sorted({str(v) for v in values})
    pos = {c: i / max(len(cats) - 1, 1) for i, c in enumerate(cats)}
    return np.array([pos[str(v)] for v in values]), list(pos.values()), cats


def _polyline(unit: np.ndarray) -> tuple[list[float | None], list[float | None]]:
    """One SVG path for many lines: rows joined with None gaps."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    axes = list(range(unit.shape[1]))
    for row in unit:
        xs += [*axes, None]
        ys += [*row.tolist(), None]
    return xs, ys


def _parallel_axes(
    top: pd.DataFrame, axes: Mapping[str, str], space: SearchSpace | None
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Each axis (column -> title) scaled to [0, 1], and its title and tick labels."""
    units, annotations = [], []
    for i, (col, name) in enumerate(axes.items()):
        unit, ticks, labels = _unit(top[col], _is_log(space, col.removeprefix("params.")))
        units.append(unit)
        annotations.append(
            {
                "x": i,
                "y": 1.08,
                "text": f"<b>{name}</b>",
                "showarrow": False,
                "xref": "x",
                "yref": "y",
            }
        )
        for t, label in zip(ticks, labels, strict=True):
            annotations.append(
                {
                    "x": i,
                    "y": t,
                    "text": label,
                    "showarrow": False,
                    "xref": "x",
                    "yref": "y",
                    "xanchor": "left",
                    "xshift": 4,
                    "font": {"size": 10, "color": "#555"},
                }
            )
    return np.column_stack(units), annotations


def parallel_section(run: StoredRun, top_n: int = PARALLEL_TOP) -> Section | None:
    """4: the top N candidates across every parameter and the objective, as SVG lines."""
    done = completed_trials(run)
    cols = _param_columns(done)
    if done.empty or not cols:
        return None
    top = done.head(top_n)
    axes = {c: c.removeprefix("params.") for c in cols}
    axes.update(zip(value_columns(run), objective_labels(run), strict=True))
    unit, annotations = _parallel_axes(top, axes, searched_space(run))
    traces: list[dict[str, Any]] = []
    groups = np.array_split(np.arange(len(top))[::-1], len(_SHADES))  # worst ranks first
    for shade, rows in zip(_SHADES, groups, strict=True):
        if rows.size == 0:
            continue
        xs, ys = _polyline(unit[rows])
        traces.append(
            {
                "x": xs,
                "y": ys,
                "mode": "lines",
                "hoverinfo": "skip",
                "line": {"color": shade, "width": 1},
                "showlegend": False,
            }
        )
    best, robust = best_and_robust(run)
    for pick, color in ((robust, ROBUST), (best, BEST)):
        traces += _highlight(pick, top, unit, len(axes), color)
    shapes = [
        {
            "type": "line",
            "x0": i,
            "x1": i,
            "y0": 0,
            "y1": 1,
            "xref": "x",
            "yref": "y",
            "line": {"color": "#6b7280", "width": 1},
        }
        for i in range(len(axes))
    ]
    layout = {
        "xaxis": {"visible": False, "range": [-0.2, len(axes) - 0.6]},
        "yaxis": {"visible": False, "range": [-0.05, 1.14]},
        "shapes": shapes,
        "annotations": annotations,
    }
    fig = figure("fig-parallel", traces, layout, height=420)
    return Section(
        "parallel",
        "Parallel coordinates",
        "Each line is one of the best candidates, crossing every parameter's axis (bottom = "
        "lowest value) and the objective; darker lines rank higher. Bands where the lines "
        "bunch are the parameter values the good candidates share.",
        f"top {count(len(top))} of {count(len(done))} completed trials by rank",
        (fig,),
    )


def _highlight(
    pick: Pick | None, top: pd.DataFrame, unit: np.ndarray, n_axes: int, color: str
) -> list[dict[str, Any]]:
    if pick is None:
        return []
    where = np.flatnonzero(top["trial"].to_numpy() == pick.trial)
    if where.size == 0:
        return []
    row = unit[where[0]]
    return [
        {
            "x": list(range(n_axes)),
            "y": row.tolist(),
            "mode": "lines+markers",
            "name": f"{pick.role} (trial {pick.trial})",
            "line": {"color": color, "width": 3},
            "marker": {"size": 7, "color": color},
            "hovertemplate": f"{pick.role}: {params_text(pick.params)}<extra></extra>",
        }
    ]


# ---- 5: one-dimensional sensitivity -------------------------------------------------


def _marginal(done: pd.DataFrame, col: str, axis: Axis) -> tuple[list[str], list[float], list[int]]:
    grid = binned_median(
        axis,
        Axis("_", ("all",), values=("all",)),
        done[col].tolist(),
        ["all"] * len(done),
        pd.to_numeric(done["value"], errors="coerce").to_numpy(),
    )
    keep = grid.count[0] > 0
    labels = [lbl for lbl, k in zip(axis.labels, keep, strict=True) if k]
    return labels, grid.median[0][keep].tolist(), grid.count[0][keep].tolist()


def _slice_trace(sl: Slice, axis: Axis, name: str, style: tuple[str, str]) -> dict[str, Any]:
    color, dash = style
    bins = axis.bin_of(list(sl.values))
    xs = [axis.labels[b] if b >= 0 else str(v) for b, v in zip(bins, sl.values, strict=True)]
    return {
        "x": xs,
        "y": [to_float(v) for v in sl.objective],
        "mode": "lines+markers",
        "name": name,
        "line": {"color": color, "dash": dash, "width": 2},
        "marker": {"size": 6},
        "text": [str(v) for v in sl.values],
        "hovertemplate": "%{text}: %{y:.4g}<extra>" + name + "</extra>",
    }


def _marginal_trace(done: pd.DataFrame, name: str, axis: Axis) -> list[dict[str, Any]]:
    col = f"params.{name}"
    if col not in done or done.empty:
        return []
    labels, med, cnt = _marginal(done, col, axis)
    return [{
        "type": "bar", "x": labels, "y": med, "name": "median of trials",
        "marker": {"color": GREY}, "customdata": cnt,
        "hovertemplate": "%{x}: median %{y:.4g} over %{customdata} trials<extra></extra>",
    }]  # fmt: skip


def _sensitivity_figure(
    k: int, stored: Slice, robust: Slice | None, done: pd.DataFrame, space: SearchSpace | None
) -> Figure:
    col = f"params.{stored.param}"
    seen = done[col].tolist() if col in done else []
    extra = list(robust.values) if robust is not None else []
    values = [*seen, *stored.values, *extra]
    axis = axis_bins(stored.param, values, dim=_dimension(space, stored.param))
    traces = _marginal_trace(done, stored.param, axis)
    traces.append(_slice_trace(stored, axis, "slice through best", (BEST, "solid")))
    if robust is not None:
        traces.append(_slice_trace(robust, axis, "slice through robust", (ROBUST, "dash")))
    layout = {
        "title": {"text": stored.param, "x": 0, "font": {"size": 13}},
        "xaxis": {"type": "category", "categoryorder": "array", "categoryarray": list(axis.labels)},
        "yaxis": {"title": {"text": "objective"}},
        "showlegend": k == 0,
        "margin": {"t": 56},
    }
    return figure(f"fig-sensitivity-{k}", traces, layout, height=300)


def _stored_slices(robustness: Mapping[str, Any]) -> list[Slice]:
    slices = robustness.get("sensitivity")
    if not isinstance(slices, Mapping):
        return []
    return [
        Slice(str(name), list(sl.get("values") or []), list(sl.get("objective") or []))
        for name, sl in slices.items()
        if isinstance(sl, Mapping)
    ]


def sensitivity_section(run: StoredRun, extras: Extras) -> Section | None:
    """5: per parameter, the slice through the best and through the robust candidate."""
    robustness = run.section("robustness") or {}
    stored = _stored_slices(robustness)
    if not stored or len(run.directions) > 1:
        return None
    done = completed_trials(run)
    space = searched_space(run)
    robust = {s.param: s for s in extras.robust_slices}
    blocks: list[Any] = [
        _sensitivity_figure(k, sl, robust.get(sl.param), done, space) for k, sl in enumerate(stored)
    ]
    if robustness.get("robust_is_best"):
        blocks.append(Note("the best is also the robust candidate: each slice is through both"))
    elif not robust:
        blocks.append(Note("the slices through the robust candidate were not computed"))
    return Section(
        "sensitivity",
        "Sensitivity per parameter",
        "The objective as one parameter moves and the others stay at the best's values (and "
        "the robust's, dashed); grey bars are the median of all trials in that bin. A flat "
        "line is a parameter the result does not hinge on.",
        f"stored slices ({len(stored)} parameters); bars over {count(len(done))} completed trials",
        tuple(blocks),
    )


# ---- 6: two-dimensional heatmaps ----------------------------------------------------


def _top_pairs(run: StoredRun, names: list[str]) -> list[tuple[str, str]]:
    importance = (run.section("robustness") or {}).get("importance")
    order = list(names)
    if isinstance(importance, Mapping):
        per = importance.get("per_objective") or []
        if per and isinstance(per[0], Mapping):
            imp = per[0].get("importances") or {}
            order = sorted(names, key=lambda n: -to_float(imp.get(n, 0.0)))
    top = order[:3]
    pairs = [(a, b) for i, a in enumerate(top) for b in top[i + 1 :]]
    return pairs[:HEATMAP_PAIRS]


def _marker(
    pick: Pick | None, x: Axis, y: Axis, style: tuple[str, str, str]
) -> list[dict[str, Any]]:
    """A marker at the candidate's cell; `style` is (colour, symbol, label)."""
    color, symbol, role = style
    if pick is None or x.name not in pick.params or y.name not in pick.params:
        return []
    bx, by = x.bin_of([pick.params[x.name]])[0], y.bin_of([pick.params[y.name]])[0]
    if bx < 0 or by < 0:
        return []
    return [
        {
            "x": [x.labels[bx]],
            "y": [y.labels[by]],
            "mode": "markers",
            "name": f"{role} ({x.name}={pick.params[x.name]}, {y.name}={pick.params[y.name]})",
            "marker": {
                "symbol": symbol,
                "size": 16,
                "color": color,
                "line": {"color": "white", "width": 2},
            },
            "hovertemplate": f"{role}: {params_text(pick.params)}<extra></extra>",
        }
    ]


def _region_box(
    pick: Pick | None, x: Axis, y: Axis, space: SearchSpace | None, fraction: float
) -> list[dict[str, Any]]:
    """The robust candidate's neighbourhood (what its mean averages over), outlined."""
    if pick is None or space is None:
        return []
    spans = []
    for axis in (x, y):
        dim = _dimension(space, axis.name)
        value = pick.params.get(axis.name)
        if dim is None or value is None:
            return []
        try:
            moves = axis_moves(dim, value, step_fraction=fraction)
        except ValueError:
            return []
        bins = axis.bin_of([value, *moves])
        bins = bins[bins >= 0]
        if bins.size == 0:
            return []
        spans.append((int(bins.min()) - 0.5, int(bins.max()) + 0.5))
    (x0, x1), (y0, y1) = spans
    return [
        {
            "type": "rect",
            "xref": "x",
            "yref": "y",
            "x0": x0,
            "x1": x1,
            "y0": y0,
            "y1": y1,
            "line": {"color": ROBUST, "width": 3, "dash": "dot"},
        }
    ]


def _heatmap(run: StoredRun, done: pd.DataFrame, pair: tuple[str, str], k: int) -> Figure:
    space = searched_space(run)
    a, b = pair
    x = axis_bins(a, done[f"params.{a}"].tolist(), dim=_dimension(space, a))
    y = axis_bins(b, done[f"params.{b}"].tolist(), dim=_dimension(space, b))
    z = pd.to_numeric(done["value"], errors="coerce").to_numpy()
    grid = binned_median(x, y, done[f"params.{a}"].tolist(), done[f"params.{b}"].tolist(), z)
    median = np.where(grid.count > 0, grid.median, np.nan)
    reverse = run.directions[0] == "minimize"
    traces: list[dict[str, Any]] = [
        {
            "type": "heatmap",
            "x": list(x.labels),
            "y": list(y.labels),
            "z": [[None if math.isnan(v) else v for v in row] for row in median.tolist()],
            "customdata": grid.count.tolist(),
            "colorscale": "Viridis",
            "reversescale": reverse,
            "colorbar": {"title": {"text": "median"}, "thickness": 12},
            "hovertemplate": f"{a} %{{x}}<br>{b} %{{y}}<br>median %{{z:.4g}}<br>"
            "%{customdata} trials<extra></extra>",
            "xgap": 1,
            "ygap": 1,
        }
    ]
    best, robust = best_and_robust(run)
    same = robust is not None and best is not None and robust.trial == best.trial
    if not same:
        traces += _marker(robust, x, y, (ROBUST, "diamond", "robust"))
    traces += _marker(best, x, y, (BEST, "star", "best = robust" if same else "best"))
    settings = mapping((run.section("robustness") or {}).get("settings"))
    fraction = to_float(settings.get("step_fraction", 0.1))
    layout = {
        "xaxis": {"title": {"text": a}, "type": "category", "showgrid": False},
        "yaxis": {"title": {"text": b}, "type": "category", "showgrid": False},
        "shapes": _region_box(robust, x, y, space, fraction if fraction == fraction else 0.1),
    }
    return figure(f"fig-heatmap-{k}", traces, layout, height=460)


def heatmap_section(run: StoredRun) -> Section | None:
    """6: binned median objective for the most important parameter pairs."""
    done = completed_trials(run)
    names = [c.removeprefix("params.") for c in _param_columns(done)]
    if len(names) < 2 or done.empty or len(run.directions) > 1:
        return None
    numeric_ok = [n for n in names if done[f"params.{n}"].notna().any()]
    pairs = _top_pairs(run, numeric_ok)
    figs = [_heatmap(run, done, pair, k) for k, pair in enumerate(pairs)]
    return Section(
        "heatmaps",
        "Parameter pairs",
        "Each cell is the median objective of the trials whose two parameters fall in it "
        "(hover for how many). The star is the best, the diamond the robust candidate; the "
        "dotted box is the neighbourhood the robust candidate's mean is taken over.",
        f"{len(pairs)} most important pairs; every one of {count(len(done))} completed trials "
        "binned (at most 20 bins an axis)",
        tuple(figs),
    )

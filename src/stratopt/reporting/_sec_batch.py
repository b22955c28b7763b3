"""The sections of a batch run (`stratopt batch`, docs/batch.md): what was run, how each
parameter set did across the markets and how alike the markets ranked them, each
metric's matrix as a heatmap, and the cells that failed.

Every number is read from the run folder (summary.json, batch.csv, matrix_<metric>.csv)
as `stratopt.batch` computed it; nothing is re-run or re-aggregated here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from stratopt.metrics import get_metric
from stratopt.reporting._blocks import Block, Kpi, Kpis, Note, Section, Table, figure, tone
from stratopt.reporting._format import (
    compact,
    count,
    mapping,
    metric_value,
    number,
    percent,
    to_float,
)
from stratopt.reporting._inputs import BatchRun, StoredRun

__all__ = ["batch_sections"]

ERROR_ROWS = 200  # error rows listed; the rest are counted


def _batch(run: StoredRun) -> BatchRun:
    if run.batch is None:
        raise ValueError(f"{run.folder}: not a batch run")
    return run.batch


def _higher_is_better(metric: str) -> bool:
    try:
        return get_metric(metric).higher_is_better
    except (KeyError, ValueError):
        return True


def _source_text(source: Mapping[str, Any]) -> str:
    kind = str(source.get("kind", "given"))
    if kind in ("top", "robust"):
        trials = ", ".join(map(str, source.get("trials") or []))
        return f"the {kind} candidates of study {source.get('study')} (trials {trials})"
    detail = {k: v for k, v in source.items() if k != "kind"}
    return f"{kind} ({compact(detail)})" if detail else kind


def _manifest(run: StoredRun) -> Section:
    s = _batch(run).summary
    series = [mapping(x) for x in s.get("series") or []]
    failed = [x for x in series if x.get("error")]
    config = mapping(s.get("config"))
    names = ", ".join(str(x.get("series")) for x in series[:12]) + (
        ", ..." if len(series) > 12 else ""
    )
    sets = f"{len(s.get('param_sets') or [])}: {_source_text(mapping(s.get('param_source')))}"
    rows: list[tuple[str, str]] = [
        ("study", str(s.get("study", run.name))),
        ("run", f"batch — {run.folder}"),
        ("strategy", str(s.get("strategy", "?"))),
        ("backtest", compact(mapping(config.get("backtest")))),
        ("series", f"{len(series)} ({len(failed)} unreadable): {names}"),
        ("parameter sets", sets),
        ("cells", f"{count(s.get('cells'))} ({count(s.get('errors'))} error rows)"),
        ("ranking metric", str(s.get("metric", "?"))),
        ("executor", f"{s.get('executor', '?')}, {count(s.get('tasks'))} tasks"),
    ]
    return Section(
        id="manifest",
        title="Run manifest",
        how_to_read="What was run: one strategy with fixed backtest settings on every "
        "series (symbol at a timeframe) × parameter set.",
        sampling="Every cell of batch.csv; nothing was searched.",
        blocks=(Table(("", ""), tuple(rows)),),
    )


def _kpis(s: Mapping[str, Any]) -> Kpis:
    k = mapping(s.get("kendall_w"))
    w, p = to_float(k.get("w")), to_float(k.get("pvalue"))
    if k.get("w") is None:
        kendall = Kpi("Kendall's W", "–", str(k.get("reason") or "not computed"))
    else:
        kendall = Kpi(
            "Kendall's W",
            number(w),
            f"{count(k.get('series'))} series × {count(k.get('sets'))} sets",
            tone(w, w >= 0.5, w < 0.2),
        )
    cells, errors = to_float(s.get("cells")), to_float(s.get("errors"))
    return Kpis((
        kendall,
        Kpi("p-value of W", number(p), f"χ² = {number(k.get('chi2'))}"),
        Kpi("cells", count(cells), f"{count(s.get('tasks'))} tasks"),
        Kpi("error rows", count(errors), "", tone(errors, errors == 0, errors > 0)),
    ))  # fmt: skip


def _sets_table(s: Mapping[str, Any]) -> Table:
    metric = str(s.get("metric", "?"))
    sets = [mapping(x) for x in s.get("sets") or []]
    ranked = sorted(
        sets, key=lambda x: (math.isnan(to_float(x.get("mean_rank"))), to_float(x.get("mean_rank")))
    )
    columns = ("set", "parameters", "cells", "errors", f"median {metric}", f"worst {metric}",
               "fraction profitable", "median total return", "mean rank")  # fmt: skip
    rows = tuple(
        (
            str(x.get("set")),
            str(x.get("label")),
            count(x.get("cells")),
            count(x.get("errors")),
            metric_value(metric, x.get("median")),
            metric_value(metric, x.get("worst")),
            percent(x.get("fraction_profitable")),
            percent(x.get("median_total_return")),
            number(x.get("mean_rank")),
        )
        for x in ranked
    )
    numeric = (True, False, True, True, True, True, True, True, True)
    caption = (
        f"Best mean rank first. Worst = the weakest cell by {metric}; profitable = cells with "
        "total_return > 0 over all the set's cells (a failed cell counts as not profitable)."
    )
    return Table(columns, rows, numeric=numeric, caption=caption, emphasis=frozenset({0}))


def _sets_section(run: StoredRun) -> Section:
    s = _batch(run).summary
    return Section(
        id="batch-sets",
        title="Parameter sets across markets",
        how_to_read="A set that holds has a good median and a tolerable worst cell, is "
        "profitable on most series and ranks near the top everywhere. Kendall's W says how "
        "alike the series rank the sets: 1 = the same order everywhere, 0 = no agreement.",
        sampling=f"Every cell of batch.csv; W over the series and sets where every cell ran "
        f"({count(mapping(s.get('kendall_w')).get('series'))} series).",
        blocks=(_kpis(s), _sets_table(s)),
    )


def _heatmap(metric: str, matrix: pd.DataFrame, k: int) -> Block:
    values = matrix.to_numpy(dtype=float)
    z = [[None if math.isnan(v) else v for v in row] for row in values.tolist()]
    text = [[metric_value(metric, v) for v in row] for row in values.tolist()]
    rows = [str(r) for r in matrix.index]
    trace = {
        "type": "heatmap",
        "x": [str(c) for c in matrix.columns],
        "y": rows,
        "z": z,
        "text": text,
        "texttemplate": "%{text}" if values.size <= 400 else "",
        "colorscale": "Viridis",
        "reversescale": not _higher_is_better(metric),
        "colorbar": {"title": {"text": metric}, "thickness": 12},
        "hovertemplate": f"%{{y}}<br>%{{x}}<br>{metric} %{{text}}<extra></extra>",
        "xgap": 1,
        "ygap": 1,
    }
    layout = {
        "xaxis": {"title": {"text": "parameter set"}, "type": "category", "showgrid": False},
        "yaxis": {"title": {"text": "series"}, "type": "category", "showgrid": False,
                  "autorange": "reversed"},
    }  # fmt: skip
    caption = (
        f"{metric} of each series (rows, SYMBOL/TF) and parameter set (columns), from "
        f"matrix_{metric}.csv; an empty cell failed (see the error rows)."
    )
    height = max(260, 120 + 26 * len(rows))
    return figure(f"fig-batch-matrix-{k}", [trace], layout, height=height, caption=caption)


def _matrices_section(run: StoredRun) -> Section | None:
    matrices = _batch(run).matrices
    if not matrices:
        return None
    better = {m: "higher" if _higher_is_better(m) else "lower" for m in matrices}
    return Section(
        id="batch-matrices",
        title="Metric matrices",
        how_to_read="Each row is a market at a timeframe, each column a parameter set. A "
        "column bright all the way down holds everywhere; a bright patch only in some rows "
        "fits those markets. Better is brighter: "
        + ", ".join(f"{m} ({b} is better)" for m, b in better.items())
        + ".",
        sampling="Every cell; one figure per matrix_<metric>.csv.",
        blocks=tuple(_heatmap(m, frame, k) for k, (m, frame) in enumerate(matrices.items())),
    )


def _errors_section(run: StoredRun) -> Section | None:
    cells = _batch(run).cells
    if "error" not in cells:
        return None
    failed = cells[cells["error"].notna() & (cells["error"].astype(str) != "")]
    if failed.empty:
        return None
    shown = failed.head(ERROR_ROWS)
    rows = tuple(
        (str(i), str(r["symbol"]), str(r["timeframe"]), str(r["label"]), str(r["error"]))
        for i, r in shown.iterrows()
    )
    blocks: list[Block] = [
        Table(("row", "symbol", "timeframe", "parameter set", "error"), rows, numeric=(True,))
    ]
    if len(failed) > len(shown):
        blocks.append(Note(f"{len(failed) - len(shown)} more error rows in batch.csv", "warn"))
    return Section(
        id="batch-errors",
        title=f"Error rows ({len(failed)})",
        how_to_read="Cells that have no metrics, and why; they count as not profitable and "
        "are left out of the medians, the worst cells and Kendall's W.",
        sampling=f"Every row of batch.csv with an error (row = its row number, as "
        f"`stratopt analyze --rows` takes it); the first {ERROR_ROWS} listed.",
        blocks=tuple(blocks),
    )


def batch_sections(run: StoredRun) -> list[Section | None]:
    """Manifest, parameter sets with Kendall's W, the matrices, the error rows."""
    return [_manifest(run), _sets_section(run), _matrices_section(run), _errors_section(run)]

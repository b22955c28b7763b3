"""Sections 11 and 12: the top trials as a sortable table; several studies side by side."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from stratopt.reporting._blocks import Block, Section, Table, TrialsTable, figure
from stratopt.reporting._candidates import best_and_robust, completed_trials, value_columns
from stratopt.reporting._downsample import step_change_indices
from stratopt.reporting._format import count, mapping, metric_value, number, params_text
from stratopt.reporting._inputs import StoredRun
from stratopt.reporting._sec_history import best_so_far

__all__ = ["TABLE_METRICS", "TABLE_TOP", "comparison_section", "trials_section"]

TABLE_TOP = 200
TABLE_METRICS = (
    "sharpe",
    "sortino",
    "calmar",
    "cagr",
    "total_return",
    "max_drawdown",
    "trades",
    "win_rate",
    "profit_factor",
    "expectancy",
    "exposure",
)
_PALETTE = ("#1f5fa8", "#e07b00", "#2a9d8f", "#9b5de5", "#d1495b", "#6b7280")


def _raw(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _cell(column: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if column.startswith("metrics."):
        return metric_value(column.removeprefix("metrics."), value)
    if isinstance(value, float):
        return number(value, 4)
    return str(value)


def trials_section(run: StoredRun, top: int = TABLE_TOP) -> Section | None:
    """11: the top N trials, sortable and filterable in the browser, with a CSV download."""
    ranked = run.ranked
    if ranked.empty or "trial" not in ranked:
        return None
    head = ranked.head(top)
    params = [c for c in ranked.columns if str(c).startswith("params.")]
    metrics = [f"metrics.{m}" for m in TABLE_METRICS if f"metrics.{m}" in ranked]
    cols = [
        "rank",
        "trial",
        "state",
        *[c for c in value_columns(run) if c in ranked],
        *params,
        *metrics,
    ]
    numeric = tuple(c not in ("state",) and pd.api.types.is_numeric_dtype(ranked[c]) for c in cols)
    raw = tuple(tuple(_raw(v) for v in row) for row in head[cols].itertuples(index=False))
    display = tuple(
        tuple(_cell(c, v) for c, v in zip(cols, row, strict=True))
        for row in head[cols].itertuples(index=False)
    )
    labels = tuple(c.removeprefix("metrics.").removeprefix("params.") for c in cols)
    table = TrialsTable(
        "trials-table", labels, display, raw, numeric, csv_name=f"{run.name}_top{len(head)}.csv"
    )
    return Section(
        "trials",
        "Top trials",
        "Click a column to sort, type to filter (e.g. a parameter value); the download holds "
        "the rows shown, full precision. Every trial is in ranked_results.csv.",
        f"top {count(len(head))} of {count(len(ranked))} trials by rank",
        (table,),
    )


# ---- 12: several studies --------------------------------------------------------------


def _history_trace(run: StoredRun, k: int) -> dict[str, Any] | None:
    done = run.ranked
    if done.empty or "state" not in done or len(run.directions) != 1:
        return None
    ordered = done[done["state"] == "complete"].sort_values("trial", kind="stable")
    values = pd.to_numeric(ordered["value"], errors="coerce").to_numpy(dtype=np.float64)
    record = best_so_far(values, run.directions[0])
    keep = step_change_indices(record)
    return {
        "x": np.arange(1, len(values) + 1)[keep],
        "y": record[keep],
        "mode": "lines",
        "name": run.name,
        "line": {"shape": "hv", "width": 2, "color": _PALETTE[k % 6]},
        "hovertemplate": "%{x} completed: best %{y:.4g}<extra>" + run.name + "</extra>",
    }


def _kpi_row(run: StoredRun) -> tuple[str, ...]:
    stats = run.section("statistics") or {}
    best, robust = best_and_robust(run)
    counts = mapping(run.summary.get("counts"))
    stability = mapping((run.section("robustness") or {}).get("stability"))
    holdout = run.section("holdout") or {}
    oos: Mapping[str, Any] = {}
    for cand in holdout.get("candidates") or []:
        if best is not None and isinstance(cand, Mapping) and cand.get("trial") == best.trial:
            oos = mapping(cand.get("out_of_sample"))
    m = best.metrics if best is not None else {}

    def stat(section: str, key: str) -> str:
        part = stats.get(section)
        return number(part.get(key)) if isinstance(part, Mapping) else "–"

    return (
        run.name,
        " / ".join(count(counts.get(k)) for k in ("complete", "pruned", "fail")),
        " / ".join(number(v) for v in best.values) if best else "–",
        params_text(best.params) if best else "–",
        number(m.get("sharpe")),
        stat("dsr", "value"),
        stat("pbo", "pbo"),
        stat("spa", "pvalue_consistent"),
        metric_value("max_drawdown", m.get("max_drawdown")),
        metric_value("cagr", m.get("cagr")),
        count(m.get("trades")),
        str(stability.get("verdict", "–")),
        params_text(robust.params) if robust else "–",
        number(oos.get("sharpe")) if oos else "–",
    )


def comparison_section(runs: Sequence[StoredRun]) -> Section | None:
    """12: overlaid best-so-far histories and a side-by-side KPI table."""
    if len(runs) < 2:
        return None
    traces = [t for k, r in enumerate(runs) if (t := _history_trace(r, k)) is not None]
    blocks: list[Block] = []
    if traces:
        layout = {
            "xaxis": {"title": {"text": "completed trials"}},
            "yaxis": {"title": {"text": "best objective so far"}},
        }
        blocks.append(figure("fig-compare-history", traces, layout, height=380))
    columns = (
        "study",
        "complete / pruned / failed",
        "best objective",
        "best params",
        "Sharpe",
        "DSR",
        "PBO",
        "SPA p",
        "max DD",
        "CAGR",
        "trades",
        "stability",
        "robust params",
        "holdout Sharpe",
    )
    numeric = (
        False,
        True,
        True,
        False,
        True,
        True,
        True,
        True,
        True,
        True,
        True,
        False,
        False,
        True,
    )
    blocks.append(Table(columns, tuple(_kpi_row(r) for r in runs), numeric=numeric))
    sizes = ", ".join(f"{r.name}: {count(len(completed_trials(r)))}" for r in runs)
    return Section(
        "comparison",
        "Studies compared",
        "The best objective each study had reached after n completed trials, and each "
        "study's best candidate with its overfitting statistics. A study that gets there in "
        "fewer trials, with a lower PBO, is the better search.",
        f"every completed trial of each study ({sizes}); statistics as stored",
        tuple(blocks),
    )

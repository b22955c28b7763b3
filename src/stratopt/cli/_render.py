"""What each command prints: result tables, progress bars, run folders.

Rendering lives in three modules, and only they print: this one (results and progress),
`_render_checks` (the analyses' sections: robustness, look-ahead, statistics, CPCV,
Monte Carlo) and `_console` (the two consoles and the number formats).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from rich import box
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from stratopt.cli._console import err, fmt_cell, fmt_num, fmt_pct, fmt_unit, out, set_line
from stratopt.cli._grid_render import print_path_bands
from stratopt.cli._render_checks import (
    print_cpcv,
    print_monte_carlo,
    print_robustness,
    print_statistics,
    print_verdict,
)
from stratopt.metrics import METRICS
from stratopt.operations import (
    BacktestRun,
    OptimizeResult,
    ReportFile,
    StudyView,
    ValidationResult,
    WalkForwardResult,
)
from stratopt.search import Progress as SearchProgress
from stratopt.validation import HoldoutReport, WindowResult


@contextmanager
def progress_bar(*, enabled: bool = True) -> Iterator[Callable[[SearchProgress], None] | None]:
    """A search's progress bar (None when not `enabled`), started by its first report so
    an error found before the search (bad study, data or storage) is printed alone."""
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("[bold]optimizing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    progress = Progress(*columns, console=err, transient=False)
    tasks: list[TaskID] = []

    def show(p: SearchProgress) -> None:
        if not tasks:
            progress.start()
            tasks.append(progress.add_task("trials", total=None, info=""))
        rate = p.attempts / max(1e-9, p.elapsed)
        best = "n/a" if p.best is None else f"{p.best:.4g}"
        info = f"best {best} | pruned {p.pruned} | failed {p.failed} | {rate:.1f}/s"
        progress.update(tasks[0], total=p.target, completed=min(p.complete, p.target),
                        info=p.stage or info)  # fmt: skip

    try:
        yield show
    finally:
        if tasks:
            progress.stop()


def print_ranked(
    frame: pd.DataFrame, top: int, *, title: str, value_names: Sequence[str] = ()
) -> None:
    """The top rows; values named by their metric (`value_names`) and shown in the units
    `backtest` uses. A value is never cut: headers wrap, and when the console is too
    narrow the metric columns go (ranked_results.csv has them all)."""
    if frame.empty:
        out.print("no trials yet")
        return
    head = frame.head(top)
    values = [c for c in head.columns if c == "value" or c.startswith("value_")]
    named = dict(zip(values, value_names, strict=False))
    cols = ["rank", *(["state"] if (head["state"] != "complete").any() else [])]
    cols += ["front"] if "front" in head.columns else []
    cols += values + [c for c in head.columns if c.startswith("params.")]
    metrics = [f"metrics.{m}" for m in ("total_return", "max_drawdown", "trades")
               if f"metrics.{m}" in head.columns]  # fmt: skip
    labels = {c: _column_label(c, named) for c in cols + metrics}
    cells = {c: [_ranked_cell(v, named.get(c) or c) for v in head[c]] for c in cols + metrics}
    widths = {c: max(len(labels[c]), *map(len, cells[c])) + 3 for c in cols + metrics}
    while metrics and sum(widths[c] for c in cols + metrics) > out.width:
        metrics.pop()
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    for col in cols + metrics:
        table.add_column(labels[col], justify="right", overflow="fold",
                         min_width=max(map(len, cells[col])))  # fmt: skip
    for i in range(len(head)):
        table.add_row(*(cells[c][i] for c in cols + metrics))
    out.print(table)


_SHORT = {"total_return": "return", "max_drawdown": "max_dd"}


def _column_label(col: str, named: dict[str, str]) -> str:
    label = named.get(col) or col.removeprefix("params.").removeprefix("metrics.")
    return _SHORT.get(label, label.rpartition(".")[2])


_UNITS = {m.id: m.unit for m in METRICS}


def _ranked_cell(value: Any, column: str) -> str:
    unit = _UNITS.get(column.removeprefix("metrics."))
    if unit is not None and isinstance(value, int | float):
        return fmt_unit(float(value), unit)
    return fmt_cell(value)


def print_holdout(report: HoldoutReport) -> None:
    s = report.summary
    start, end = (str(s[k]).removesuffix(" 00:00:00") for k in ("start", "end"))
    title = f"holdout {start} → {end} ({s['holdout_bars']} bars): in-sample → out-of-sample"
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("rank", "trial", "Sharpe", "CAGR", "max DD", "trades"):
        table.add_column(col, justify="right", no_wrap=True)
    for c in s["candidates"]:
        i, o = c["in_sample"], c["out_of_sample"]
        table.add_row(
            str(c["rank"]), str(c["trial"]),
            f"{fmt_num(i['sharpe'])} → {fmt_num(o['sharpe'])}",
            f"{fmt_pct(i['cagr'])} → {fmt_pct(o['cagr'])}",
            f"{fmt_pct(i['max_drawdown'])} → {fmt_pct(o['max_drawdown'])}",
            f"{fmt_num(i['trades'])} → {fmt_num(o['trades'])}",
        )  # fmt: skip
    out.print(table)
    med = s["median_degradation"]
    out.print(
        f"median degradation out of sample: Sharpe {fmt_pct(med['sharpe'])}, "
        f"CAGR {fmt_pct(med['cagr'])}, max drawdown {fmt_pct(med['max_drawdown'])} "
        "(positive = worse)",
        soft_wrap=True,
    )


def print_walk_forward(result: WalkForwardResult) -> None:
    title = f"{result.study_name}: walk-forward, {len(result.windows)} windows"
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    cols = ("win", "test window", "params", "IS Sh", "OOS Sh", "OOS ret", "OOS DD", "trades")
    for col in cols:
        left = col in ("test window", "params")
        table.add_column(col, justify="left" if left else "right", no_wrap=col != "params")
    for w in result.windows:
        i, o = w.in_sample or {}, w.out_of_sample or {}
        params = " ".join(f"{k}={fmt_cell(v)}" for k, v in (w.params or {}).items())
        table.add_row(
            str(w.window.index), _span(w.test), escape(params or (w.error or "")),
            fmt_num(i.get("sharpe")), fmt_num(o.get("sharpe")), fmt_pct(o.get("total_return")),
            fmt_pct(o.get("max_drawdown")), fmt_num(o.get("trades")),
        )  # fmt: skip
    out.print(table)
    m, e = result.stitched, result.efficiency
    if m:
        out.print(
            f"stitched out of sample ({len(result.equity)} bars): return "
            f"{fmt_pct(m['total_return'])}, CAGR {fmt_pct(m['cagr'])}, "
            f"Sharpe {fmt_num(m['sharpe'])}, "
            f"max drawdown {fmt_pct(m['max_drawdown'])}, {m['trades']:.0f} trades",
            soft_wrap=True,
        )
    out.print(
        f"walk-forward efficiency: return {fmt_num(e['return'])}, Sharpe {fmt_num(e['sharpe'])} "
        f"(OOS ÷ mean IS: CAGR {fmt_pct(e['out_of_sample_cagr'])} ÷ "
        f"{fmt_pct(e['mean_in_sample_cagr'])}, Sharpe {fmt_num(e['out_of_sample_sharpe'])} ÷ "
        f"{fmt_num(e['mean_in_sample_sharpe'])})",
        soft_wrap=True,
    )
    for name, d in result.drift.items():
        spread = f", range {fmt_cell(d['range'])}, std {fmt_num(d['std'])}" if "range" in d else ""
        out.print(
            f"drift {escape(name)}: {d['changes']} change(s) across windows, "
            f"{d['distinct']} distinct value(s){spread}",
            soft_wrap=True,
            highlight=False,
        )
    print_path("run folder", result.run_folder)
    print_report(result.report_file)


def _span(bounds: tuple[Any, Any]) -> str:
    start, end = bounds
    fmt = "%y-%m-%d" if start.normalize() == start else "%y-%m-%d %H:%M"
    return f"{start.strftime(fmt)}→{'end' if end is None else end.strftime(fmt)}"


def print_backtest(
    name: str,
    results: Sequence[BacktestRun],
    combined: tuple[str, dict[str, float]] | None = None,
) -> None:
    """The metrics per series and, with several, their aggregate (`combined`: the study's
    `aggregate:` and the metrics it gives, as a search scores them)."""
    params = " ".join(f"{k}={v}" for k, v in results[0].params.items())
    out.print(f"[bold]{escape(name)}[/]: {results[0].strategy} {escape(params)}", soft_wrap=True)
    table = Table()
    table.add_column("metric")
    for res in results:
        table.add_column(res.bars.symbol or "series", justify="right")
    columns = [res.metrics for res in results]
    if combined is not None:
        table.add_column(f"aggregate ({combined[0]})", justify="right")
        columns.append(combined[1])
    for info in METRICS:
        cells = [fmt_unit(m.get(info.id, math.nan), info.unit) for m in columns]
        table.add_row(info.label, *cells)
    out.print(table)
    for res in results:
        b = res.bars
        out.print(
            f"{b.symbol}: {len(b)} bars {b.index[0]} → {b.index[-1]}, "
            f"{res.n_trades} trades, final equity {res.final_equity:,.2f}",
            soft_wrap=True,
        )
        out.print(
            f"{b.symbol}: annualized with {b.periods_per_year:,.6g} bars per year "
            f"({b.annualization_rule})",
            soft_wrap=True,
            highlight=False,
        )


# ---- what each command prints --------------------------------------------------------


def error(message: str) -> None:
    """A failed run's last line, on standard error."""
    err.print(f"error: {message}", highlight=False)


def print_path(label: str, path: Path) -> None:
    out.print(f"{label}: {path.resolve()}", soft_wrap=True, highlight=False)


def print_report(found: ReportFile | None) -> None:
    """Where report.html went, or why it was not written (never a failed run)."""
    if found is not None and found.path is not None:
        print_path("report", found.path)
    elif found is not None:
        err.print(f"report.html {found.problem}", highlight=False, soft_wrap=True)


def print_optimize(result: OptimizeResult, top: int, *, how: str | None = None) -> None:
    """The best candidates, the holdout, the counts, the run folder and the analyses.

    `how`: the counts line's bracket (default: why the search stopped, and its time)."""
    title = f"{result.study_name}: best {top}"
    print_ranked(result.ranked, top, title=title, value_names=result.value_names)
    if result.best_params is not None:
        out.print(f"best: {set_line(result.best_params)}", soft_wrap=True, highlight=False)
    print_path_bands(result.ranked, top)  # a grid study's
    if result.holdout is not None:
        print_holdout(result.holdout)
    c = result.counts
    how = how or f"stopped by {result.stopped_by}, {result.seconds:.1f} s"
    out.print(
        f"trials: {c['complete']} complete, {c['pruned']} pruned, {c['fail']} failed ({how})",
        soft_wrap=True,
    )
    print_path("run folder", result.run_folder.path)
    rob = result.robustness.to_dict() if result.robustness is not None else None
    look = result.lookahead.to_dict() if result.lookahead is not None else None
    print_robustness(rob, look)
    print_verdict(result.statistics)
    print_report(result.report_file)


def print_window_done(w: WindowResult) -> None:
    """One line per finished walk-forward window, as it finishes."""
    status = "failed: " + w.error if w.error else f"best trial {w.trial}"
    err.print(f"window {w.window.index}: {status}", highlight=False, soft_wrap=True)


def print_validation(result: ValidationResult) -> None:
    sections = result.sections
    if result.holdout is not None:
        print_holdout(result.holdout)
    print_robustness(sections.get("robustness"), None)
    print_cpcv(sections.get("cpcv"))
    print_monte_carlo(sections.get("monte_carlo"))
    print_statistics((result.folder, sections["statistics"]))
    print_path("validation folder", result.folder)
    print_report(result.report_file)


def print_studies(rows: Sequence[dict[str, Any]]) -> None:
    table = Table()
    for col in ("study", "complete", "pruned", "failed", "best"):
        table.add_column(col, justify="left" if col == "study" else "right")
    for row in rows:
        best = row["best"]
        cells = [str(row[k]) for k in ("complete", "pruned", "fail")]
        table.add_row(row["study"], *cells, "n/a" if best is None else f"{best:.4g}")
    out.print(table)


def print_study(view: StudyView, top: int) -> None:
    """`stratopt show`: the best trials and the last runs' analyses."""
    print_ranked(view.ranked, top, title=f"{view.name}: best {top}")
    print_robustness(view.robustness, view.lookahead)
    print_statistics(view.statistics)

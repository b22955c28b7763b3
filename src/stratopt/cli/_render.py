"""What each command prints: result tables, progress bars, run folders.

Rendering lives in three modules, and only they print: this one (results and progress),
`_render_checks` (the analyses' sections: robustness, look-ahead, statistics, CPCV,
Monte Carlo) and `_console` (the two consoles and the number formats).
"""

from __future__ import annotations

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

from stratopt.backtest import BacktestResult
from stratopt.cli._console import err, fmt_cell, fmt_num, fmt_pct, fmt_unit, out
from stratopt.cli._render_checks import (
    print_cpcv,
    print_monte_carlo,
    print_robustness,
    print_statistics,
    print_verdict,
)
from stratopt.metrics import METRICS
from stratopt.operations import (
    LaunchOutcome,
    LaunchStatus,
    OptimizeResult,
    StudyView,
    ValidationResult,
    WalkForwardResult,
    WorkResult,
)
from stratopt.search import Progress as SearchProgress
from stratopt.validation import HoldoutReport, WindowResult


@contextmanager
def launch_progress() -> Iterator[Callable[[LaunchStatus], None]]:
    """The workers' combined progress, read from the storage (`stratopt launch`)."""
    columns = (
        TextColumn("[bold]workers"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task("trials", total=None, info="")

        def show(s: LaunchStatus) -> None:
            best = "n/a" if s.best is None else f"{s.best:.4g}"
            progress.update(
                task,
                total=s.target,
                completed=min(s.complete, s.target),
                info=(
                    f"best {best} | running {s.running} | pruned {s.pruned} | "
                    f"failed {s.failed} | workers alive {s.alive}/{s.workers} | "
                    f"{s.rate:.1f}/s"
                ),
            )

        yield show


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
        progress.update(
            tasks[0],
            total=p.target,
            completed=min(p.complete, p.target),
            info=f"best {best} | pruned {p.pruned} | failed {p.failed} | {rate:.1f}/s",
        )

    try:
        yield show
    finally:
        if tasks:
            progress.stop()


def print_ranked(frame: pd.DataFrame, top: int, *, title: str) -> None:
    if frame.empty:
        out.print("no trials yet")
        return
    head = frame.head(top)
    params = [c for c in head.columns if c.startswith("params.")]
    values = [c for c in head.columns if c == "value" or c.startswith("value_")]
    metrics = [m for m in ("total_return", "max_drawdown", "trades")
               if f"metrics.{m}" in head.columns]  # fmt: skip
    cols = ["rank", *values, *params, *(f"metrics.{m}" for m in metrics)]
    if (head["state"] != "complete").any():
        cols.insert(1, "state")
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    for col in cols:
        label = col.removeprefix("params.").removeprefix("metrics.").rpartition(".")[2]
        table.add_column(_SHORT.get(label, label), justify="right", no_wrap=True)
    for _, row in head.iterrows():
        table.add_row(*(fmt_cell(row[c]) for c in cols))
    out.print(table)


_SHORT = {"total_return": "return", "max_drawdown": "max_dd"}


def print_holdout(report: HoldoutReport) -> None:
    s = report.summary
    start, end = (str(s[k]).removesuffix(" 00:00:00") for k in ("start", "end"))
    table = Table(
        title=f"holdout {start} → {end} ({s['holdout_bars']} bars): in-sample → out-of-sample",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
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
    table = Table(
        title=f"{result.study_name}: walk-forward, {len(result.windows)} windows",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
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
    out.print(f"run folder: {result.run_folder.resolve()}", soft_wrap=True, highlight=False)


def _span(bounds: tuple[Any, Any]) -> str:
    start, end = bounds
    fmt = "%y-%m-%d" if start.normalize() == start else "%y-%m-%d %H:%M"
    return f"{start.strftime(fmt)}→{'end' if end is None else end.strftime(fmt)}"


def print_backtest(name: str, results: Sequence[BacktestResult]) -> None:
    params = " ".join(f"{k}={v}" for k, v in results[0].params.items())
    out.print(f"[bold]{escape(name)}[/]: {results[0].strategy} {escape(params)}", soft_wrap=True)
    table = Table()
    table.add_column("metric")
    for res in results:
        table.add_column(res.bars.symbol or "series", justify="right")
    for info in METRICS:
        cells = [fmt_unit(res.metrics[info.id], info.unit) for res in results]
        table.add_row(info.label, *cells)
    out.print(table)
    for res in results:
        b = res.bars
        out.print(
            f"{b.symbol}: {len(b)} bars {b.index[0]} → {b.index[-1]}, "
            f"{res.n_trades} trades, final equity {res.final_equity:,.2f}",
            soft_wrap=True,
        )


# ---- what each command prints --------------------------------------------------------


def error(message: str) -> None:
    """A failed run's last line, on standard error."""
    err.print(f"error: {message}", highlight=False)


def _run_folder(path: Path) -> None:
    out.print(f"run folder: {path.resolve()}", soft_wrap=True, highlight=False)


def print_optimize(result: OptimizeResult, top: int) -> None:
    """The best candidates, the holdout, the counts, the run folder and the analyses."""
    print_ranked(result.ranked, top, title=f"{result.study_name}: best {top}")
    if result.holdout is not None:
        print_holdout(result.holdout)
    c = result.counts
    out.print(
        f"trials: {c['complete']} complete, {c['pruned']} pruned, {c['fail']} failed "
        f"(stopped by {result.stopped_by}, {result.seconds:.1f} s)",
        soft_wrap=True,
    )
    _run_folder(result.run_folder.path)
    rob = result.robustness.to_dict() if result.robustness is not None else None
    look = result.lookahead.to_dict() if result.lookahead is not None else None
    print_robustness(rob, look)
    print_verdict(result.statistics)


def print_work(result: WorkResult) -> None:
    c = result.counts
    out.print(
        f"worker {result.worker_id}: study {result.study_name} has {c['complete']} complete, "
        f"{c['pruned']} pruned, {c['fail']} failed; this worker: {result.attempts} attempts, "
        f"{result.pruned} pruned, {result.failed} failed "
        f"(stopped by {result.stopped_by}, {result.seconds:.1f} s)",
        soft_wrap=True,
        highlight=False,
    )
    if result.run_folder is not None:
        _run_folder(result.run_folder.path)


def print_failed_workers(outcome: LaunchOutcome) -> None:
    for w in outcome.failed:
        err.print(
            f"[bold red]worker {w.index} failed[/] (exit code {w.returncode}); log: {w.log}",
            highlight=False,
        )
        for line in w.tail:
            err.print(f"  {escape(line)}", highlight=False)


def print_launch(result: OptimizeResult, outcome: LaunchOutcome, n: int, top: int) -> None:
    print_ranked(result.ranked, top, title=f"{result.study_name}: best {top}")
    c = result.counts
    out.print(
        f"trials: {c['complete']} complete, {c['pruned']} pruned, {c['fail']} failed "
        f"({n} workers, {outcome.seconds:.1f} s)",
        soft_wrap=True,
    )
    _run_folder(result.run_folder.path)


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
    out.print(f"validation folder: {result.folder.resolve()}", soft_wrap=True, highlight=False)


def print_studies(rows: Sequence[dict[str, Any]]) -> None:
    table = Table()
    for col in ("study", "complete", "pruned", "failed", "best"):
        table.add_column(col, justify="left" if col == "study" else "right")
    for row in rows:
        best = row["best"]
        table.add_row(
            row["study"],
            str(row["complete"]),
            str(row["pruned"]),
            str(row["fail"]),
            "n/a" if best is None else f"{best:.4g}",
        )
    out.print(table)


def print_study(view: StudyView, top: int) -> None:
    """`stratopt show`: the best trials and the last runs' analyses."""
    print_ranked(view.ranked, top, title=f"{view.name}: best {top}")
    print_robustness(view.robustness, view.lookahead)
    print_statistics(view.statistics)

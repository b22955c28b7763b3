"""Every table, line and progress bar the CLI shows: only this module prints.

`out` is standard output (results), `err` standard error (progress, warnings, errors).
Sections from summary.json-shaped dicts (robustness, look-ahead, statistics, CPCV, Monte
Carlo) render the same whether they come from a fresh result or a stored study.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from rich import box
from rich.console import Console
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
from stratopt.engine import Signal
from stratopt.metrics import METRICS
from stratopt.operations import (
    OptimizeResult,
    StudyView,
    ValidationResult,
    WalkForwardResult,
)
from stratopt.search import Progress as SearchProgress
from stratopt.stats import spa_name
from stratopt.validation import HoldoutReport, LookaheadReport, WindowResult

out = Console()
err = Console(stderr=True, soft_wrap=True)


def params_text(params: Any) -> str:
    return escape(" ".join(f"{k}={v}" for k, v in dict(params).items()) or "(defaults)")


def print_leaks(look: dict[str, Any]) -> None:
    table = Table(title="signals that changed when later bars were removed", box=box.SIMPLE_HEAD)
    for col in ("symbol", "bar", "bar time", "cut", "cut time", "signal", "changed", "params"):
        wrap = col in ("symbol", "params")
        table.add_column(
            col,
            justify="left" if wrap else "right",
            no_wrap=not wrap,
            overflow="fold" if wrap else "ellipsis",
        )
    for leak in look.get("details", []):
        table.add_row(
            escape(str(leak["symbol"])), str(leak["bar"]), _short_time(leak["bar_time"]),
            str(leak["cut"]), _short_time(leak["cut_time"]),
            f"{leak['full']}->{leak['truncated']}", str(leak["changed"]),
            params_text(leak["params"]),
        )  # fmt: skip
    out.print(table)
    codes = ", ".join(f"{int(c)} {c.name.lower()}" for c in Signal)
    out.print(f"signal: full data -> truncated data ({codes})", highlight=False, soft_wrap=True)


def _short_time(text: str) -> str:
    return text.removesuffix(" 00:00:00")


def print_robustness(rob: Any, look: Any) -> None:
    """Best vs robust candidate, the plateau/spike verdict, importance, look-ahead."""
    if isinstance(rob, dict) and rob.get("error"):
        err.print(f"robustness analysis failed: {escape(rob['error'])}", highlight=False)
    elif isinstance(rob, dict) and rob.get("stability"):
        print_stability(rob)
    if isinstance(look, dict):
        if look.get("error"):
            err.print(f"look-ahead check failed: {escape(look['error'])}", highlight=False)
        elif look.get("clean") is False:
            err.print(
                f"[bold yellow]warning:[/] look-ahead: {look['leaks']} signal change(s) when "
                f"future bars were removed, in the best {look['parameter_sets']} candidate(s) — "
                "the strategy uses data it could not have had; run "
                "`stratopt check-lookahead` on the study",
                highlight=False,
                soft_wrap=True,
            )
        elif look.get("clean"):
            out.print(
                f"look-ahead: clean ({look['parameter_sets']} best candidate(s), "
                f"{look['points']} truncation points)",
                highlight=False,
                soft_wrap=True,
            )


def print_stability(rob: dict[str, Any]) -> None:
    stab = rob["stability"]
    for o in stab["objectives"]:
        within = "n/a" if o["within"] is None else f"{float(o['within']) * 100:.0f}%"
        out.print(
            f"stability of the best ({o['label']}): [bold]{o['verdict']}[/] — {within} of "
            f"{stab['neighbours'] - stab['failed']} neighbours within "
            f"{float(stab['tolerance']) * 100:.0f}% of {_cell(float(o['best']))}; "
            f"neighbour mean {_num(o['mean'])}, worst {_num(o['worst'])} "
            f"({stab['mode']} neighbourhood, {stab['infeasible']} infeasible)",
            highlight=False,
            soft_wrap=True,
        )
    best, robust = rob.get("best"), rob.get("robust")
    if best and robust:
        table = Table(title="best vs robust candidate", box=box.SIMPLE_HEAD, pad_edge=False)
        for col in ("", "trial", "value", "nbhd mean", "worst", "params"):
            table.add_column(col, justify="left" if col in ("", "params") else "right")
        for label, cand in (("best", best), ("robust", robust)):
            table.add_row(
                label, str(cand["trial"]), _num(cand["value"]), _num(cand["smoothed"]),
                _num(cand["worst"]), params_text(cand["params"]),
            )  # fmt: skip
        out.print(table)
        if rob.get("robust_is_best"):
            top = len(rob.get("region") or [])
            out.print(f"the best candidate also has the best neighbourhood mean of the top {top}")
    for note in rob.get("notes") or []:
        out.print(f"note: {escape(str(note))}", highlight=False, soft_wrap=True)
    for entry in (rob.get("importance") or {}).get("per_objective", []):
        if "importances" in entry:
            text = ", ".join(f"{k} {v:.2f}" for k, v in entry["importances"].items())
            out.print(f"importance ({entry['objective']}): {escape(text)}", highlight=False,
                       soft_wrap=True)  # fmt: skip


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
        table.add_row(*(_cell(row[c]) for c in cols))
    out.print(table)


_SHORT = {"total_return": "return", "max_drawdown": "max_dd"}


def _pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value * 100:.1f}%"


def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.3g}"


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
            f"{_num(i['sharpe'])} → {_num(o['sharpe'])}",
            f"{_pct(i['cagr'])} → {_pct(o['cagr'])}",
            f"{_pct(i['max_drawdown'])} → {_pct(o['max_drawdown'])}",
            f"{_num(i['trades'])} → {_num(o['trades'])}",
        )  # fmt: skip
    out.print(table)
    med = s["median_degradation"]
    out.print(
        f"median degradation out of sample: Sharpe {_pct(med['sharpe'])}, "
        f"CAGR {_pct(med['cagr'])}, max drawdown {_pct(med['max_drawdown'])} "
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
        params = " ".join(f"{k}={_cell(v)}" for k, v in (w.params or {}).items())
        table.add_row(
            str(w.window.index), _span(w.test), escape(params or (w.error or "")),
            _num(i.get("sharpe")), _num(o.get("sharpe")), _pct(o.get("total_return")),
            _pct(o.get("max_drawdown")), _num(o.get("trades")),
        )  # fmt: skip
    out.print(table)
    m, e = result.stitched, result.efficiency
    if m:
        out.print(
            f"stitched out of sample ({len(result.equity)} bars): return "
            f"{_pct(m['total_return'])}, CAGR {_pct(m['cagr'])}, Sharpe {_num(m['sharpe'])}, "
            f"max drawdown {_pct(m['max_drawdown'])}, {m['trades']:.0f} trades",
            soft_wrap=True,
        )
    out.print(
        f"walk-forward efficiency: return {_num(e['return'])}, Sharpe {_num(e['sharpe'])} "
        f"(OOS ÷ mean IS: CAGR {_pct(e['out_of_sample_cagr'])} ÷ "
        f"{_pct(e['mean_in_sample_cagr'])}, Sharpe {_num(e['out_of_sample_sharpe'])} ÷ "
        f"{_num(e['mean_in_sample_sharpe'])})",
        soft_wrap=True,
    )
    for name, d in result.drift.items():
        spread = f", range {_cell(d['range'])}, std {_num(d['std'])}" if "range" in d else ""
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


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def _format(value: float, unit: str) -> str:
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if unit in ("fraction", "%", "percent"):
        return f"{value * 100:,.2f}%"
    if unit in ("count", "bars", "trades"):
        return f"{value:,.0f}"
    if unit in ("currency", "$"):
        return f"{value:,.2f}"
    return f"{value:,.3f}"


def print_backtest(name: str, results: Sequence[BacktestResult]) -> None:
    params = " ".join(f"{k}={v}" for k, v in results[0].params.items())
    out.print(f"[bold]{escape(name)}[/]: {results[0].strategy} {escape(params)}", soft_wrap=True)
    table = Table()
    table.add_column("metric")
    for res in results:
        table.add_column(res.bars.symbol or "series", justify="right")
    for info in METRICS:
        cells = [_format(res.metrics[info.id], info.unit) for res in results]
        table.add_row(info.label, *cells)
    out.print(table)
    for res in results:
        b = res.bars
        out.print(
            f"{b.symbol}: {len(b)} bars {b.index[0]} → {b.index[-1]}, "
            f"{res.n_trades} trades, final equity {res.final_equity:,.2f}",
            soft_wrap=True,
        )


# ---- overfitting statistics (summary.json "statistics", stratopt.stats) -------------


def print_verdict(stats: dict[str, Any] | None) -> None:
    if stats and stats.get("verdict"):
        out.print(f"overfitting: {stats['verdict']}", soft_wrap=True, highlight=False)


_STAT_ROWS = (
    ("trials completed", "trials", "completed", "count"),
    ("best Sharpe (annualized)", "best", "sharpe_annualized", "ratio"),
    ("observations", "best", "observations", "count"),
    ("skew", "best", "skew", "ratio"),
    ("kurtosis (excess)", "best", "kurtosis_excess", "ratio"),
    ("PSR (SR > 0)", "psr", "value", "ratio"),
    ("DSR", "dsr", "value", "ratio"),
    ("E[max Sharpe] of the trials (annualized)", "dsr", "expected_max_sharpe_annualized", "ratio"),
    ("PBO", "pbo", "pbo", "ratio"),
    ("PBO: P(OOS loss)", "pbo", "prob_oos_loss", "ratio"),
    ("PBO: degradation slope", "pbo", "degradation_slope", "ratio"),
    ("MinTRL (years)", "min_track_record_length", "years", "ratio"),
    ("MinBTL (years)", "min_backtest_length", "years", "ratio"),
    ("backtest length (years)", "best", "years", "ratio"),
    ("SPA p-value (consistent)", "spa", "pvalue_consistent", "ratio"),
)


def print_statistics(found: tuple[Path, dict[str, Any]] | None) -> None:
    if found is None:
        return
    run, stats = found
    table = Table(title=f"overfitting statistics (run {run.name})", box=box.SIMPLE_HEAD)
    table.add_column("statistic")
    table.add_column("value", justify="right")
    for label, section, key, unit in _STAT_ROWS:
        part = stats.get(section)
        if not isinstance(part, dict):
            continue
        if part.get("available") is False:
            table.add_row(escape(label), escape(f"n/a ({part.get('reason', '')})"))
            continue
        value = part.get(key)
        if value is None:
            continue
        if section == "spa":
            label = f"{spa_name(part)}: p-value (consistent)"
        table.add_row(escape(label), _format(float(value), unit))
    out.print(table)
    print_verdict(stats)


def print_cpcv(cpcv: Any) -> None:
    if not isinstance(cpcv, dict):
        return
    if cpcv.get("available") is False:
        out.print(f"cross-validation: n/a ({escape(str(cpcv.get('reason')))})", highlight=False)
        return
    table = Table(
        title=(
            f"CPCV: {cpcv['groups']} groups, {cpcv['test_groups']} test groups, "
            f"{cpcv['n_splits']} splits, {cpcv['n_paths']} paths over "
            f"{cpcv['candidates']} candidates (chosen by {cpcv['metric']})"
        ),
        box=box.SIMPLE_HEAD,
    )
    for col in ("path metric", "min", "p5", "median", "p95", "max"):
        table.add_column(col, justify="left" if col == "path metric" else "right")
    for name, d in cpcv["distribution"].items():
        cells = [_num(d.get(k)) for k in ("min", "p5", "p50", "p95", "max")]
        table.add_row(escape(name), *cells)
    out.print(table)


_MC_METHODS = {"trade_shuffle": "trade order", "bootstrap": "bootstrap"}


def print_monte_carlo(mc: Any) -> None:
    if not isinstance(mc, dict):
        return
    if mc.get("available") is False:
        out.print(f"Monte Carlo: n/a ({escape(str(mc.get('reason')))})", highlight=False)
        return
    table = Table(
        title=f"Monte Carlo of the best candidate ({mc['simulations']} paths)",
        box=box.SIMPLE_HEAD,
    )
    for col in ("symbol", "method", "statistic", "actual", "p5", "median", "p95"):
        table.add_column(
            col, justify="left" if col in ("symbol", "method", "statistic") else "right"
        )
    for symbol, parts in mc["symbols"].items():
        for method, res in parts.items():
            if res.get("available") is False:
                table.add_row(escape(symbol), method, escape(f"n/a ({res.get('reason')})"))
                continue
            for stat, label in (("final_equity", "final equity"), ("max_drawdown", "max DD"),
                                ("sharpe", "Sharpe")):  # fmt: skip
                pct = res["percentiles"][stat]
                table.add_row(
                    escape(symbol), _MC_METHODS.get(method, method), label,
                    _num(res["original"].get(stat)),
                    *(_num(pct.get(q)) for q in ("p5", "p50", "p95")),
                )  # fmt: skip
    out.print(table)


# ---- what each command prints --------------------------------------------------------


def error(message: str) -> None:
    """A failed run's last line, on standard error."""
    err.print(f"error: {message}", highlight=False)


def _run_folder(path: Path) -> None:
    out.print(f"run folder: {path.resolve()}", soft_wrap=True, highlight=False)


def print_optimize(result: OptimizeResult, top: int, *, how: str | None = None) -> None:
    """The best candidates, the holdout, the counts, the run folder and the analyses.

    `how`: the counts line's bracket (default: why the search stopped, and its time)."""
    print_ranked(result.ranked, top, title=f"{result.study_name}: best {top}")
    if result.holdout is not None:
        print_holdout(result.holdout)
    c = result.counts
    how = how or f"stopped by {result.stopped_by}, {result.seconds:.1f} s"
    out.print(
        f"trials: {c['complete']} complete, {c['pruned']} pruned, {c['fail']} failed ({how})",
        soft_wrap=True,
    )
    _run_folder(result.run_folder.path)
    rob = result.robustness.to_dict() if result.robustness is not None else None
    look = result.lookahead.to_dict() if result.lookahead is not None else None
    print_robustness(rob, look)
    print_verdict(result.statistics)


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


def print_lookahead_errors(report: LookaheadReport) -> None:
    for e in report.errors:
        err.print(f"skipped {params_text(e['params'])}: {escape(e['error'])}",
                  highlight=False, soft_wrap=True)  # fmt: skip


def print_lookahead(report: LookaheadReport) -> None:
    """`stratopt check-lookahead`'s verdict (and the leaks found)."""
    checked = (
        f"{report.parameter_sets} parameter set(s) x {report.series} series x "
        f"{report.points} truncation points"
    )
    if report.clean:
        out.print(f"look-ahead check: clean ({checked})", soft_wrap=True, highlight=False)
        return
    print_leaks(report.to_dict())
    out.print(
        f"look-ahead check: {report.n_leaks} leak(s) in {report.leaky_parameter_sets} "
        f"parameter set(s) ({checked})",
        soft_wrap=True,
        highlight=False,
    )

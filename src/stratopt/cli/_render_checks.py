"""The analyses' sections as the CLI shows them: robustness and stability of the best,
look-ahead leaks, overfitting statistics, CPCV and Monte Carlo.

Each takes its summary.json-shaped dict, so a fresh result and a stored study (`show`)
render alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich import box
from rich.markup import escape
from rich.table import Table

from stratopt.cli._console import err, fmt_cell, fmt_num, fmt_unit, out, params_text
from stratopt.engine import Signal
from stratopt.stats import spa_name
from stratopt.validation import LookaheadReport


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
            f"{float(stab['tolerance']) * 100:.0f}% of {fmt_cell(float(o['best']))}; "
            f"neighbour mean {fmt_num(o['mean'])}, worst {fmt_num(o['worst'])} "
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
                label, str(cand["trial"]), fmt_num(cand["value"]), fmt_num(cand["smoothed"]),
                fmt_num(cand["worst"]), params_text(cand["params"]),
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
        table.add_row(escape(label), fmt_unit(float(value), unit))
    out.print(table)
    print_verdict(stats)


def _missing(section: Any, label: str) -> bool:
    """True when a validation section is absent or unavailable (which is said)."""
    if not isinstance(section, dict):
        return True
    if section.get("available") is False:
        out.print(f"{label}: n/a ({escape(str(section.get('reason')))})", highlight=False)
        return True
    return False


def print_cpcv(cpcv: Any) -> None:
    if _missing(cpcv, "cross-validation"):
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
        cells = [fmt_num(d.get(k)) for k in ("min", "p5", "p50", "p95", "max")]
        table.add_row(escape(name), *cells)
    out.print(table)


_MC_METHODS = {"trade_shuffle": "trade order", "bootstrap": "bootstrap"}


def print_monte_carlo(mc: Any) -> None:
    if _missing(mc, "Monte Carlo"):
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
                    fmt_num(res["original"].get(stat)),
                    *(fmt_num(pct.get(q)) for q in ("p5", "p50", "p95")),
                )  # fmt: skip
    out.print(table)


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

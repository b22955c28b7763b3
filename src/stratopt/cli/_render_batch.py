"""The tables of `stratopt batch` and `stratopt analyze` (a companion of `_render`,
printing to `_console.out`: only the rendering modules print)."""

from __future__ import annotations

import math
from typing import Any

from rich import box
from rich.markup import escape
from rich.table import Table

from stratopt.cli._console import fmt_unit, out
from stratopt.cli._render import print_path, print_report
from stratopt.operations import AnalyzeResult, BatchResult

__all__ = ["print_analysis", "print_batch"]


def _num(value: Any, spec: str = ".4g") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return format(value, spec)


def _pct(value: Any) -> str:
    if not isinstance(value, int | float) or not math.isfinite(value):
        return _num(value)
    return fmt_unit(value, "%")


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right", no_wrap=i > 0)
    return table


def print_batch(result: BatchResult) -> None:
    """The per-set table (best mean rank first), Kendall's W and the run folder."""
    table = result.table
    m = table.metric
    t = _table(f"{len(table.frame)} cells by parameter set (metric: {m})", "parameter set",
               "cells", "errors", f"median {m}", f"worst {m}", "profitable", "median return",
               "mean rank")  # fmt: skip
    for s in sorted(table.sets, key=lambda s: (math.isnan(s["mean_rank"]), s["mean_rank"])):
        t.add_row(escape(s["label"]), str(s["cells"]), str(s["errors"]), _num(s["median"]),
                  _num(s["worst"]), _pct(s["fraction_profitable"]),
                  _pct(s["median_total_return"]), _num(s["mean_rank"], ".2f"))  # fmt: skip
    out.print(t)
    k = table.kendall
    if k.get("w") is None:
        out.print(f"rank consistency (Kendall's W): n/a ({k.get('reason')})", highlight=False)
    else:
        out.print(
            f"rank consistency across {k['series']} series (Kendall's W of {m}): "
            f"{k['w']:.3f} (p = {k['pvalue']:.3g})",
            highlight=False,
        )
    out.print(f"{table.errors} error rows; {table.tasks} tasks on {table.executor} "
               f"in {table.seconds:.2f} s", highlight=False)  # fmt: skip
    source = result.summary.get("param_source", {})
    if source.get("kind") in ("top", "robust"):
        out.print(f"parameter sets: the {source['kind']} candidates of study "
                  f"{escape(source['study'])} (trials {', '.join(map(str, source['trials']))})",
                  highlight=False, soft_wrap=True)  # fmt: skip
    print_path("run folder", result.run_folder)
    print_report(result.report_file)


def print_analysis(result: AnalyzeResult) -> None:
    """Every section of every candidate, the correlation, and where analysis.json is."""
    a = result.analysis.to_dict()
    cands = a["candidates"]
    _print_summary(cands)
    for c in cands:
        label = escape(c["label"])
        if "trades" in c:
            _print_trades(label, c["trades"])
        if "drawdowns" in c:
            _print_drawdowns(label, c["drawdowns"])
        if "distribution" in c:
            _print_distribution(label, c["distribution"])
        if "monte_carlo" in c:
            _print_monte_carlo(label, c["monte_carlo"])
        if "breakdown" in c:
            _print_breakdown(label, c["breakdown"])
    if "correlation" in a:
        _print_correlation(a["correlation"])
    out.print(f"analysis.json: {result.path.resolve()}", soft_wrap=True, highlight=False)


_UNITS = {"total_return": _pct, "cagr": _pct, "volatility": _pct, "max_drawdown": _pct,
          "exposure": _pct}  # fmt: skip


def _print_summary(cands: list[dict[str, Any]]) -> None:
    t = _table("summary", "metric", *(escape(c["label"]) for c in cands))
    for key in cands[0]["summary"]:
        fmt = _UNITS.get(key, _num)
        t.add_row(key, *(fmt(c["summary"][key]) for c in cands))
    out.print(t)
    for c in cands:
        an = c["annualization"]
        out.print(
            f"{escape(c['label'])}: annualized with {an['periods_per_year']:,.6g} bars per year "
            f"({an['source']}, bars of {an['bar_interval']}): {an['rule']}",
            soft_wrap=True, highlight=False,
        )  # fmt: skip


def _print_trades(label: str, t: dict[str, Any]) -> None:
    tab = _table(f"{label}: trades", "figure", "value")
    for key in ("count", "wins", "losses", "breakeven", "win_rate", "payoff", "profit_factor",
                "expectancy", "expectancy_return", "avg_win", "median_win", "avg_loss",
                "median_loss", "largest_win", "largest_loss", "max_win_streak",
                "max_loss_streak"):  # fmt: skip
        fmt = (
            _pct
            if key in ("win_rate", "expectancy_return") or "win" in key[4:] or "loss" in key[4:]
            else _num
        )
        tab.add_row(
            key, fmt(t[key]) if key not in ("max_win_streak", "max_loss_streak") else str(t[key])
        )
    tab.add_row("no losses (profit factor means nothing)", str(t["no_losses"]))
    cur = t["current_streak"]
    tab.add_row("current streak", f"{cur['length']} {cur['kind']}")
    for side in ("long", "short"):
        s = t[side]
        tab.add_row(side, f"{s['count']} trades, win {_pct(s['win_rate'])}, "
                    f"pnl {_num(s['net_pnl'], ',.2f')}, avg {_pct(s['avg_return'])}")  # fmt: skip
    hb, ht = t["holding_bars"], t["holding_time"]
    for q in hb:
        tab.add_row(f"holding {q}", f"{_num(hb[q], '.4g')} bars ({ht[q]})")
    out.print(tab)
    for name in ("by_weekday", "by_month", "by_hour"):
        groups = t.get(name) or {}
        if groups:
            g = _table(f"{label}: trades {name.replace('_', ' ')} (exit time, UTC)",
                       name[3:], "trades", "win rate", "net pnl", "avg return")  # fmt: skip
            for k, v in groups.items():
                g.add_row(k, str(v["count"]), _pct(v["win_rate"]), _num(v["net_pnl"], ",.2f"),
                          _pct(v["avg_return"]))  # fmt: skip
            out.print(g)


def _print_drawdowns(label: str, d: dict[str, Any]) -> None:
    tab = _table(f"{label}: top drawdowns", "peak", "valley", "recovery", "depth",
                 "bars to valley", "bars to recovery", "bars under water")  # fmt: skip
    for r in d["table"]:
        tab.add_row(r["peak"], r["valley"], r["recovery"], _pct(r["depth"]),
                    str(r["bars_to_valley"]), _num(r["bars_to_recovery"]),
                    str(r["bars_under_water"]))  # fmt: skip
    out.print(tab)
    cur = d["current"]
    out.print(f"{d['episodes']} drawdowns; under water {_pct(d['time_under_water'])} of the "
               f"bars; now {_pct(cur['depth'])} below the peak for {cur['bars']} bars",
               highlight=False)  # fmt: skip


def _print_distribution(label: str, d: dict[str, Any]) -> None:
    tab = _table(f"{label}: per-bar returns", "figure", "value")
    for key in ("mean", "std"):
        tab.add_row(key, _pct(d[key]))
    for key in ("volatility",):
        tab.add_row(f"{key} (ann.)", _pct(d[key]))
    for key in ("sharpe", "sortino", "skew", "kurtosis"):
        tab.add_row(key + (" (ann.)" if key in ("sharpe", "sortino") else "")
                    + (" (raw)" if key == "kurtosis" else ""), _num(d[key]))  # fmt: skip
    for q, v in d["quantiles"].items():
        tab.add_row(f"quantile {q}", _pct(v))
    for lv in ("95", "99"):
        tab.add_row(
            f"VaR {lv}% hist / CF", f"{_pct(d['var'][lv])} / {_pct(d['var_cornish_fisher'][lv])}"
        )
        tab.add_row(
            f"CVaR {lv}% hist / CF", f"{_pct(d['cvar'][lv])} / {_pct(d['cvar_cornish_fisher'][lv])}"
        )
    jb = d["jarque_bera"]
    tab.add_row(
        "Jarque-Bera (p)", "n/a" if jb is None else f"{jb['statistic']:.4g} ({jb['pvalue']:.3g})"
    )
    for key in ("best_bar", "worst_bar", "best_day", "worst_day", "best_month", "worst_month"):
        if key in d:
            tab.add_row(
                key.replace("_", " "),
                f"{_pct(d[key]['return'])} ({d[key].get('time') or d[key].get('period')})",
            )
    out.print(tab)
    grid = _table(f"{label}: monthly returns", "year", *(str(m) for m in range(1, 13)), "year")
    for year, row in d["monthly"].items():
        cells = [_pct(row[str(m)]) if row[str(m)] is not None else "" for m in range(1, 13)]
        grid.add_row(year, *cells, _pct(row["year"]))
    out.print(grid)


def _print_monte_carlo(label: str, mc: dict[str, Any]) -> None:
    for method, part in mc.items():
        if part.get("available") is False:
            out.print(f"{label}: {method}: n/a ({part['reason']})", highlight=False)
            continue
        tab = _table(f"{label}: Monte Carlo, {method.replace('_', ' ')} ({part['paths']} paths, "
                     f"seed {part['seed']})", "statistic", "original", "p5", "p25", "p50", "p75",
                     "p95", "rank")  # fmt: skip
        for stat in ("terminal_return", "max_drawdown", "longest_underwater"):
            s = part[stat]
            fmt = _num if stat == "longest_underwater" else _pct
            name = stat if stat != "longest_underwater" else f"longest under water ({part['unit']})"
            tab.add_row(name, fmt(s["original"]), *(fmt(v) for v in s["percentiles"].values()),
                        _num(s["rank"], ".2f"))  # fmt: skip
        out.print(tab)
        dd = ", ".join(f"P(DD > {k}) {_pct(v)}" for k, v in part["p_drawdown"].items())
        out.print(f"P(loss) {_pct(part['p_loss'])}; {dd}", highlight=False)
        out.print(f"verdict: {part['verdict']}", highlight=False)


def _print_breakdown(label: str, b: dict[str, Any]) -> None:
    tab = _table(f"{label}: by calendar year", "year", "return", "volatility", "sharpe",
                 "sortino", "max DD", "trades", "win rate")  # fmt: skip
    for r in b["years"]:
        tab.add_row(r["period"], _pct(r["return"]), _pct(r["volatility"]), _num(r["sharpe"]),
                    _num(r["sortino"]), _pct(r["max_drawdown"]), _num(r["trades"], ".0f"),
                    _pct(r["win_rate"]))  # fmt: skip
    out.print(tab)
    out.print(f"{len(b['months'])} months in analysis.json (breakdown.months)", highlight=False)


def _print_correlation(c: dict[str, Any]) -> None:
    if c.get("available") is False:
        out.print(f"correlation: n/a ({c['reason']})", highlight=False)
        return
    names = list(c["pearson"])
    for key in ("pearson", "spearman", "pearson_daily", "drawdown_overlap"):
        if key not in c:
            continue
        tab = _table(f"correlation: {key.replace('_', ' ')}", "", *(escape(n) for n in names))
        for a in names:
            tab.add_row(escape(a), *(_num(c[key][a][b], ".3f") for b in names))
        out.print(tab)
    out.print(f"cluster order: {', '.join(c['cluster_order'])}", highlight=False)
    n_eff = c["effective_candidates"]
    out.print(
        f"effective number of independent candidates: {n_eff:.2f} of {len(names)} "
        "(usable as the DSR's number of trials)",
        highlight=False,
    )

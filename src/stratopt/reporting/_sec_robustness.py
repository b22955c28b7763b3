"""Sections 9 and 10: CPCV paths and the PBO's logits; the Monte Carlo fan."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from stratopt.reporting._blocks import BEST, GREY, ROBUST, Block, Note, Section, Table, figure
from stratopt.reporting._encode import drawn
from stratopt.reporting._format import count, mapping, number, percent, to_float
from stratopt.reporting._inputs import Extras, MonteCarloFan, PboDetail, StoredRun
from stratopt.reporting._sec_curves import epoch_ms

__all__ = ["MAX_SCATTER", "cpcv_section", "monte_carlo_section"]

MAX_SCATTER = 1500  # CSCV combinations drawn in the IS-vs-OOS scatter
HISTOGRAM_BINS = 40


def histogram(values: np.ndarray, bins: int = HISTOGRAM_BINS) -> dict[str, Any]:
    """A bar trace of `values` binned here (the browser only draws the bars)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    counts, edges = np.histogram(v, bins=bins)
    return {
        "type": "bar",
        "x": (edges[:-1] + edges[1:]) / 2,
        "y": counts.astype(np.int32),
        "width": np.diff(edges),
        "customdata": np.column_stack((edges[:-1], edges[1:])),
    }


def _cpcv_paths(cpcv: Mapping[str, Any]) -> list[Block]:
    paths = [p for p in cpcv.get("paths") or [] if isinstance(p, Mapping)]
    if not paths:
        return []
    sharpe = [to_float(p.get("sharpe")) for p in paths]
    dist = mapping(mapping(cpcv.get("distribution")).get("sharpe"))
    traces = [
        {
            "type": "bar",
            "x": [f"path {p.get('path')}" for p in paths],
            "y": sharpe,
            "marker": {"color": [BEST if s >= 0 else "#d1495b" for s in sharpe]},
            "customdata": [
                [number(p.get("total_return")), number(p.get("max_drawdown"))] for p in paths
            ],
            "hovertemplate": "%{x}: Sharpe %{y:.3f}<br>return %{customdata[0]}, max DD "
            "%{customdata[1]}<extra></extra>",
            "name": "path Sharpe",
        }
    ]
    median = to_float(dist.get("p50"))
    shapes = (
        [
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": median,
                "y1": median,
                "line": {"color": ROBUST, "dash": "dash"},
            }
        ]
        if median == median
        else []
    )
    layout = {
        "yaxis": {"title": {"text": "out-of-sample Sharpe (annualized)"}},
        "shapes": shapes,
        "showlegend": False,
    }
    fig = figure(
        "fig-cpcv-paths",
        traces,
        layout,
        height=320,
        caption=f"median {number(median)} (dashed), spread {number(dist.get('min'))} "
        f"to {number(dist.get('max'))}",
    )
    return [fig]


def _logit_histogram(pbo: PboDetail) -> Block:
    finite = int(np.isfinite(pbo.logits).sum())
    traces = [
        {
            **histogram(pbo.logits),
            "name": "logit of the OOS rank",
            "marker": {"color": BEST, "line": {"color": "white", "width": 0.5}},
            "hovertemplate": "logit %{customdata[0]:.2f} to %{customdata[1]:.2f}: %{y} "
            "combinations<extra></extra>",
        }
    ]
    shapes = [
        {
            "type": "line",
            "x0": 0,
            "x1": 0,
            "yref": "paper",
            "y0": 0,
            "y1": 1,
            "line": {"color": "#d1495b", "width": 2},
        }
    ]
    notes = [
        {
            "x": 0,
            "y": 1,
            "yref": "paper",
            "text": f"PBO {number(pbo.pbo)}: share left of 0",
            "showarrow": False,
            "xanchor": "right",
            "yanchor": "bottom",
            "xshift": -4,
            "font": {"color": "#d1495b"},
        }
    ]
    layout = {
        "xaxis": {"title": {"text": "logit of the in-sample winner's out-of-sample rank"}},
        "yaxis": {"title": {"text": "combinations"}},
        "shapes": shapes,
        "annotations": notes,
        "showlegend": False,
        "bargap": 0,
    }
    caption = f"{count(finite)} of {count(pbo.logits.size)} combinations, in {HISTOGRAM_BINS} bins"
    if finite < pbo.logits.size:
        caption += " (the others rank first or last out of sample: an infinite logit)"
    return figure("fig-pbo-logits", traces, layout, height=320, caption=caption)


def _rank_scatter(pbo: PboDetail, ppy: float) -> Block:
    n = pbo.logits.size
    pick = np.unique(np.linspace(0, n - 1, min(n, MAX_SCATTER)).round().astype(np.int64))
    scale = float(np.sqrt(ppy))
    x, y = drawn(pbo.is_sharpe[pick] * scale), drawn(pbo.oos_sharpe[pick] * scale)
    below = pbo.logits[pick] <= 0
    traces: list[dict[str, Any]] = []
    for mask, name, color in (
        (~below, "OOS rank above median", BEST),
        (below, "OOS rank at or below median", "#d1495b"),
    ):
        traces.append(
            {
                "x": x[mask],
                "y": y[mask],
                "mode": "markers",
                "name": name,
                "marker": {"size": 4, "color": color, "opacity": 0.5},
                "hovertemplate": "IS %{x:.3f} → OOS %{y:.3f}<extra></extra>",
            }
        )
    if np.isfinite(pbo.slope) and x.size:
        lo, hi = float(np.min(x)), float(np.max(x))
        # The stored fit is per period; on annualized axes the line keeps its slope and
        # its intercept scales with sqrt(P).
        fit = [pbo.intercept * scale + pbo.slope * v for v in (lo, hi)]
        traces.append(
            {
                "x": [lo, hi],
                "y": fit,
                "mode": "lines",
                "name": f"degradation fit, slope {number(pbo.slope)}",
                "line": {"color": "#111827", "dash": "dash"},
            }
        )
    layout = {
        "xaxis": {"title": {"text": "in-sample Sharpe of the winner (annualized)"}},
        "yaxis": {"title": {"text": "its out-of-sample Sharpe"}},
    }
    return figure(
        "fig-pbo-scatter",
        traces,
        layout,
        height=380,
        caption=f"{count(pick.size)} of {count(n)} CSCV combinations drawn",
    )


def _pbo_table(stats: Mapping[str, Any]) -> Table:
    pbo = mapping(stats.get("pbo"))
    rows = (
        ("PBO", number(pbo.get("pbo"))),
        (
            "combinations × candidates",
            f"{count(pbo.get('combinations'))} × {count(pbo.get('strategies'))}",
        ),
        ("P(out-of-sample loss)", number(pbo.get("prob_oos_loss"))),
        (
            "degradation slope (R²)",
            f"{number(pbo.get('degradation_slope'))} ({number(pbo.get('degradation_r_squared'))})",
        ),
        (
            "logit quantiles 5/25/50/75/95%",
            " / ".join(number(pbo.get(f"logit_p{q}")) for q in (5, 25, 50, 75, 95)),
        ),
    )
    return Table(("", ""), rows, numeric=(False, True))


def cpcv_section(run: StoredRun, extras: Extras) -> Section | None:
    """9: OOS Sharpe across CPCV paths, the PBO logit histogram and IS-vs-OOS scatter."""
    stats = run.section("statistics") or {}
    cpcv = mapping((run.validation or {}).get("cpcv"))
    has_pbo = mapping(stats.get("pbo")).get("pbo") is not None
    if not cpcv.get("paths") and not has_pbo:
        return None
    blocks: list[Block] = []
    blocks += _cpcv_paths(cpcv)
    if has_pbo:
        blocks.append(_pbo_table(stats))
    if extras.pbo is not None:
        ppy = to_float(mapping(stats.get("best")).get("periods_per_year"))
        bin_size = to_float(mapping(stats.get("trials")).get("bin_size"))
        per_row = ppy / bin_size if bin_size == bin_size and bin_size > 0 else ppy
        blocks += [_logit_histogram(extras.pbo), _rank_scatter(extras.pbo, per_row)]
    elif has_pbo:
        blocks.append(Note("the per-combination logits were not recomputed for this page", "info"))
    sampling = []
    if cpcv.get("paths"):
        sampling.append(
            f"CPCV: {count(cpcv.get('n_paths'))} paths from {count(cpcv.get('n_splits'))} "
            f"splits over {count(cpcv.get('candidates'))} candidates"
        )
    if has_pbo:
        trials = mapping(stats.get("trials"))
        sampling.append(
            f"PBO: {trials.get('selection', 'candidates')} ({count(trials.get('rerun_ok'))} re-run)"
        )
    return Section(
        "cpcv",
        "Cross-validation and overfitting",
        "Each CPCV path is a full out-of-sample backtest made of test groups; a wide spread "
        "or a median far below the in-sample best means the best owed much to one path. The "
        "PBO is the share of combinations where the in-sample winner ranks at or below the "
        "median out of sample (logit ≤ 0).",
        "; ".join(sampling),
        tuple(blocks),
    )


# ---- 10: Monte Carlo ------------------------------------------------------------------


def _fan(fan: MonteCarloFan) -> Block:
    x = epoch_ms(fan.index)
    p = fan.percentiles
    traces: list[dict[str, Any]] = []
    for lo, hi, alpha in ((5, 95, 0.15), (25, 75, 0.3)):
        if lo in p and hi in p:
            traces.append(
                {
                    "x": x,
                    "y": drawn(p[hi]),
                    "mode": "lines",
                    "line": {"width": 0},
                    "showlegend": False,
                    "hoverinfo": "skip",
                }
            )
            traces.append(
                {
                    "x": x,
                    "y": drawn(p[lo]),
                    "mode": "lines",
                    "line": {"width": 0},
                    "fill": "tonexty",
                    "fillcolor": f"rgba(31, 95, 168, {alpha})",
                    "name": f"{lo}–{hi}th percentile",
                    "hoverinfo": "skip",
                }
            )
    if 50 in p:
        traces.append(
            {
                "x": x,
                "y": drawn(p[50]),
                "mode": "lines",
                "name": "median path",
                "line": {"color": BEST, "width": 2},
                "hovertemplate": "%{x|%Y-%m-%d}: %{y:,.0f}<extra>median</extra>",
            }
        )
    traces.append(
        {
            "x": x,
            "y": drawn(fan.original),
            "mode": "lines",
            "name": "as it happened",
            "line": {"color": "#111827", "width": 1.2, "dash": "dot"},
            "hovertemplate": "%{x|%Y-%m-%d}: %{y:,.0f}<extra>actual</extra>",
        }
    )
    layout = {
        "xaxis": {"type": "date"},
        "yaxis": {"title": {"text": "equity"}, "tickformat": ",.0f"},
    }
    return figure("fig-mc-fan", traces, layout, height=380)


def _mdd_histogram(fan: MonteCarloFan) -> Block:
    traces = [
        {
            **histogram(fan.max_drawdown),
            "name": "paths",
            "marker": {"color": GREY, "line": {"color": "white", "width": 0.5}},
            "hovertemplate": "max DD %{customdata[0]:.1%} to %{customdata[1]:.1%}: %{y} "
            "paths<extra></extra>",
        }
    ]
    q = np.percentile(fan.max_drawdown, [5, 50, 95])
    shapes = [
        {
            "type": "line",
            "x0": v,
            "x1": v,
            "yref": "paper",
            "y0": 0,
            "y1": 1,
            "line": {"color": ROBUST if i == 1 else "#6b7280", "dash": "dash"},
        }
        for i, v in enumerate(q)
    ]
    layout = {
        "xaxis": {"title": {"text": "maximum drawdown of a path"}, "tickformat": ".0%"},
        "yaxis": {"title": {"text": "paths"}},
        "shapes": shapes,
        "showlegend": False,
        "bargap": 0,
    }
    return figure(
        "fig-mc-drawdown",
        traces,
        layout,
        height=300,
        caption=f"5th / 50th / 95th percentile: {percent(q[0])} / {percent(q[1])} / "
        f"{percent(q[2])} (dashed)",
    )


def _mc_table(mc: Mapping[str, Any]) -> Table:
    rows = []
    for symbol, part in mapping(mc.get("symbols")).items():
        for method, res in mapping(part).items():
            res = mapping(res)
            pct = mapping(res.get("percentiles"))
            for stat in ("final_equity", "max_drawdown", "sharpe"):
                q = mapping(pct.get(stat))
                fmt = percent if stat == "max_drawdown" else number
                rows.append(
                    (
                        symbol,
                        method.replace("_", " "),
                        stat.replace("_", " "),
                        fmt(mapping(res.get("original")).get(stat)),
                        fmt(q.get("p5")),
                        fmt(q.get("p50")),
                        fmt(q.get("p95")),
                    )
                )
    return Table(
        ("symbol", "method", "statistic", "as it happened", "5%", "50%", "95%"),
        tuple(rows),
        numeric=(False, False, False, True, True, True, True),
    )


def monte_carlo_section(run: StoredRun, extras: Extras) -> Section | None:
    """10: a fan chart of bootstrapped equity (percentiles only) and the max-DD distribution."""
    mc = mapping((run.validation or {}).get("monte_carlo"))
    fan = extras.monte_carlo
    if not mc and fan is None:
        return None
    blocks: list[Block] = []
    if fan is not None:
        blocks += [_fan(fan), _mdd_histogram(fan)]
    if mc.get("symbols"):
        blocks.append(_mc_table(mc))
    elif mc.get("reason"):
        blocks.append(Note(f"Monte Carlo unavailable: {mc['reason']}", "warn"))
    sampling = "percentiles as stored in validation.json"
    if fan is not None:
        sampling = (
            f"{count(fan.n_sims)} {fan.method.replace('_', ' ')} paths of {fan.symbol} "
            f"(seed {fan.seed}), percentiles at {count(fan.steps.size)} of "
            f"{count(int(fan.steps[-1]) if fan.steps.size else 0)} periods"
        )
    return Section(
        "monte-carlo",
        "Monte Carlo",
        "The best candidate's returns resampled in blocks: the bands hold 90% and 50% of the "
        "simulated paths. A wide fan or a deep drawdown tail says the backtest's single "
        "history was one of many that could have happened.",
        sampling,
        tuple(blocks),
    )

"""Section 8: walk-forward windows, their out-of-sample results, drift and stitched curve."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from stratopt.reporting._blocks import BEST, GREY, ROBUST, Block, Figure, Section, Table, figure
from stratopt.reporting._downsample import MAX_POINTS
from stratopt.reporting._format import (
    count,
    mapping,
    metric_value,
    number,
    params_text,
    percent,
    to_float,
)
from stratopt.reporting._inputs import StoredRun
from stratopt.reporting._sec_curves import line_trace

__all__ = ["walk_forward_section"]

_PALETTE = ("#1f5fa8", "#e07b00", "#2a9d8f", "#9b5de5", "#d1495b", "#6b7280")


def _ms(text: Any) -> float:
    stamp = pd.Timestamp(str(text)) if text not in (None, "") else pd.NaT
    return float("nan") if pd.isna(stamp) else float(stamp.value) / 1e6


def _windows(wf: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [w for w in wf.get("windows") or [] if isinstance(w, Mapping)]


def _timeline(windows: Sequence[Mapping[str, Any]]) -> Figure:
    traces = []
    for part, color in (("train", GREY), ("test", BEST)):
        ys, base, width, text = [], [], [], []
        for w in windows:
            span = mapping(w.get(part))
            start, end = _ms(span.get("start")), _ms(span.get("end"))
            ys.append(f"window {w.get('window')}")
            base.append(start)
            width.append(end - start if end == end else 0.0)
            text.append(
                f"{span.get('start')} → {span.get('end') or 'end of data'} "
                f"({count(span.get('bars'))} bars)"
            )
        traces.append(
            {
                "type": "bar",
                "orientation": "h",
                "y": ys,
                "x": width,
                "base": base,
                "name": part,
                "marker": {"color": color},
                "text": text,
                "textposition": "none",
                "hovertemplate": "%{y} " + part + ": %{text}<extra></extra>",
            }
        )
    layout = {
        "barmode": "overlay",
        "xaxis": {"type": "date"},
        "yaxis": {"autorange": "reversed", "type": "category"},
    }
    return figure("fig-wf-timeline", traces, layout, height=max(220, 70 + 26 * len(windows)))


def _per_window(windows: Sequence[Mapping[str, Any]], objective: str) -> Figure:
    labels = [f"window {w.get('window')}" for w in windows]
    traces = []
    for part, color, name in (
        ("in_sample", GREY, "in sample (train)"),
        ("out_of_sample", BEST, "out of sample (test)"),
    ):
        values = [to_float((mapping(w.get(part)).get("values") or [None])[0]) for w in windows]
        traces.append(
            {
                "type": "bar",
                "x": labels,
                "y": values,
                "name": name,
                "marker": {"color": color},
                "text": [params_text(mapping(w.get("params"))) for w in windows],
                "textposition": "none",
                "hovertemplate": "%{x}: %{y:.4g}<br>%{text}<extra>" + name + "</extra>",
            }
        )
    layout = {"barmode": "group", "yaxis": {"title": {"text": objective}}}
    return figure("fig-wf-windows", traces, layout, height=340)


def _drift(wf: Mapping[str, Any], windows: Sequence[Mapping[str, Any]]) -> Figure | None:
    drift = mapping(wf.get("drift"))
    names = [n for n, d in drift.items() if isinstance(d, Mapping)]
    if not names:
        return None
    k = len(names)
    gap = 0.06
    height = (1.0 - gap * (k - 1)) / k
    traces: list[dict[str, Any]] = []
    layout: dict[str, Any] = {"showlegend": False}
    captions = []
    labels = [f"w{w.get('window')}" for w in windows]
    for i, name in enumerate(names):
        axis = "" if i == 0 else str(i + 1)
        values = list(mapping(drift[name]).get("values") or [])
        traces.append(
            {
                "x": labels[: len(values)],
                "y": values,
                "mode": "lines+markers",
                "name": name,
                "xaxis": f"x{axis}",
                "yaxis": f"y{axis}",
                "line": {"color": _PALETTE[i % len(_PALETTE)], "shape": "hv"},
                "hovertemplate": "%{x}: " + name + " = %{y}<extra></extra>",
            }
        )
        top = 1.0 - i * (height + gap)
        d = mapping(drift[name])
        captions.append(
            f"{name}: {count(d.get('changes'))} changes, {count(d.get('distinct'))} distinct"
        )
        layout[f"yaxis{axis}"] = {
            "domain": [max(top - height, 0.0), top],
            "anchor": f"x{axis}",
            "title": {"text": name},
        }
        layout[f"xaxis{axis}"] = {
            "anchor": f"y{axis}",
            "type": "category",
            "showticklabels": i == k - 1,
            **({"matches": "x"} if i else {}),
        }
    height_px = max(220, 130 * k)
    return figure("fig-wf-drift", traces, layout, height=height_px, caption="; ".join(captions))


def _stitched(run: StoredRun) -> Figure | None:
    eq = run.walk_forward_equity
    if eq is None or eq.empty or "equity" not in eq:
        return None
    index = pd.DatetimeIndex(pd.to_datetime(eq["timestamp"]))
    values = eq["equity"].to_numpy(dtype=np.float64)
    trace = line_trace(
        index,
        values,
        "stitched out-of-sample equity",
        ROBUST,
        hovertemplate="%{x|%Y-%m-%d}: %{y:,.0f}<extra></extra>",
    )
    starts = eq.groupby("window", sort=False)["timestamp"].first()
    shapes = [
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": _ms(t),
            "x1": _ms(t),
            "y0": 0,
            "y1": 1,
            "line": {"color": "#d0d4da", "width": 1, "dash": "dot"},
        }
        for t in starts.tolist()
    ]
    layout = {
        "xaxis": {"type": "date"},
        "yaxis": {"title": {"text": "equity"}, "tickformat": ",.0f"},
        "shapes": shapes,
        "showlegend": False,
    }
    return figure("fig-wf-stitched", [trace], layout, height=340)


def _efficiency(wf: Mapping[str, Any]) -> Table:
    eff = mapping(wf.get("efficiency"))
    st = mapping(mapping(wf.get("stitched")).get("metrics"))
    rows = (
        (
            "CAGR",
            metric_value("cagr", eff.get("mean_in_sample_cagr")),
            metric_value("cagr", eff.get("out_of_sample_cagr")),
            number(eff.get("return")),
        ),
        (
            "Sharpe",
            number(eff.get("mean_in_sample_sharpe")),
            number(eff.get("out_of_sample_sharpe")),
            number(eff.get("sharpe")),
        ),
        ("max drawdown", "", metric_value("max_drawdown", st.get("max_drawdown")), ""),
        ("trades", "", count(st.get("trades")), ""),
    )
    return Table(
        ("", "mean in sample", "stitched out of sample", "efficiency (OOS ÷ IS)"),
        rows,
        numeric=(False, True, True, True),
    )


def _window_table(windows: Sequence[Mapping[str, Any]]) -> Table:
    rows = []
    for w in windows:
        test = mapping(w.get("test"))
        ins = mapping(mapping(w.get("in_sample")).get("metrics"))
        oos = mapping(mapping(w.get("out_of_sample")).get("metrics"))
        rows.append(
            (
                str(w.get("window")),
                f"{str(test.get('start'))[:10]} → {str(test.get('end') or '')[:10]}",
                params_text(mapping(w.get("params"))),
                number(ins.get("sharpe")),
                number(oos.get("sharpe")),
                percent(oos.get("total_return")),
                percent(oos.get("max_drawdown")),
                count(oos.get("trades")),
                number(mapping(w.get("efficiency")).get("sharpe")),
                str(w.get("error") or ""),
            )
        )
    return Table(
        (
            "window",
            "test",
            "params",
            "IS Sharpe",
            "OOS Sharpe",
            "OOS return",
            "OOS max DD",
            "OOS trades",
            "WFE Sharpe",
            "error",
        ),
        tuple(rows),
        numeric=(True, False, False, True, True, True, True, True, True, False),
    )


def walk_forward_section(run: StoredRun) -> Section | None:
    """8: window timeline, per-window OOS metric, drift, stitched equity, efficiency."""
    wf = run.walk_forward
    if not isinstance(wf, Mapping) or not _windows(wf):
        return None
    windows = _windows(wf)
    blocks: list[Block] = [
        _efficiency(wf),
        _timeline(windows),
        _per_window(windows, str(wf.get("objective", "objective"))),
    ]
    for fig in (_drift(wf, windows), _stitched(run)):
        if fig is not None:
            blocks.append(fig)
    blocks.append(_window_table(windows))
    stitched = mapping(wf.get("stitched"))
    n = int(to_float(stitched.get("bars"))) if stitched.get("bars") is not None else 0
    points = f"stitched curve: {count(n)} bars, at most {count(MAX_POINTS)} points drawn"
    return Section(
        "walk-forward",
        "Walk-forward",
        "Each window searches its train span and trades its best on the test span that "
        "follows. Efficiency near 1 means the in-sample edge carried over; parameters that "
        "jump between windows are a warning even when the stitched curve looks fine.",
        f"all {len(windows)} windows; {points}",
        tuple(blocks),
    )

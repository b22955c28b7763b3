"""Section 7: equity and underwater curves of best vs robust vs buy-and-hold."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from stratopt.reporting._blocks import (
    BEST,
    BUY_HOLD,
    HOLDOUT_FILL,
    ROBUST,
    Block,
    Figure,
    Note,
    Section,
    Table,
    figure,
)
from stratopt.reporting._downsample import MAX_POINTS, minmax_indices
from stratopt.reporting._drawdowns import drawdown_episodes, underwater
from stratopt.reporting._encode import drawn
from stratopt.reporting._format import count, percent
from stratopt.reporting._inputs import CandidateCurve, Curves, Extras

__all__ = ["MAX_SYMBOLS", "curves_section", "epoch_ms", "line_trace"]

MAX_SYMBOLS = 4


def epoch_ms(index: pd.DatetimeIndex) -> np.ndarray:
    """Milliseconds since 1970 (what a plotly date axis reads), as float64."""
    return pd.DatetimeIndex(index).as_unit("ns").asi8.astype(np.float64) / 1e6


def line_trace(
    index: pd.DatetimeIndex, values: np.ndarray, name: str, color: str, **extra: Any
) -> dict[str, Any]:
    """A time series downsampled to at most MAX_POINTS (min and max per bucket)."""
    keep = minmax_indices(values, MAX_POINTS)
    return {
        "x": epoch_ms(index)[keep],
        "y": drawn(np.asarray(values)[keep]),
        "mode": "lines",
        "name": name,
        "line": {"color": color, "width": 1.6},
        **extra,
    }


def _members(curves: Curves) -> list[tuple[CandidateCurve, str, str]]:
    out = [(curves.best, BEST, "solid")]
    if curves.robust is not None:
        out.append((curves.robust, ROBUST, "solid"))
    if curves.buy_and_hold is not None:
        out.append((curves.buy_and_hold, BUY_HOLD, "dot"))
    return out


def _holdout_shapes(curves: Curves) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if curves.holdout_start is None:
        return [], []
    start = float(pd.Timestamp(curves.holdout_start).value) / 1e6
    end = float(curves.best.index[-1].value) / 1e6
    shape = {
        "type": "rect",
        "xref": "x",
        "yref": "paper",
        "x0": start,
        "x1": end,
        "y0": 0,
        "y1": 1,
        "fillcolor": HOLDOUT_FILL,
        "line": {"width": 0},
        "layer": "below",
    }
    note = {
        "x": start,
        "y": 1,
        "xref": "x",
        "yref": "paper",
        "text": "holdout →",
        "showarrow": False,
        "xanchor": "left",
        "yanchor": "bottom",
        "font": {"color": ROBUST},
    }
    return [shape], [note]


def _equity_figure(curves: Curves, k: int) -> Figure:
    traces: list[dict[str, Any]] = []
    for curve, color, dash in _members(curves):
        traces.append(
            line_trace(
                curve.index,
                curve.equity,
                curve.label,
                color,
                line={"color": color, "width": 1.6, "dash": dash},
                legendgroup=curve.label,
                hovertemplate="%{x|%Y-%m-%d}: %{y:,.0f}<extra>" + curve.label + "</extra>",
            )
        )
        uw = underwater(curve.equity, curve.cash)
        traces.append(
            line_trace(
                curve.index,
                uw,
                curve.label,
                color,
                xaxis="x2",
                yaxis="y2",
                line={"color": color, "width": 1.2, "dash": dash},
                legendgroup=curve.label,
                showlegend=False,
                hovertemplate="%{x|%Y-%m-%d}: %{y:.1%}<extra>" + curve.label + " drawdown</extra>",
            )
        )
    shapes, notes = _holdout_shapes(curves)
    layout = {
        "xaxis": {"type": "date", "anchor": "y", "showticklabels": False},
        "yaxis": {"title": {"text": "equity"}, "domain": [0.36, 1.0], "tickformat": ",.0f"},
        "xaxis2": {"type": "date", "matches": "x", "anchor": "y2"},
        "yaxis2": {"title": {"text": "drawdown"}, "domain": [0.0, 0.28], "tickformat": ".0%"},
        "shapes": shapes,
        "annotations": notes,
        "hovermode": "x unified",
    }
    return figure(f"fig-equity-{k}", traces, layout, height=520)


def _date(index: pd.DatetimeIndex, pos: int | None) -> str:
    return "not recovered" if pos is None else str(index[pos].date())


def _drawdown_table(curve: CandidateCurve) -> Table:
    rows = []
    for i, ep in enumerate(drawdown_episodes(curve.equity, curve.cash, worst=10), start=1):
        end = ep.recovery if ep.recovery is not None else len(curve.index) - 1
        rows.append(
            (
                str(i),
                percent(-ep.depth),
                _date(curve.index, ep.peak),
                _date(curve.index, ep.trough),
                _date(curve.index, ep.recovery),
                count(ep.trough - ep.peak),
                count(end - ep.trough),
            )
        )
    return Table(
        ("#", "depth", "peak", "trough", "recovered", "bars to trough", "bars to recover"),
        tuple(rows),
        numeric=(True, True, False, False, False, True, True),
        caption=f"worst 10 drawdowns of the {curve.label} candidate (whole data range)",
    )


def curves_section(extras: Extras) -> Section | None:
    """7: equity, underwater, holdout shading and the worst-10 drawdowns table."""
    if not extras.curves:
        return None
    blocks: list[Block] = []
    shown = list(extras.curves)[:MAX_SYMBOLS]
    for k, curves in enumerate(shown):
        blocks.append(_equity_figure(curves, k))
        blocks.append(_drawdown_table(curves.best))
    if len(extras.curves) > len(shown):
        blocks.append(Note(f"{len(shown)} of {len(extras.curves)} symbols shown", "info"))
    n = len(shown[0].best.index)
    sampling = f"{count(n)} bars per curve, drawn with at most {count(MAX_POINTS)} points a trace "
    sampling += "(lowest and highest bar of each bucket kept)" if n > MAX_POINTS else "(all)"
    first = shown[0]
    final = percent(first.best.equity[-1] / first.best.cash - 1.0)
    return Section(
        "equity",
        "Equity and drawdowns",
        "The best and robust candidates re-run over the whole data (the shaded tail is the "
        "holdout the search never saw) against buying and holding; below, how far each "
        "sits under its last peak.",
        f"{sampling}; the best's return over the whole range: {final}",
        tuple(blocks),
    )

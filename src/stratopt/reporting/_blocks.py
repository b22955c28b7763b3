"""The page's building blocks: sections holding figures, tables, KPI tiles and notes.

Section builders return these; the template renders them. A figure is plotly figure
JSON (SVG trace types only: the page must draw without WebGL); a table holds strings
already formatted in Python, plus the raw values where the browser sorts or exports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "BEST",
    "BUY_HOLD",
    "GREY",
    "ROBUST",
    "SVG_TRACE_TYPES",
    "Block",
    "Figure",
    "Kpi",
    "Kpis",
    "Note",
    "Section",
    "Table",
    "Tone",
    "TrialsTable",
    "figure",
    "tone",
]

# Colours of the page's recurring actors (colour-blind safe: blue / orange / grey).
BEST = "#1f5fa8"
ROBUST = "#e07b00"
BUY_HOLD = "#8a8f98"
GREY = "#c5cad3"
HOLDOUT_FILL = "rgba(224, 123, 0, 0.08)"

# Plotly trace types drawn as SVG (a heatmap is an SVG <image>, drawn with a 2-D canvas).
SVG_TRACE_TYPES = frozenset({"scatter", "bar", "heatmap", "histogram", "box"})

_FONT = "-apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
THEME: dict[str, Any] = {
    "font": {"family": _FONT, "size": 12, "color": "#222831"},
    "paper_bgcolor": "#ffffff",
    "plot_bgcolor": "#ffffff",
    "margin": {"l": 64, "r": 24, "t": 36, "b": 48},
    "hovermode": "closest",
    "hoverlabel": {"font": {"family": _FONT}},
    "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0, "xanchor": "left"},
    "colorway": [BEST, ROBUST, BUY_HOLD, "#2a9d8f", "#9b5de5", "#d1495b"],
}
_AXIS = {
    "gridcolor": "#eceff3",
    "zerolinecolor": "#c5cad3",
    "linecolor": "#c5cad3",
    "showline": True,
    "ticks": "outside",
    "tickcolor": "#c5cad3",
    "automargin": True,
}


@dataclass(frozen=True)
class Figure:
    """One plotly figure: its div id, `data` (traces) and `layout`."""

    id: str
    data: list[dict[str, Any]]
    layout: dict[str, Any]
    height: int
    caption: str | None = None
    kind: Literal["figure"] = "figure"

    def spec(self) -> dict[str, Any]:
        return {"data": self.data, "layout": self.layout}


def _axes(layout: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in layout.items():
        if (key.startswith("xaxis") or key.startswith("yaxis")) and isinstance(value, Mapping):
            out[key] = {**_AXIS, **value}
    for key in ("xaxis", "yaxis"):
        out.setdefault(key, dict(_AXIS))
    return out


def figure(
    fig_id: str,
    traces: Sequence[Mapping[str, Any]],
    layout: Mapping[str, Any] | None = None,
    *,
    height: int = 380,
    caption: str | None = None,
) -> Figure:
    """A figure with the page's theme; every trace must be an SVG type."""
    data = []
    for t in traces:
        kind = str(t.get("type", "scatter"))
        if kind not in SVG_TRACE_TYPES:
            raise ValueError(f"trace type {kind!r} is not drawn as SVG")
        data.append({"type": kind, **t})
    given = dict(layout or {})
    merged = {**THEME, **given, **_axes(given), "height": height, "autosize": True}
    return Figure(fig_id, data, merged, height, caption)


@dataclass(frozen=True)
class Table:
    """A static table; `numeric[i]` right-aligns column i; `emphasis` rows are bold."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...] = ()
    caption: str | None = None
    emphasis: frozenset[int] = frozenset()
    kind: Literal["table"] = "table"

    def is_numeric(self, i: int) -> bool:
        return i < len(self.numeric) and self.numeric[i]


@dataclass(frozen=True)
class TrialsTable:
    """The sortable, filterable trials table: display strings and raw values per cell."""

    id: str
    columns: tuple[str, ...]
    display: tuple[tuple[str, ...], ...]
    raw: tuple[tuple[Any, ...], ...]
    numeric: tuple[bool, ...]
    csv_name: str
    kind: Literal["trials"] = "trials"

    def payload(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "display": [list(r) for r in self.display],
            "raw": [list(r) for r in self.raw],
            "numeric": list(self.numeric),
            "csv": self.csv_name,
        }


@dataclass(frozen=True)
class Kpi:
    label: str
    value: str
    detail: str = ""
    tone: Literal["good", "bad", "neutral"] = "neutral"


Tone = Literal["good", "bad", "neutral"]


def tone(value: float, good: bool, bad: bool) -> Tone:
    """A KPI tile's colour: neutral for a missing (NaN) value."""
    if value != value:
        return "neutral"
    return "good" if good else "bad" if bad else "neutral"


@dataclass(frozen=True)
class Kpis:
    tiles: tuple[Kpi, ...]
    kind: Literal["kpis"] = "kpis"


@dataclass(frozen=True)
class Note:
    text: str
    tone: Literal["info", "warn"] = "info"
    kind: Literal["note"] = "note"


Block = Figure | Table | TrialsTable | Kpis | Note


@dataclass(frozen=True)
class Section:
    """One section of the page: a title, one line on how to read it, what it sampled."""

    id: str
    title: str
    how_to_read: str
    sampling: str
    blocks: tuple[Block, ...] = field(default_factory=tuple)

    @property
    def figures(self) -> list[Figure]:
        return [b for b in self.blocks if isinstance(b, Figure)]

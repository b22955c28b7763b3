"""The HTML file: a jinja2 template (autoescaped), the figures' JSON and plotly.js.

plotly.js comes from the installed plotly package and is embedded once per file. By
default it is gzip-compressed and base64-encoded (about 2 MB instead of 4.8 MB) and
unpacked in the browser with `DecompressionStream`, so the file opens offline, from a
mail attachment or a shared drive, with no server and no network.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

from stratopt.reporting import _plotly_payload
from stratopt.reporting._blocks import Figure, Section, TrialsTable
from stratopt.reporting._encode import to_json
from stratopt.reporting._page import PlotlyJs
from stratopt.reporting._plotly_payload import PLOTLY_FILE

if TYPE_CHECKING:
    import jinja2
    import markupsafe

__all__ = ["EXTRA_HINT", "PLOTLY_FILE", "Rendered", "missing_extra", "plotly_js", "render_html"]

# plotly and jinja2 are the `report` extra; they are imported where they are used, so
# stratopt (and its CLI) works without them and says how to install them when asked.
EXTRA_HINT = "pip install 'stratopt[report]'"
_EXTRA_MODULES = ("plotly", "jinja2")


def missing_extra() -> str | None:
    """None when the report can be made, else one line saying what to install."""
    missing = [m for m in _EXTRA_MODULES if importlib.util.find_spec(m) is None]
    if not missing:
        return None
    return f"the report needs {' and '.join(missing)}: {EXTRA_HINT}"


@dataclass(frozen=True)
class Rendered:
    """The page, and files to write beside it (`directory` mode's plotly.min.js)."""

    html: str
    assets: dict[str, bytes] = field(default_factory=dict)
    figure_ids: tuple[str, ...] = ()


@functools.cache
def plotly_js() -> bytes:
    """plotly.min.js as the installed plotly package ships it."""
    return _plotly_payload.plotly_js()


@functools.cache
def _plotly_gzip_b64() -> str:
    # mtime=0: the same plotly gives the same bytes, so the same study gives the same
    # file; kept on disk after the first report (`_plotly_payload`)
    return _plotly_payload.plotly_gzip_b64()


def _markup(text: str) -> markupsafe.Markup:
    """Text the template inserts as is (already escaped for where it goes)."""
    import markupsafe

    return markupsafe.Markup(text)


def _script_json(value: Any) -> markupsafe.Markup:
    """JSON safe inside a <script> element (no `</script>`, no `<!--`)."""
    text = value if isinstance(value, str) else json.dumps(value, allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return _markup(text)


def _inline_script(source: bytes) -> markupsafe.Markup:
    return _markup(source.decode("utf-8").replace("</script", "<\\/script"))


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("stratopt.reporting", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    return env


def _asset(name: str) -> markupsafe.Markup:
    text = (resources.files("stratopt.reporting") / "templates" / name).read_text("utf-8")
    return _markup(text)


def _plotly_context(mode: PlotlyJs) -> tuple[dict[str, Any], dict[str, bytes]]:
    if mode == "gzip":
        return {"mode": mode, "payload": _markup(_plotly_gzip_b64())}, {}
    if mode == "inline":
        return {"mode": mode, "script": _inline_script(plotly_js())}, {}
    if mode == "directory":
        return {"mode": mode, "src": PLOTLY_FILE}, {PLOTLY_FILE: plotly_js()}
    import plotly.offline

    version = plotly.offline.get_plotlyjs_version()
    return {"mode": mode, "src": f"https://cdn.plot.ly/plotly-{version}.min.js"}, {}


def render_html(
    sections: Sequence[Section],
    *,
    title: str,
    subtitle: str,
    plotlyjs: PlotlyJs,
) -> Rendered:
    """The page for `sections`; figure JSON and table data embedded once, at the end."""
    figures: dict[str, Any] = {}
    tables: dict[str, Any] = {}
    for section in sections:
        for block in section.blocks:
            if isinstance(block, Figure):
                figures[block.id] = block.spec()
            elif isinstance(block, TrialsTable):
                tables[block.id] = block.payload()
    plotly_ctx, assets = _plotly_context(plotlyjs)
    html = (
        _environment()
        .get_template("report.html.j2")
        .render(
            title=title,
            subtitle=subtitle,
            sections=sections,
            figures_json=_script_json(to_json(figures)),
            tables_json=_script_json(to_json(tables)),
            plotly=plotly_ctx,
            css=_asset("report.css"),
            js=_asset("report.js"),
        )
    )
    return Rendered(html, assets, tuple(figures))

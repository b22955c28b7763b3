"""Rendering a `ReportInput` to HTML and writing it (with `directory` mode's assets)."""

from __future__ import annotations

import datetime as dt
from importlib import metadata
from pathlib import Path

from stratopt.reporting._html import Rendered, render_html
from stratopt.reporting._inputs import ReportInput
from stratopt.reporting._page import ReportOptions, build_sections

__all__ = ["render_report", "write_report"]


def _subtitle(report: ReportInput) -> str:
    first = report.studies[0].run
    try:
        version = metadata.version("stratopt")
    except metadata.PackageNotFoundError:
        version = "?"
    made = report.generated_utc or dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    others = len(report.studies) - 1
    compared = (
        f", compared with {others} other stud{'y' if others == 1 else 'ies'}" if others else ""
    )
    return f"{first.kind} run{compared} · made {made} by stratopt {version}"


def render_report(report: ReportInput, options: ReportOptions | None = None) -> Rendered:
    """The report's HTML (and, for `directory` mode, the files to write beside it).

    Raises:
        ImportError: plotly or jinja2 is not installed (`missing_extra()` says which).
    """
    opts = options or ReportOptions()
    sections = build_sections(report, opts)
    first = report.studies[0].run
    title = report.title or f"{first.name} — {'batch' if first.kind == 'batch' else 'study'} report"
    return render_html(sections, title=title, subtitle=_subtitle(report), plotlyjs=opts.plotlyjs)


def write_report(report: ReportInput, path: Path, options: ReportOptions | None = None) -> Path:
    """Write the report to `path` (and its assets beside it); return `path`."""
    rendered = render_report(report, options)
    path.parent.mkdir(parents=True, exist_ok=True)
    for name, content in rendered.assets.items():
        (path.parent / name).write_bytes(content)
    path.write_text(rendered.html, encoding="utf-8")
    return path

"""The study report: one offline HTML file a trader opens in a browser.

A report is made from what a run stored (`StoredRun`: summary.json, ranked_results.csv,
holdout.csv, walk_forward.*, validation.json, ...) and from numbers stratopt's own
functions compute for it (`Extras`: equity curves, PBO logits, Monte Carlo paths). It is
one long page, every section titled, told how to read and what it sampled, drawn with
plotly as SVG (no WebGL) and with plotly.js embedded once, so it opens with no network.

plotly and jinja2 are the `report` extra (`pip install 'stratopt[report]'`);
`missing_extra()` says what is missing. `stratopt.operations` makes reports of run
folders and studies; this package only draws them.

Example:
    >>> from stratopt.report import ReportInput, StudyReport, read_run_folder, write_report
    >>> run = read_run_folder(Path("runs/my_study/20260101T000000Z"))  # doctest: +SKIP
    >>> write_report(ReportInput([StudyReport(run)]), run.folder / "report.html")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from importlib import metadata
from pathlib import Path

from stratopt.report._html import EXTRA_HINT, Rendered, missing_extra, render_html
from stratopt.report._inputs import (
    CandidateCurve,
    CandidateStatistics,
    Curves,
    Extras,
    MonteCarloFan,
    PboDetail,
    ReportInput,
    RunKind,
    Slice,
    StoredRun,
    StudyReport,
)
from stratopt.report._page import PLOTLYJS_MODES, PlotlyJs, ReportOptions, build_sections
from stratopt.report._read import folder_kind, read_run_folder, sibling_optimize_run

__all__ = [
    "EXTRA_HINT",
    "PLOTLYJS_MODES",
    "REPORT_FILE",
    "CandidateCurve",
    "CandidateStatistics",
    "Curves",
    "Extras",
    "MonteCarloFan",
    "PboDetail",
    "PlotlyJs",
    "Rendered",
    "ReportInput",
    "ReportOptions",
    "RunKind",
    "Slice",
    "StoredRun",
    "StudyReport",
    "folder_kind",
    "missing_extra",
    "read_run_folder",
    "render_report",
    "sibling_optimize_run",
    "write_report",
]

REPORT_FILE = "report.html"


def _subtitle(report: ReportInput) -> str:
    first = report.studies[0].run
    try:
        version = metadata.version("stratopt")
    except metadata.PackageNotFoundError:
        version = "?"
    made = report.generated_utc or dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    others = len(report.studies) - 1
    compared = f", compared with {others} other stud{'y' if others == 1 else 'ies'}" if others else ""
    return f"{first.kind} run{compared} · made {made} by stratopt {version}"


def render_report(report: ReportInput, options: ReportOptions | None = None) -> Rendered:
    """The report's HTML (and, for `directory` mode, the files to write beside it).

    Raises:
        ImportError: plotly or jinja2 is not installed (`missing_extra()` says which).
    """
    opts = options or ReportOptions()
    sections = build_sections(report, opts)
    title = report.title or f"{report.studies[0].run.name} — study report"
    return render_html(sections, title=title, subtitle=_subtitle(report), plotlyjs=opts.plotlyjs)


def write_report(report: ReportInput, path: Path, options: ReportOptions | None = None) -> Path:
    """Write the report to `path` (and its assets beside it); return `path`."""
    rendered = render_report(report, options)
    path.parent.mkdir(parents=True, exist_ok=True)
    for name, content in rendered.assets.items():
        (path.parent / name).write_bytes(content)
    path.write_text(rendered.html, encoding="utf-8")
    return path

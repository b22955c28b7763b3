"""The study report: one offline HTML file a trader opens in a browser.

A report is made from what a run stored (`StoredRun`: summary.json, ranked_results.csv,
holdout.csv, walk_forward.*, validation.json, ...) and from numbers stratopt's own
functions compute for it (`Extras`: equity curves, PBO logits, Monte Carlo paths). It is
one long page, every section titled, told how to read and what it sampled, drawn with
plotly as SVG (no WebGL) and with plotly.js embedded once, so it opens with no network.

plotly and jinja2 are the `report` extra (`pip install 'stratopt[report]'`);
`missing_extra()` says what is missing. `report` (also `stratopt.report`) makes
the report of run folders or study files:

    >>> import stratopt
    >>> stratopt.report("runs/my_study/20260101T000000Z")  # doctest: +SKIP
    PosixPath('runs/my_study/20260101T000000Z/report.html')
"""

from __future__ import annotations

from stratopt.reporting._html import EXTRA_HINT, Rendered, missing_extra
from stratopt.reporting._inputs import (
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
from stratopt.reporting._make import (
    REPORT_FILE,
    ReportExtraMissing,
    Target,
    load_target,
    report,
    study_report,
    write_targets,
)
from stratopt.reporting._page import PLOTLYJS_MODES, PlotlyJs, ReportOptions
from stratopt.reporting._read import folder_kind, read_run_folder, sibling_optimize_run
from stratopt.reporting._write import render_report, write_report

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
    "ReportExtraMissing",
    "ReportInput",
    "ReportOptions",
    "RunKind",
    "Slice",
    "StoredRun",
    "StudyReport",
    "Target",
    "folder_kind",
    "load_target",
    "missing_extra",
    "read_run_folder",
    "render_report",
    "report",
    "sibling_optimize_run",
    "study_report",
    "write_report",
    "write_targets",
]

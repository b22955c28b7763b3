"""The study report's page: figures and tables from a run's numbers, in one offline HTML.

A page is drawn from what a run stored (`StoredRun`: summary.json, ranked_results.csv,
holdout.csv, walk_forward.*, validation.json, a batch's batch.csv and matrices, ...;
`read_run_folder` reads one) and from
numbers stratopt's own functions computed for it (`Extras`: equity curves, PBO logits,
Monte Carlo paths). It is one long page, every section titled, told how to read and
what it sampled, drawn with plotly as SVG (no WebGL) and with plotly.js embedded once,
so it opens with no network. This package only draws: it never loads a study or re-runs
a candidate. The operation that does, and writes report.html, is
`stratopt.operations.report` (also `stratopt.report`):

    >>> import stratopt
    >>> stratopt.report("runs/my_study/20260101T000000Z")  # doctest: +SKIP
    PosixPath('runs/my_study/20260101T000000Z/report.html')

plotly and jinja2 are the `report` extra (`pip install 'stratopt[report]'`);
`missing_extra()` says what is missing.
"""

from __future__ import annotations

from stratopt.reporting._candidates import Pick, best_and_robust, objective_metric
from stratopt.reporting._format import mapping, metric_value, number, percent, to_float
from stratopt.reporting._html import EXTRA_HINT, Rendered, missing_extra
from stratopt.reporting._inputs import (
    BatchRun,
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
from stratopt.reporting._page import PLOTLYJS_MODES, PlotlyJs, ReportOptions
from stratopt.reporting._read import (
    SUMMARY,
    folder_kind,
    read_run_folder,
    sibling_optimize_run,
)
from stratopt.reporting._write import render_report, write_report

__all__ = [
    "EXTRA_HINT",
    "PLOTLYJS_MODES",
    "SUMMARY",
    "BatchRun",
    "CandidateCurve",
    "CandidateStatistics",
    "Curves",
    "Extras",
    "MonteCarloFan",
    "PboDetail",
    "Pick",
    "PlotlyJs",
    "Rendered",
    "ReportInput",
    "ReportOptions",
    "RunKind",
    "Slice",
    "StoredRun",
    "StudyReport",
    "best_and_robust",
    "folder_kind",
    "mapping",
    "metric_value",
    "missing_extra",
    "number",
    "objective_metric",
    "percent",
    "read_run_folder",
    "render_report",
    "sibling_optimize_run",
    "to_float",
    "write_report",
]

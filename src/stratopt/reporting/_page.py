"""The sections of one page, in reading order, from a `ReportInput`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from stratopt.reporting._blocks import Note, Section
from stratopt.reporting._inputs import ReportInput, StudyReport
from stratopt.reporting._sec_batch import batch_sections
from stratopt.reporting._sec_curves import curves_section
from stratopt.reporting._sec_history import history_section, importance_section
from stratopt.reporting._sec_landscape import (
    PARALLEL_TOP,
    heatmap_section,
    parallel_section,
    sensitivity_section,
)
from stratopt.reporting._sec_ml import ml_manifest_section, ml_stage1_section, ml_verdict_section
from stratopt.reporting._sec_overview import manifest_section, verdict_section
from stratopt.reporting._sec_robustness import cpcv_section, monte_carlo_section
from stratopt.reporting._sec_trials import TABLE_TOP, comparison_section, trials_section
from stratopt.reporting._sec_walk_forward import walk_forward_section

__all__ = ["PLOTLYJS_MODES", "PlotlyJs", "ReportOptions", "build_sections"]

PlotlyJs = Literal["gzip", "inline", "directory", "cdn"]
PLOTLYJS_MODES: tuple[PlotlyJs, ...] = ("gzip", "inline", "directory", "cdn")


@dataclass(frozen=True)
class ReportOptions:
    """How a report is made.

    Attributes:
        plotlyjs: How plotly.js reaches the page: `gzip` (embedded compressed, unpacked
            by the browser: one self-contained file), `inline` (embedded as is, about
            twice the size), `directory` (plotly.min.js written beside the report) or
            `cdn` (loaded from the network: the page is blank offline).
        max_trials: At most this many trials are drawn as points in per-trial figures
            (the history); every trial still counts in lines, bins and tables.
        top: Trials in the parallel coordinates and the trials table.
    """

    plotlyjs: PlotlyJs = "gzip"
    max_trials: int = 5000
    top: int = TABLE_TOP

    def __post_init__(self) -> None:
        if self.plotlyjs not in PLOTLYJS_MODES:
            raise ValueError(
                f"plotlyjs: {self.plotlyjs!r} is not one of {', '.join(PLOTLYJS_MODES)}"
            )
        if self.max_trials < 10:
            raise ValueError(f"max_trials: must be at least 10, got {self.max_trials}")
        if self.top < 1:
            raise ValueError(f"top: must be at least 1, got {self.top}")


def _study_sections(study: StudyReport, options: ReportOptions) -> list[Section | None]:
    run, extras = study.run, study.extras
    top = min(options.top, PARALLEL_TOP) if options.top else PARALLEL_TOP
    builders: list[Callable[[], Section | None]] = [
        lambda: history_section(run, options.max_trials),
        lambda: importance_section(run),
        lambda: parallel_section(run, top),
        lambda: sensitivity_section(run, extras),
        lambda: heatmap_section(run),
        lambda: curves_section(extras),
        lambda: walk_forward_section(run),
        lambda: cpcv_section(run, extras),
        lambda: monte_carlo_section(run, extras),
        lambda: trials_section(run, options.top),
    ]
    return [build() for build in builders]


def _head_sections(study: StudyReport) -> list[Section | None]:
    """Manifest and verdict (with a two-stage run's stage 1 after them)."""
    run = study.run
    if run.ml is not None:
        return [ml_manifest_section(run), ml_verdict_section(run), ml_stage1_section(run)]
    return [manifest_section(run), verdict_section(run, study.extras)]


def build_sections(report: ReportInput, options: ReportOptions) -> list[Section]:
    """Manifest, verdict, (comparison), then the first study's sections that have data."""
    first = report.studies[0]
    if first.run.batch is not None:  # a batch searched nothing: its own sections only
        return [s for s in batch_sections(first.run) if s is not None]
    sections = _head_sections(first)
    sections.append(comparison_section([s.run for s in report.studies]))
    sections += _study_sections(first, options)
    out = [s for s in sections if s is not None]
    if first.extras.notes:
        verdict = next(i for i, s in enumerate(out) if s.id == "verdict")
        notes = tuple(Note(n, "warn") for n in first.extras.notes)
        s = out[verdict]
        out[verdict] = Section(s.id, s.title, s.how_to_read, s.sampling, s.blocks + notes)
    return out

"""The outcomes of backtest_batch, analyze_results and report: compact, with the paths
of the files under the workspace root that hold everything."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AnalysisOutcome", "BatchOutcome", "FromStudy", "ReportOutcome"]


class FromStudy(BaseModel):
    """A batch's parameter sets taken from the study's own stored trials (after optimize)."""

    model_config = ConfigDict(extra="forbid")

    top: int = Field(default=10, ge=1, le=100, description="How many candidates to take.")
    robust: bool = Field(
        default=False, description="The most robust candidates instead of the best ones."
    )


class BatchOutcome(BaseModel):
    """A finished batch: per parameter set, how it did across every series."""

    run_folder: str = Field(
        description="Run folder under the workspace root: pass it to analyze_results or report."
    )
    batch_path: str = Field(description="batch.csv: one row per series x parameter set.")
    summary_path: str = Field(description="summary.json (everything, in full).")
    matrix_paths: dict[str, str] = Field(
        description="Metric id -> matrix_<metric>.csv (rows series, columns parameter sets)."
    )
    cells: int = Field(description="Cells run (series x parameter sets).")
    errors: int = Field(description="Cells that failed (their error is in batch.csv).")
    metric: str = Field(description="The metric the parameter sets are ranked by.")
    sets: list[dict[str, Any]] = Field(
        description=(
            "Per parameter set (`set` is its index, in the order given): its parameters, "
            "median and worst of the metric across series, fraction profitable, mean rank."
        )
    )
    kendall_w: dict[str, Any] = Field(
        description="Kendall's W: how much the series agree on the ranking (1: fully)."
    )


class AnalysisOutcome(BaseModel):
    """The analysis of stored results (the content of analysis.json)."""

    analysis_path: str = Field(description="analysis.json under the workspace root.")
    sections: list[str] = Field(description="The sections computed.")
    monte_carlo: dict[str, Any] = Field(description="Monte Carlo paths and seed.")
    candidates: list[dict[str, Any]] = Field(
        description="Per candidate: its label, summary metrics, annualization and sections."
    )
    correlation: dict[str, Any] | None = Field(
        default=None, description="Correlation of the candidates' returns (when asked for)."
    )


class ReportOutcome(BaseModel):
    """The written report."""

    path: str = Field(description="The report.html under the workspace root.")
    size: int = Field(description="Its size in bytes.")

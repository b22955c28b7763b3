"""The tools' inputs and outputs: pydantic models whose field descriptions are the
documentation an agent reads in the tool schemas.

Results are compact: key numbers inline, everything else in the run folder, named by
its path under the workspace root.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Candidate",
    "JobProgress",
    "JobView",
    "OptimizeOutcome",
    "Overfitting",
    "StudyList",
    "StudyRow",
    "StudySpec",
    "StudySummary",
    "WalkForwardOutcome",
    "WindowOutcome",
]

JobState = Literal["running", "done", "failed", "cancelled", "interrupted"]
JobKind = Literal["optimize", "walk_forward"]


class StudySpec(BaseModel):
    """An inline study: the sections of a study file (docs/search.md), built-in strategy."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        description="Study name; the study in the storage (rerunning the same name resumes it)."
    )
    strategy: str = Field(description="A built-in strategy, e.g. sma_cross, rsi_reversion.")
    data: dict[str, Any] = Field(
        description=(
            "Where the bars come from: {synthetic: {bars: 5000, seed: 7}} or "
            "{path: 'data/prices.csv'} (a file under the workspace root); optional "
            "start, end, timeframe."
        )
    )
    space: dict[str, Any] = Field(
        default_factory=dict,
        description="Searched parameters, e.g. {fast: {low: 2, high: 40}, mode: [a, b]}.",
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Fixed strategy parameters not searched."
    )
    constraints: list[str] = Field(
        default_factory=list, description="Relations between parameters, e.g. 'slow >= fast + 5'."
    )
    objective: str | dict[str, Any] = Field(
        default="sharpe", description="A metric id to maximize, or {maximize: [...], ...}."
    )
    require: dict[str, Any] = Field(
        default_factory=dict,
        description="Requirements a candidate must meet, e.g. {trades: '>= 20'}.",
    )
    backtest: dict[str, Any] = Field(
        default_factory=dict, description="Costs, fills and sizing, e.g. {commission: 0.001}."
    )
    search: dict[str, Any] = Field(
        default_factory=dict,
        description="method, trials, seed, batch (the tool's own arguments override them).",
    )
    validation: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "holdout and walk_forward windows, e.g. {walk_forward: {train: 1000, test: 250}}."
        ),
    )


class JobProgress(BaseModel):
    """How far a job is, read from its studies in the storage."""

    complete: int = Field(description="COMPLETE trials so far (all windows for a walk-forward).")
    target: int = Field(description="COMPLETE trials the job runs to (0: not known yet).")
    windows: int | None = Field(
        default=None, description="Walk-forward windows (None: not known yet)."
    )
    windows_done: int | None = Field(default=None, description="Walk-forward windows finished.")


class Candidate(BaseModel):
    """One parameter set with its objective value(s)."""

    trial: int = Field(description="Trial number in the study.")
    params: dict[str, Any] = Field(description="The parameters.")
    value: float | None = Field(default=None, description="Its objective value.")
    neighbour_mean: float | None = Field(
        default=None, description="Mean objective of its neighbours (robustness)."
    )
    worst_neighbour: float | None = Field(
        default=None, description="Worst objective of its neighbours."
    )


class Overfitting(BaseModel):
    """The overfitting statistics of the search (docs/validation.md)."""

    verdict: str = Field(description="One plain-language line.")
    dsr: float | None = Field(
        default=None, description="Deflated Sharpe ratio: P(true Sharpe > luck of N trials)."
    )
    pbo: float | None = Field(default=None, description="Probability of backtest overfitting.")
    spa_pvalue: float | None = Field(
        default=None, description="Hansen's SPA p-value (small: a real edge)."
    )


class OptimizeOutcome(BaseModel):
    """What a finished optimization found."""

    best: Candidate | None = Field(description="The best COMPLETE trial.")
    best_metrics: dict[str, float] = Field(description="Key metrics of the best.")
    robust: Candidate | None = Field(
        default=None, description="The candidate with the best neighbourhood (may equal the best)."
    )
    stability: str | None = Field(
        default=None, description="Verdict on the best's neighbourhood: plateau, slope or spike."
    )
    overfitting: Overfitting | None = Field(
        default=None, description="DSR, PBO, SPA and their verdict."
    )
    lookahead_clean: bool | None = Field(
        default=None, description="False: the best used future bars (a bug in the strategy)."
    )
    counts: dict[str, int] = Field(description="Trials of the study by state.")
    stopped_by: str = Field(description="target, max_attempts, time_budget or space exhausted.")
    run_folder: str = Field(description="Run folder under the workspace root.")
    summary_path: str = Field(description="summary.json (everything, in full).")
    ranked_path: str = Field(description="ranked_results.csv: every trial, ranked.")
    report_path: str | None = Field(
        default=None, description="report.html of the run (open it in a browser), if written."
    )
    report_problem: str | None = Field(
        default=None, description="Why no report.html was written (skipped or failed)."
    )


class WindowOutcome(BaseModel):
    """One walk-forward window: the train search's best, measured on the test bars."""

    index: int = Field(description="Window number, from 0.")
    train: tuple[str, str | None] = Field(description="Train bars [start, end).")
    test: tuple[str, str | None] = Field(description="Test bars [start, end).")
    trial: int | None = Field(default=None, description="Best trial of the train search.")
    params: dict[str, Any] | None = Field(default=None, description="Its parameters.")
    values_in: list[float] | None = Field(default=None, description="Objective in sample.")
    values_out: list[float] | None = Field(default=None, description="Objective out of sample.")
    out_of_sample: dict[str, float] | None = Field(
        default=None, description="Key metrics on the test bars."
    )
    error: str | None = Field(default=None, description="Why the window has no result.")


class WalkForwardOutcome(BaseModel):
    """What a finished walk-forward found (formulas in docs/validation.md)."""

    windows: list[WindowOutcome] = Field(description="Per window, in time order.")
    stitched: dict[str, float] = Field(
        description="Key metrics of the chained out-of-sample curve."
    )
    efficiency: dict[str, Any] = Field(
        description="Walk-forward efficiency (out-of-sample over in-sample) and its parts."
    )
    run_folder: str = Field(description="Run folder under the workspace root.")
    report_path: str = Field(description="walk_forward.json (everything, in full).")


class JobView(BaseModel):
    """A job: its state, progress and, when done, its result."""

    job_id: str = Field(description="Pass to job_status and cancel_job.")
    kind: JobKind = Field(description="optimize or walk_forward.")
    study: str = Field(description="The study name (the job's studies in the storage).")
    state: JobState = Field(
        description=(
            "running; done; failed (see error); cancelled; interrupted (the server stopped "
            "mid-run: the trials are stored; call the same tool again to resume)."
        )
    )
    progress: JobProgress = Field(description="COMPLETE trials against the target.")
    error: str | None = Field(default=None, description="Why it failed.")
    optimize: OptimizeOutcome | None = Field(
        default=None, description="When an optimize job is done."
    )
    walk_forward: WalkForwardOutcome | None = Field(
        default=None, description="When a walk-forward job is done."
    )
    started_utc: str = Field(description="When this run of the job started.")
    finished_utc: str | None = Field(default=None, description="When it ended.")


class StudyRow(BaseModel):
    """A study in a storage."""

    study: str = Field(description="Its name (walk-forward windows: <name>/wf-NNN).")
    complete: int = Field(description="COMPLETE trials.")
    pruned: int = Field(description="PRUNED trials (constraints, duplicates, requirements).")
    fail: int = Field(description="FAILED trials.")
    running: int = Field(description="RUNNING trials (a live or a killed run).")
    best: float | None = Field(default=None, description="Best objective value (single objective).")


class StudyList(BaseModel):
    """The studies of one storage."""

    storage: str = Field(description="The storage (SQLite file under the workspace root).")
    studies: list[StudyRow] = Field(description="One row per study.")


class StudySummary(BaseModel):
    """A stored study: its top trials and the analyses of its last optimization."""

    study: str = Field(description="The study name.")
    counts: dict[str, int] = Field(description="Trials by state.")
    top: list[dict[str, Any]] = Field(
        description="The best trials, ranked: trial, state, values, params, key metrics."
    )
    robust: Candidate | None = Field(default=None, description="The robust candidate, if analysed.")
    stability: str | None = Field(default=None, description="Stability verdict of the best.")
    lookahead_clean: bool | None = Field(default=None, description="Look-ahead check of the best.")
    overfitting: Overfitting | None = Field(default=None, description="From the newest run folder.")
    statistics_path: str | None = Field(default=None, description="summary.json holding them.")

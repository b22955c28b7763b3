"""What the operations return: typed results, so no caller re-reads a run folder.

Each result carries what its run folder holds (the same numbers, as objects) and the
folder's paths. `RobustnessCheck` and `LookaheadCheck` are the two analyses run after a
search; their `to_dict()` is the summary.json section (and the Optuna study attribute).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from stratopt.storage import RunFolder
from stratopt.validation import HoldoutReport, LookaheadReport, RobustnessReport, WindowResult

__all__ = [
    "LookaheadCheck",
    "OptimizeResult",
    "ReportFile",
    "RobustnessCheck",
    "ValidationResult",
    "WalkForwardResult",
    "WorkResult",
]


@dataclass(frozen=True)
class RobustnessCheck:
    """The stability of the best and the robust region, or why they are missing."""

    report: RobustnessReport | None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """summary.json's `robustness` section."""
        if self.report is None:
            return {"error": self.error}
        return self.report.to_dict()


@dataclass(frozen=True)
class LookaheadCheck:
    """The bounded look-ahead check of the best candidates after a search.

    `clean` is None when nothing could be checked (`note` or `error` says why).
    """

    report: LookaheadReport | None
    trials: list[int] = field(default_factory=list)
    seconds: float = 0.0
    note: str | None = None
    error: str | None = None

    @property
    def clean(self) -> bool | None:
        return None if self.report is None else self.report.clean

    def to_dict(self) -> dict[str, Any]:
        """summary.json's `lookahead` section."""
        if self.report is None:
            why = {"error": self.error} if self.error else {"note": self.note}
            return {"clean": None, **why}
        out = {"checked": "top candidates", "trials": self.trials, **self.report.to_dict()}
        return {**out, "seconds": self.seconds}


@dataclass(frozen=True)
class ReportFile:
    """The report.html a run wrote (`report=True`), or why not: `problem` is "skipped:
    ..." without the report extra, "failed: ..." on an error (the run still succeeded)."""

    path: Path | None
    problem: str | None = None


@dataclass(frozen=True)
class OptimizeResult:
    """What an optimization left behind (summary.json's content, as fields).

    `holdout`, `statistics`, `robustness` and `lookahead` are set when the run made them
    (a study with `validation.holdout`; the analyses after the search).
    """

    study_name: str
    storage: str
    run_folder: RunFolder
    ranked: pd.DataFrame
    best_params: dict[str, Any] | None
    best_values: list[float] | None
    best_metrics: dict[str, float] | None
    counts: dict[str, int]
    stopped_by: str
    seconds: float
    holdout: HoldoutReport | None = None
    statistics: dict[str, Any] | None = None
    robustness: RobustnessCheck | None = None
    lookahead: LookaheadCheck | None = None
    best_trial: int | None = None
    report_file: ReportFile | None = None  # with `report=True`
    attempts: int = 0  # candidates this run tried (0: the study had its target already)
    target: int | None = None  # COMPLETE trials the run aimed at
    value_names: tuple[str, ...] = ()  # what `value`/`value_i` of `ranked` hold (metric ids)


@dataclass(frozen=True)
class WorkResult:
    """What one worker did on a shared study."""

    study_name: str
    storage: str
    worker_id: str
    counts: dict[str, int]
    attempts: int
    pruned: int
    failed: int
    stopped_by: str
    seconds: float
    run_folder: RunFolder | None


@dataclass(frozen=True)
class WalkForwardResult:
    """Everything a walk-forward run produced (also written to its run folder).

    Attributes:
        windows: one result per window, in time order.
        equity: the stitched out-of-sample curve: per bar its window, return and equity
            (starting from `backtest.cash`).
        stitched: every metric of the stitched curve.
        efficiency: walk-forward efficiency (``return``, ``sharpe``) and their parts.
        drift: per searched parameter, its values per window, spread and changes.
        report: what `walk_forward.json` holds.
        run_folder: where walk_forward.csv/.json and walk_forward_equity.csv are.
        report_file: its report.html (with `report=True`).
    """

    study_name: str
    storage: str
    windows: list[WindowResult]
    equity: pd.DataFrame
    stitched: dict[str, float]
    efficiency: dict[str, Any]
    drift: dict[str, dict[str, Any]]
    report: dict[str, Any]
    run_folder: Path
    report_file: ReportFile | None = None


@dataclass(frozen=True)
class ValidationResult:
    """What `validate_study` found; `sections` is validation.json without its header."""

    study_name: str
    folder: Path
    sections: dict[str, Any]
    holdout: HoldoutReport | None = None  # when the study has validation.holdout
    report_file: ReportFile | None = None  # with `report=True`

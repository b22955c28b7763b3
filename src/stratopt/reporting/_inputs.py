"""What a report is made from: the stored run folder, and what the project's functions add.

`StoredRun` is what a run folder (or a study in its storage) holds, read as it was
written. `Extras` are numbers that are not stored but are computed by stratopt's own
functions when the report is made: the equity curves of the best and robust candidates
(re-run through the engine), the PBO's per-combination logits, the Monte Carlo paths'
percentiles. Every figure and table of the page is drawn from these two, nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = [
    "BatchRun",
    "CandidateCurve",
    "CandidateStatistics",
    "Curves",
    "Extras",
    "MlRun",
    "MonteCarloFan",
    "PboDetail",
    "ReportInput",
    "RunKind",
    "Slice",
    "StoredRun",
    "StudyReport",
]

RunKind = Literal["optimize", "walk-forward", "validate", "ml", "batch"]


@dataclass(frozen=True, eq=False)
class BatchRun:
    """A run folder of `stratopt batch` (docs/batch.md), as written.

    Attributes:
        summary: its summary.json (`sets`: per parameter set median, worst, fraction
            profitable, mean rank; `kendall_w`; the series and their errors).
        cells: batch.csv (one row per series x parameter set; `error` says why a cell
            has no metrics).
        matrices: metric id -> matrix_<metric>.csv (rows `SYMBOL/TF`, columns the
            parameter sets' labels), the ranking metric first.
    """

    summary: Mapping[str, Any]
    cells: pd.DataFrame
    matrices: Mapping[str, pd.DataFrame]


@dataclass(frozen=True, eq=False)
class MlRun:
    """A two-stage run folder of `stratopt ml` (docs/ml.md), as written.

    Attributes:
        summary: its summary.json (stage 1's models and fold ICs, stage 2's best and
            robust on development and holdout, the overfitting statistics).
        stage1: stage1_trials.csv (every model trial, best first).
        folds: stage1_folds.csv (per chosen model and fold: IC, rank IC, their SEs).
        holdout: holdout.csv (the top stage-2 candidates on the holdout), if written.
    """

    summary: Mapping[str, Any]
    stage1: pd.DataFrame
    folds: pd.DataFrame
    holdout: pd.DataFrame | None = None


@dataclass(frozen=True, eq=False)
class StoredRun:
    """One run folder as written (missing files are None).

    Attributes:
        kind: Which command wrote it.
        summary: summary.json of the study's optimization run (for a walk-forward or
            validate folder: of the study's latest optimization run beside it, or {}).
        ranked: ranked_results.csv (every trial, best first).
        holdout: holdout.csv.
        walk_forward: walk_forward.json; `walk_forward_equity` its stitched curve.
        validation: validation.json; `cpcv_paths` cpcv_paths.csv.
        ml: a two-stage run's own files; `summary` and `ranked` are then its stage-2
            search (stage 1's when the run stopped after stage 1), as an optimization's.
        batch: a batch run's own files; `summary` is then its summary.json and
            `ranked` is empty (a batch searches nothing).
    """

    kind: RunKind
    folder: Path | None
    summary: Mapping[str, Any]
    ranked: pd.DataFrame
    holdout: pd.DataFrame | None = None
    walk_forward: Mapping[str, Any] | None = None
    walk_forward_equity: pd.DataFrame | None = None
    validation: Mapping[str, Any] | None = None
    cpcv_paths: pd.DataFrame | None = None
    ml: MlRun | None = None
    batch: BatchRun | None = None

    @property
    def name(self) -> str:
        for source in (self.summary, self.walk_forward or {}, self.validation or {}):
            if source.get("study"):
                return str(source["study"])
        return self.folder.name if self.folder is not None else "study"

    def section(self, key: str) -> Mapping[str, Any] | None:
        """A summary section, preferring validation.json's (made later, on the same trials)."""
        for source in (self.validation or {}, self.summary):
            value = source.get(key)
            if isinstance(value, Mapping):
                return value
        return None

    @property
    def directions(self) -> list[str]:
        found = self.summary.get("directions")
        if isinstance(found, list) and found:
            return [str(d) for d in found]
        return ["maximize"]


@dataclass(frozen=True, eq=False)
class CandidateCurve:
    """A candidate's equity at each bar's close, over the study's whole data range."""

    label: str
    trial: int | None
    params: Mapping[str, Any]
    index: pd.DatetimeIndex
    equity: np.ndarray
    cash: float


@dataclass(frozen=True, eq=False)
class Curves:
    """Best, robust and buy-and-hold equity of one data series, on one time axis."""

    symbol: str
    best: CandidateCurve
    robust: CandidateCurve | None
    buy_and_hold: CandidateCurve | None
    holdout_start: pd.Timestamp | None = None


@dataclass(frozen=True, eq=False)
class PboDetail:
    """`stats.probability_of_backtest_overfitting` re-run on the stored statistics' matrix.

    `logits[k]`, `is_sharpe[k]`, `oos_sharpe[k]`: the in-sample winner of CSCV
    combination `k`. Sharpe ratios per period, as PBOResult holds them.
    """

    pbo: float
    logits: np.ndarray
    is_sharpe: np.ndarray
    oos_sharpe: np.ndarray
    slope: float
    intercept: float
    candidates: int
    periods: int


@dataclass(frozen=True, eq=False)
class MonteCarloFan:
    """Percentiles of bootstrapped equity paths at sampled steps, and their max drawdowns.

    `percentiles[p][j]`: the p-th percentile of the paths' equity after `steps[j]`
    periods (`index[j]` is that period's time). `max_drawdown`: one value per path.
    """

    symbol: str
    method: str
    n_sims: int
    seed: int
    steps: np.ndarray
    index: pd.DatetimeIndex
    percentiles: Mapping[int, np.ndarray]
    max_drawdown: np.ndarray
    original: np.ndarray  # the equity as it happened, at the same steps


@dataclass(frozen=True)
class Slice:
    """The objective along one parameter, every other held at a candidate's values."""

    param: str
    values: Sequence[Any]
    objective: Sequence[float]


@dataclass(frozen=True)
class CandidateStatistics:
    """PSR, DSR and MinTRL of one candidate's re-run returns (stratopt.stats)."""

    trial: int
    sharpe_annualized: float
    psr: float
    dsr: float
    min_track_record_years: float
    years: float


@dataclass(frozen=True, eq=False)
class Extras:
    """What the report computes with stratopt's functions (see the module docs)."""

    curves: Sequence[Curves] = ()
    pbo: PboDetail | None = None
    monte_carlo: MonteCarloFan | None = None
    robust_slices: Sequence[Slice] = ()
    robust_statistics: CandidateStatistics | None = None
    notes: Sequence[str] = ()


@dataclass(frozen=True, eq=False)
class StudyReport:
    """One study on the page."""

    run: StoredRun
    extras: Extras = field(default_factory=Extras)


@dataclass(frozen=True, eq=False)
class ReportInput:
    """The studies of one page: the first is shown in full, the others compared with it."""

    studies: Sequence[StudyReport]
    title: str | None = None
    generated_utc: str | None = None

    def __post_init__(self) -> None:
        if not self.studies:
            raise ValueError("studies: a report needs at least one study")

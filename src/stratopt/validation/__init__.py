"""Validation: is the optimized result real, stable and free of look-ahead?

Out of sample: holdout, walk-forward and combinatorial purged cross-validation.
Around the best: neighbourhood stability, the robust region, sensitivity slices and
parameter importance. And a look-ahead check of a strategy's signals.
See docs/validation.md for the formulas and what each result holds.
"""

from __future__ import annotations

from stratopt.validation._cpcv import SELECTION_METRICS, CpcvResult, combinatorial_purged_cv
from stratopt.validation._holdout import HoldoutReport
from stratopt.validation._lookahead import (
    Leak,
    LookaheadReport,
    check_lookahead,
    check_study_lookahead,
    truncation_points,
)
from stratopt.validation._region import (
    RegionCandidate,
    RobustnessReport,
    SliceRow,
    assess_robustness,
    choose_robust,
    slice_values,
)
from stratopt.validation._stability import (
    Evaluations,
    Neighbourhood,
    ObjectiveStability,
    PointResult,
    Stability,
    axis_moves,
    is_within,
    neighbourhood,
    param_importances,
    stability_of,
)
from stratopt.validation._validate import ValidationResult, study_from_run_folder, validate_study
from stratopt.validation._walk_forward import WalkForwardResult, WindowResult, walk_forward
from stratopt.validation._windows import (
    CpcvPlan,
    CpcvSplit,
    Window,
    cpcv_plan,
    holdout_start,
    walk_forward_windows,
)

__all__ = [
    "SELECTION_METRICS",
    "CpcvPlan",
    "CpcvResult",
    "CpcvSplit",
    "Evaluations",
    "HoldoutReport",
    "Leak",
    "LookaheadReport",
    "Neighbourhood",
    "ObjectiveStability",
    "PointResult",
    "RegionCandidate",
    "RobustnessReport",
    "SliceRow",
    "Stability",
    "ValidationResult",
    "WalkForwardResult",
    "Window",
    "WindowResult",
    "assess_robustness",
    "axis_moves",
    "check_lookahead",
    "check_study_lookahead",
    "choose_robust",
    "combinatorial_purged_cv",
    "cpcv_plan",
    "holdout_start",
    "is_within",
    "neighbourhood",
    "param_importances",
    "slice_values",
    "stability_of",
    "study_from_run_folder",
    "truncation_points",
    "validate_study",
    "walk_forward",
    "walk_forward_windows",
]

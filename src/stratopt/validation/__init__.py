"""Validation: is the optimized result real, stable and free of look-ahead?

Out of sample: holdout, walk-forward and combinatorial purged cross-validation.
Around the best: neighbourhood stability, the robust region, sensitivity slices and
parameter importance. And a look-ahead check of a strategy's signals.
See docs/validation.md for the formulas and what each result holds.
"""

from __future__ import annotations

from typing import Any

from stratopt._moved import forward
from stratopt.validation._cpcv import SELECTION_METRICS, CpcvResult, combinatorial_purged_cv
from stratopt.validation._holdout import (
    Holdout,
    HoldoutReport,
    degradation,
    evaluate_holdout,
    prepare_holdout,
)
from stratopt.validation._lookahead import (
    Leak,
    LookaheadReport,
    TruncationOptions,
    check_lookahead,
    check_study_lookahead,
    truncation_points,
)
from stratopt.validation._region import (
    RegionCandidate,
    RobustnessReport,
    RobustnessSettings,
    SliceRow,
    assess_robustness,
    choose_robust,
    robust_order,
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
from stratopt.validation._walk_forward_report import (
    WindowResult,
    drift,
    efficiency,
    stitch,
    window_efficiency,
)
from stratopt.validation._windows import (
    CpcvPlan,
    CpcvSplit,
    Window,
    cpcv_plan,
    holdout_start,
    walk_forward_windows,
)

# Whole operations on a study (they search, re-run and write run folders) moved to
# stratopt.operations; the old names forward there with a FutureWarning.
_MOVED = dict.fromkeys(
    (
        "ValidationResult",
        "WalkForwardResult",
        "study_from_run_folder",
        "validate_study",
        "walk_forward",
    ),
    "stratopt.operations",
)

__all__ = [
    "SELECTION_METRICS",
    "CpcvPlan",
    "CpcvResult",
    "CpcvSplit",
    "Evaluations",
    "Holdout",
    "HoldoutReport",
    "Leak",
    "LookaheadReport",
    "Neighbourhood",
    "ObjectiveStability",
    "PointResult",
    "RegionCandidate",
    "RobustnessReport",
    "RobustnessSettings",
    "SliceRow",
    "Stability",
    "TruncationOptions",
    "Window",
    "WindowResult",
    "assess_robustness",
    "axis_moves",
    "check_lookahead",
    "check_study_lookahead",
    "choose_robust",
    "combinatorial_purged_cv",
    "cpcv_plan",
    "degradation",
    "drift",
    "efficiency",
    "evaluate_holdout",
    "holdout_start",
    "is_within",
    "neighbourhood",
    "param_importances",
    "prepare_holdout",
    "robust_order",
    "slice_values",
    "stability_of",
    "stitch",
    "truncation_points",
    "walk_forward_windows",
    "window_efficiency",
    *sorted(_MOVED),
]


def __getattr__(name: str) -> Any:
    return forward(__name__, _MOVED, name)

"""Validation: is the optimized result real, stable and free of look-ahead?

(Other parts of this package — holdout, walk-forward, cross-validation — are added
beside these.)
"""

from __future__ import annotations

# ---- stability, robust region, look-ahead (s2-robust) ----
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

__all__ = [
    "Evaluations",
    "Leak",
    "LookaheadReport",
    "Neighbourhood",
    "ObjectiveStability",
    "PointResult",
    "RegionCandidate",
    "RobustnessReport",
    "SliceRow",
    "Stability",
    "assess_robustness",
    "axis_moves",
    "check_lookahead",
    "check_study_lookahead",
    "choose_robust",
    "is_within",
    "neighbourhood",
    "param_importances",
    "slice_values",
    "stability_of",
    "truncation_points",
]

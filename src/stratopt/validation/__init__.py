"""Validation out of sample: holdout, walk-forward and combinatorial purged cross-validation.

See docs/validation.md for the window formulas and what each result holds.
"""

from __future__ import annotations

from stratopt.validation._cpcv import SELECTION_METRICS, CpcvResult, combinatorial_purged_cv
from stratopt.validation._holdout import HoldoutReport
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
    "HoldoutReport",
    "WalkForwardResult",
    "Window",
    "WindowResult",
    "combinatorial_purged_cv",
    "cpcv_plan",
    "holdout_start",
    "walk_forward",
    "walk_forward_windows",
]

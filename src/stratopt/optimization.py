"""Optimizing a study file or a Python function: a thin re-export of `stratopt.operations`.

Kept because docs and user code import from here; new code imports
`stratopt.operations` (or the top-level `stratopt.optimize`).
"""

from __future__ import annotations

from stratopt.operations import (
    ATTR_LOOKAHEAD,
    ATTR_ROBUSTNESS,
    OptimizeResult,
    WorkResult,
    compile_study,
    optimize,
    optimize_study,
    report_study,
    study_target,
    work_study,
)

__all__ = [
    "ATTR_LOOKAHEAD",
    "ATTR_ROBUSTNESS",
    "OptimizeResult",
    "WorkResult",
    "compile_study",
    "optimize",
    "optimize_study",
    "report_study",
    "study_target",
    "work_study",
]

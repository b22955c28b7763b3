"""Operations: one module per thing a user does with a study; the only composer.

Each entry point (the CLI's commands, the Python API, later MCP tools) calls one
operation, which composes the layers below: a `PreparedStudy` built once from the study
file, the search (`stratopt.search`), the validation algorithms and the one run-folder
builder. A new operation (report, batch, analyze, an MCP tool) is one new module
`operations/_<name>.py` whose public names are added to `__all__` below.
"""

from __future__ import annotations

from stratopt.operations._launch import LaunchOutcome, LaunchStatus, WorkerExit, launch_workers
from stratopt.operations._optimize import (
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
from stratopt.operations._validate import ValidationResult, study_from_run_folder, validate_study
from stratopt.operations._walk_forward import WalkForwardResult, walk_forward

__all__ = [
    "ATTR_LOOKAHEAD",
    "ATTR_ROBUSTNESS",
    "LaunchOutcome",
    "LaunchStatus",
    "OptimizeResult",
    "ValidationResult",
    "WalkForwardResult",
    "WorkResult",
    "WorkerExit",
    "compile_study",
    "launch_workers",
    "optimize",
    "optimize_study",
    "report_study",
    "study_from_run_folder",
    "study_target",
    "validate_study",
    "walk_forward",
    "work_study",
]

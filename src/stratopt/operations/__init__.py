"""Operations: one module per thing a user does with a study; the only composer.

Every entry point (the CLI's commands, the Python API, later MCP tools) calls one
operation, which composes the layers below: a `PreparedStudy` built once from the
study file (plan, strategy, router, holdout, storage URL, target, bars), the search
(`stratopt.search`), the validation algorithms, and the one run-folder builder
(`_summary.finish_search`). Results are typed (`OptimizeResult`, `WorkResult`, ...):
callers never read a run folder back.

Where things are: `_optimize` (optimize_study, optimize), `_workers` (work_study,
report_study, study_target), `_launch` (launch_workers), `_walk_forward`, `_validate`,
`_statistics`, `_backtest`, `_store` (studies, show, export, cleanup). A new operation
(report, batch, analyze, an MCP tool) is one new module `_<name>.py` built on
`PreparedStudy` and, if it writes a search run folder, `finish_search`; its public
names are added to `__all__` below, and the CLI gets one `cli/_<name>_commands.py`.
"""

from __future__ import annotations

from stratopt.operations._backtest import (
    backtest_report,
    equity_frame,
    run_backtest,
    trades_frame,
    write_csv,
)
from stratopt.operations._checks import LOOKAHEAD_TOP
from stratopt.operations._launch import LaunchOutcome, LaunchStatus, WorkerExit, launch_workers
from stratopt.operations._optimize import OptimizeOptions, compile_study, optimize, optimize_study
from stratopt.operations._prepared import PreparedStudy, check_study
from stratopt.operations._results import (
    LookaheadCheck,
    OptimizeResult,
    RobustnessCheck,
    ValidationResult,
    WalkForwardResult,
    WorkResult,
)
from stratopt.operations._statistics import StatisticsOptions, study_statistics
from stratopt.operations._store import (
    StudyView,
    cleanup_study,
    export_study,
    list_studies,
    resolve_study,
    show_study,
    study_counts,
)
from stratopt.operations._summary import data_summary
from stratopt.operations._validate import study_from_run_folder, validate_study
from stratopt.operations._walk_forward import walk_forward, walk_forward_window_count
from stratopt.operations._workers import report_study, study_target, work_study
from stratopt.storage import ATTR_LOOKAHEAD, ATTR_ROBUSTNESS

__all__ = [
    "ATTR_LOOKAHEAD",
    "ATTR_ROBUSTNESS",
    "LOOKAHEAD_TOP",
    "LaunchOutcome",
    "LaunchStatus",
    "LookaheadCheck",
    "OptimizeOptions",
    "OptimizeResult",
    "PreparedStudy",
    "RobustnessCheck",
    "StatisticsOptions",
    "StudyView",
    "ValidationResult",
    "WalkForwardResult",
    "WorkResult",
    "WorkerExit",
    "backtest_report",
    "check_study",
    "cleanup_study",
    "compile_study",
    "data_summary",
    "equity_frame",
    "export_study",
    "launch_workers",
    "list_studies",
    "optimize",
    "optimize_study",
    "report_study",
    "resolve_study",
    "run_backtest",
    "show_study",
    "study_counts",
    "study_from_run_folder",
    "study_statistics",
    "study_target",
    "trades_frame",
    "validate_study",
    "walk_forward",
    "walk_forward_window_count",
    "work_study",
    "write_csv",
]

"""Operations: one module per thing a user does with a study; the only composer.

Every entry point (the CLI's commands, the Python API, later MCP tools) calls one
operation, which composes the layers below: a `PreparedStudy` built once from the
study file (plan, strategy, router, holdout, storage URL, target, bars), the search
(`stratopt.search`), the validation algorithms, and the one run-folder builder
(`_summary.finish_search`). Results are typed (`OptimizeResult`, `WorkResult`, ...):
callers never read a run folder back.

Where things are: `_optimize` (optimize_study, optimize), `_workers` (work_study,
report_study, study_target), `_launch` (launch_workers), `_walk_forward`, `_validate`,
`_statistics`, `_backtest`, `_grid` (what grid studies add to backtest and optimize),
`_store` (studies, show, export, cleanup), `_report` (the HTML report: `report`, and
`run_report` for the runs given `report=True`) with `_report_extras` (the candidates it
re-runs), `_batch` and `_batch_sets` (backtest_batch and its parameter sets), `_analyze`
(analyze_target). A new operation (an MCP tool) is one new module `_<name>.py` built on
`PreparedStudy` (or `check_study`, for fixed parameter sets) and, if it writes a run
folder, `_summary`'s builder (`finish_search`, `finish_run`); its public
names are added to `__all__` below, and the CLI gets one `cli/_<name>_commands.py`.
"""

from __future__ import annotations

from stratopt.operations._analyze import AnalyzeRequest, AnalyzeResult, analyze_target
from stratopt.operations._backtest import (
    BacktestRun,
    aggregate_metrics,
    backtest_report,
    equity_frame,
    run_backtest,
    trades_frame,
    write_csv,
)
from stratopt.operations._batch import BatchRequest, BatchResult, backtest_batch, batch_series
from stratopt.operations._batch_sets import (
    ParamSets,
    grid_param_sets,
    read_param_sets,
    stored_param_sets,
)
from stratopt.operations._checks import LOOKAHEAD_TOP
from stratopt.operations._grid import check_fixed_params, grid_report, grid_warnings
from stratopt.operations._launch import (
    ENV_LAUNCHER,
    LaunchOptions,
    LaunchOutcome,
    LaunchStatus,
    WorkerExit,
    launch_workers,
)
from stratopt.operations._optimize import OptimizeOptions, compile_study, optimize, optimize_study
from stratopt.operations._prepared import PreparedStudy, check_study, study_from_run_folder
from stratopt.operations._report import (
    REPORT_FILE,
    ReportExtraMissing,
    ReportTarget,
    load_target,
    report,
    run_report,
    study_report,
)
from stratopt.operations._results import (
    LookaheadCheck,
    OptimizeResult,
    ReportFile,
    RobustnessCheck,
    ValidationResult,
    WalkForwardResult,
    WorkResult,
)
from stratopt.operations._statistics import StatisticsOptions, study_statistics
from stratopt.operations._store import (
    CleanupPlan,
    StudyView,
    cleanup_study,
    export_study,
    list_studies,
    resolve_study,
    show_study,
    stored_trial,
    studies_storage,
    study_counts,
    trial_study,
)
from stratopt.operations._summary import data_summary
from stratopt.operations._validate import validate_study
from stratopt.operations._walk_forward import walk_forward, walk_forward_window_count
from stratopt.operations._workers import report_study, study_target, work_study
from stratopt.storage import ATTR_LOOKAHEAD, ATTR_ROBUSTNESS

__all__ = [
    "ATTR_LOOKAHEAD",
    "ATTR_ROBUSTNESS",
    "ENV_LAUNCHER",
    "LOOKAHEAD_TOP",
    "REPORT_FILE",
    "AnalyzeRequest",
    "AnalyzeResult",
    "BacktestRun",
    "BatchRequest",
    "BatchResult",
    "CleanupPlan",
    "LaunchOptions",
    "LaunchOutcome",
    "LaunchStatus",
    "LookaheadCheck",
    "OptimizeOptions",
    "OptimizeResult",
    "ParamSets",
    "PreparedStudy",
    "ReportExtraMissing",
    "ReportFile",
    "ReportTarget",
    "RobustnessCheck",
    "StatisticsOptions",
    "StudyView",
    "ValidationResult",
    "WalkForwardResult",
    "WorkResult",
    "WorkerExit",
    "aggregate_metrics",
    "analyze_target",
    "backtest_batch",
    "backtest_report",
    "batch_series",
    "check_fixed_params",
    "check_study",
    "cleanup_study",
    "compile_study",
    "data_summary",
    "equity_frame",
    "export_study",
    "grid_param_sets",
    "grid_report",
    "grid_warnings",
    "launch_workers",
    "list_studies",
    "load_target",
    "optimize",
    "optimize_study",
    "read_param_sets",
    "report",
    "report_study",
    "resolve_study",
    "run_backtest",
    "run_report",
    "show_study",
    "stored_param_sets",
    "stored_trial",
    "studies_storage",
    "study_counts",
    "study_from_run_folder",
    "study_report",
    "study_statistics",
    "study_target",
    "trades_frame",
    "trial_study",
    "validate_study",
    "walk_forward",
    "walk_forward_window_count",
    "work_study",
    "write_csv",
]

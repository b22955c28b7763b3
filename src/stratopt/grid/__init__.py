"""Grid strategies run through the lot-book engine (docs/grid.md).

`grid_backtest` and `grid_evaluate_many` are the grid counterparts of
`stratopt.backtest.backtest` and `evaluate_many` (each run with its path band);
`grid_setup`, `check_grid_study` and `backtest_grid_study` turn a study file's `grid:`
section into runs.
"""

from __future__ import annotations

from stratopt.grid._backtest import (
    BAND_COLUMNS,
    FILL_MODEL_RISK_SHARE,
    GridBacktestResult,
    GridBatchResult,
    GridSetup,
    PathBand,
    bar_returns,
    grid_backtest,
    grid_evaluate_many,
    grid_strategy,
    path_band_section,
    step_warning,
)
from stratopt.grid._study import (
    backtest_grid_study,
    check_grid_study,
    grid_exec,
    grid_setup,
    is_grid_strategy,
    is_grid_study,
    study_strategy,
    with_settings,
)

__all__ = [
    "BAND_COLUMNS",
    "FILL_MODEL_RISK_SHARE",
    "GridBacktestResult",
    "GridBatchResult",
    "GridSetup",
    "PathBand",
    "backtest_grid_study",
    "bar_returns",
    "check_grid_study",
    "grid_backtest",
    "grid_evaluate_many",
    "grid_exec",
    "grid_setup",
    "grid_strategy",
    "is_grid_strategy",
    "is_grid_study",
    "path_band_section",
    "step_warning",
    "study_strategy",
    "with_settings",
]

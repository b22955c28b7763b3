"""What users import keeps working: every public name of 0.1.0, the moved ones forwarded.

`PUBLIC_0_1` is each module's `__all__` as released (main before the operations layer);
a package's `__all__` may only grow. Names that moved to another package keep importing
for one minor release through a lazy forward that warns with a `FutureWarning`.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import warnings

import pytest

PUBLIC_0_1: dict[str, list[str]] = {
    "stratopt": ["ExecSettings", "OptimizeResult", "Strategy", "__version__", "backtest_study",
                 "evaluate_many", "get_strategy", "load_bars", "load_study", "optimize",
                 "optimize_study", "synthetic_bars", "walk_forward"],
    "stratopt.backtest": ["BacktestResult", "BatchResult", "backtest", "backtest_study",
                          "evaluate_many", "study_bars"],
    "stratopt.config": ["BacktestConfig", "DataConfig", "MAX_STUDY_BYTES", "MAX_STUDY_DEPTH",
                        "MAX_STUDY_VALUES", "StudyConfig", "SyntheticConfig", "ValidationConfig",
                        "apply_overrides", "load_study", "parse_study", "storage_url_problem"],
    "stratopt.data": ["Bars", "PlantedEdge", "infer_bar_interval", "infer_periods_per_year",
                      "load_bars", "parse_timeframe", "resample", "synthetic_bars",
                      "validate_frame"],
    "stratopt.engine": ["ExecSettings", "ExitReason", "Signal", "SimResult", "TRADE_DTYPE",
                        "simulate"],
    "stratopt.errors": ["ConfigError", "DataError", "StrategyError", "StratoptError",
                        "UserInputError"],
    "stratopt.metrics": ["METRICS", "METRIC_IDS", "MetricInfo", "N_METRICS", "N_TRADE_STATS",
                         "Unit", "compute_metrics", "get_metric", "metric_index",
                         "metrics_to_dict"],
    "stratopt.optimization": ["OptimizeResult", "WorkResult", "compile_study", "optimize",
                              "optimize_study", "report_study", "study_target", "work_study"],
    "stratopt.search": ["Choice", "Constraint", "Dimension", "FloatRange", "IntRange",
                        "MAX_CONSTRAINT_DEPTH", "MAX_CONSTRAINT_LENGTH", "SearchSpace",
                        "check_satisfiable", "flatten", "nest", "parse_constraints"],
    "stratopt.stats": ["MonteCarloResult", "PBOResult", "ReturnMoments", "SPAResult",
                       "bootstrap_returns", "deflated_sharpe_ratio", "expected_max_sharpe",
                       "minimum_backtest_length", "minimum_track_record_length",
                       "probabilistic_sharpe_ratio", "probability_of_backtest_overfitting",
                       "reshuffle_trades", "sample_moments", "study_statistics",
                       "superior_predictive_ability"],
    "stratopt.storage": ["ENV_STORAGE", "Heartbeat", "RunFolder", "StorageError",
                         "default_storage_url", "keep_top_trials", "load_ranked",
                         "load_study_from", "open_storage", "ranked_frame", "redact",
                         "resolve_storage_url", "study_names", "study_summaries",
                         "write_run_folder"],
    "stratopt.strategies": ["BUILTIN_STRATEGIES", "BollingerReversion", "BoolParam",
                            "ChoiceParam", "DonchianBreakout", "EmaCross", "FloatParam",
                            "Indicator", "IndicatorCache", "IntParam", "Macd", "Param",
                            "RsiReversion", "Rule", "SmaCross", "Strategy", "above", "below",
                            "bollinger", "crosses_above", "crosses_below", "ema",
                            "get_strategy", "highest", "lowest", "macd", "on", "rsi", "sma",
                            "source", "stdev"],
    "stratopt.validation": ["CpcvPlan", "CpcvResult", "CpcvSplit", "Evaluations",
                            "HoldoutReport", "Leak", "LookaheadReport", "Neighbourhood",
                            "ObjectiveStability", "PointResult", "RegionCandidate",
                            "RobustnessReport", "SELECTION_METRICS", "SliceRow", "Stability",
                            "ValidationResult", "WalkForwardResult", "Window", "WindowResult",
                            "assess_robustness", "axis_moves", "check_lookahead",
                            "check_study_lookahead", "choose_robust",
                            "combinatorial_purged_cv", "cpcv_plan", "holdout_start",
                            "is_within", "neighbourhood", "param_importances",
                            "slice_values", "stability_of", "study_from_run_folder",
                            "truncation_points", "validate_study", "walk_forward",
                            "walk_forward_windows"],
    "stratopt.launch": ["LaunchOutcome", "LaunchStatus", "WorkerExit", "launch_workers"],
}  # fmt: skip

MOVED = [
    ("stratopt.validation", "walk_forward"),
    ("stratopt.validation", "WalkForwardResult"),
    ("stratopt.validation", "validate_study"),
    ("stratopt.validation", "ValidationResult"),
    ("stratopt.validation", "study_from_run_folder"),
    ("stratopt.stats", "study_statistics"),
    ("stratopt.launch", "LaunchOutcome"),
    ("stratopt.launch", "LaunchStatus"),
    ("stratopt.launch", "WorkerExit"),
    ("stratopt.launch", "launch_workers"),
]


@pytest.mark.parametrize("module", sorted(PUBLIC_0_1))
def test_every_released_name_still_imports_and_stays_public(module: str) -> None:
    mod = importlib.import_module(module)
    assert set(PUBLIC_0_1[module]) <= set(mod.__all__)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the moved ones warn: tested below
        for name in PUBLIC_0_1[module]:
            assert getattr(mod, name) is not None, f"{module}.{name}"


@pytest.mark.parametrize(("old", "name"), MOVED)
def test_a_moved_name_forwards_to_operations_with_a_future_warning(old: str, name: str) -> None:
    module = importlib.import_module(old)
    with pytest.warns(FutureWarning, match=rf"{old}\.{name} moved to stratopt\.operations\."):
        value = getattr(module, name)
    assert value is getattr(importlib.import_module("stratopt.operations"), name)


def test_from_import_of_a_moved_name_warns_too() -> None:
    with pytest.warns(FutureWarning, match="stratopt.validation.walk_forward moved"):
        from stratopt.validation import walk_forward  # noqa: F401


@pytest.mark.parametrize("module", ["stratopt.validation", "stratopt.stats", "stratopt.launch"])
def test_forwards_are_lazy(module: str) -> None:
    """Importing the old home does not import the new one (the cycle stays broken)."""
    code = f"import sys, {module}; print('stratopt.operations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_unknown_names_still_raise() -> None:
    for module in ("stratopt.validation", "stratopt.stats", "stratopt.launch"):
        with pytest.raises(AttributeError, match="has no attribute 'nope'"):
            _ = importlib.import_module(module).nope


def test_optimization_is_a_thin_reexport_of_operations() -> None:
    import stratopt.operations
    import stratopt.optimization

    for name in stratopt.optimization.__all__:
        assert getattr(stratopt.optimization, name) is getattr(stratopt.operations, name)
    assert stratopt.optimize is stratopt.operations.optimize

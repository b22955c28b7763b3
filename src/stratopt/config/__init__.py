"""The study file: YAML or JSON parsed once into frozen, validated models.

`load_study` reads a file (`parse_study` a mapping) into a `StudyConfig`; every problem
is a `ConfigError` naming the file, the field, the value and what was expected.
"""

from __future__ import annotations

from stratopt._urls import check_url as storage_url_problem
from stratopt.config._grid import FundingConfig, GridConfig, is_timeframe
from stratopt.config._methods import METHODS, SearchMethod, method_list
from stratopt.config._models import (
    PLACEHOLDERS,
    BacktestConfig,
    CpcvConfig,
    DataConfig,
    EvaluatorConfig,
    SearchConfig,
    StudyConfig,
    SyntheticConfig,
    ValidationConfig,
    WalkForwardConfig,
)
from stratopt.config._read import (
    MAX_STUDY_BYTES,
    MAX_STUDY_DEPTH,
    MAX_STUDY_VALUES,
    apply_overrides,
    load_study,
    parse_search,
    parse_study,
    read_study_mapping,
)
from stratopt.config._spans import Span, parse_holdout, parse_span

__all__ = [
    "MAX_STUDY_BYTES",
    "MAX_STUDY_DEPTH",
    "MAX_STUDY_VALUES",
    "METHODS",
    "PLACEHOLDERS",
    "BacktestConfig",
    "CpcvConfig",
    "DataConfig",
    "EvaluatorConfig",
    "FundingConfig",
    "GridConfig",
    "SearchConfig",
    "SearchMethod",
    "Span",
    "StudyConfig",
    "SyntheticConfig",
    "ValidationConfig",
    "WalkForwardConfig",
    "apply_overrides",
    "is_timeframe",
    "load_study",
    "method_list",
    "parse_holdout",
    "parse_search",
    "parse_span",
    "parse_study",
    "read_study_mapping",
    "storage_url_problem",
]

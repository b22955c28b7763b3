"""The study file: YAML or JSON parsed once into frozen, validated models."""

from __future__ import annotations

from stratopt.config._models import (
    MAX_STUDY_BYTES,
    MAX_STUDY_DEPTH,
    MAX_STUDY_VALUES,
    BacktestConfig,
    CpcvConfig,
    DataConfig,
    SearchConfig,
    StudyConfig,
    SyntheticConfig,
    ValidationConfig,
    WalkForwardConfig,
    apply_overrides,
    load_study,
    parse_study,
    storage_url_problem,
)

__all__ = [
    "MAX_STUDY_BYTES",
    "MAX_STUDY_DEPTH",
    "MAX_STUDY_VALUES",
    "BacktestConfig",
    "CpcvConfig",
    "DataConfig",
    "SearchConfig",
    "StudyConfig",
    "SyntheticConfig",
    "ValidationConfig",
    "WalkForwardConfig",
    "apply_overrides",
    "load_study",
    "parse_study",
    "storage_url_problem",
]

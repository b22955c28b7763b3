"""The bars a study runs on, per data override: the one "data options -> bars" cache.

A candidate may search `data.timeframe`, `data.start` or `data.end` (its `Candidate.data`
key); each distinct key's bars are loaded once and shared by everything that runs the
study's candidates in this process (evaluators, segments, returns, the look-ahead check).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from stratopt.backtest import study_bars
from stratopt.config import StudyConfig
from stratopt.data import Bars

__all__ = ["DataKey", "StudyData", "time_axis", "with_data"]

DataKey = tuple[tuple[str, Any], ...]
"""Data options a candidate overrides, sorted by name (``()``: the study's own data)."""


def with_data(study: StudyConfig, key: DataKey) -> StudyConfig:
    """`study` with the data options of `key` set."""
    if not key:
        return study
    data = study.data.model_copy(update={k: str(v) for k, v in key})
    return study.model_copy(update={"data": data})


class StudyData:
    """The bars of `study` for each data override, loaded on first use and kept.

    `loaded`: bars some caller already has, per data override.
    """

    def __init__(
        self, study: StudyConfig, loaded: Mapping[DataKey, list[Bars]] | None = None
    ) -> None:
        self.study = study
        self._cache: dict[DataKey, list[Bars]] = dict(loaded or {})

    def get(self, key: DataKey = ()) -> list[Bars]:
        """The bars for `key` (DataError/ConfigError when they cannot be loaded)."""
        if key not in self._cache:
            self._cache[key] = study_bars(with_data(self.study, key))
        return self._cache[key]


def time_axis(series: list[Bars]) -> np.ndarray:
    """The sorted union of the bar times of several symbols (datetime64[ns])."""
    return np.unique(np.concatenate([b.time for b in series]))

"""Fixtures of the two-stage tests: small studies and a counter of LightGBM fits."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Idle OpenMP threads sleep instead of spinning: on a shared 2-core machine a spinning
# second thread of a 2-thread fit can slow it tenfold. Results do not change. Read when
# libgomp loads, so set before LightGBM is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import lightgbm
import pytest

from stratopt.ml import MlStudy, parse_ml_study

# Small enough that a fit takes milliseconds; the planted signal is strong enough to learn.
SMALL: dict[str, Any] = {
    "name": "small",
    "data": {"synthetic": {"assets": 8, "bars": 500, "features": 6, "strength": 0.4, "seed": 3}},
    "features": {"set": "columns"},
    "label": {"horizon": 1, "lag": 1},
    "model": {
        "params": {"learning_rate": 0.2, "min_data_in_leaf": 20, "max_bin": 31},
        "space": {"num_leaves": {"low": 4, "high": 16}},
        "rounds": 15,
        "early_stopping": {"rounds": 5, "fraction": 0.2},
    },
    "folds": {"test": 80},
    "holdout": 0.2,
    "stage1": {"trials": 3, "seed": 1},
    "stage2": {
        "params": {"window": 30},
        "space": {"entry": {"low": 0.6, "high": 0.95}, "hold": {"low": 0, "high": 5}},
        "trials": 20,
    },
    "storage": "memory",
}


def small_study(tmp_path: Path, **changes: Any) -> MlStudy:
    """`SMALL` with dotted-key changes, its output and cache under `tmp_path`."""
    raw = copy.deepcopy(SMALL)
    raw["output"] = str(tmp_path / "runs")
    for key, value in changes.items():
        node = raw
        parts = key.split("__")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return parse_ml_study(raw, source="small.yaml", base_dir=tmp_path)


class FitCounter:
    """Counts calls of `lightgbm.train` (the one place models are fit)."""

    def __init__(self) -> None:
        self.calls = 0
        self._real = lightgbm.train

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self._real(*args, **kwargs)


@pytest.fixture
def fits(monkeypatch: pytest.MonkeyPatch) -> Iterator[FitCounter]:
    counter = FitCounter()
    monkeypatch.setattr(lightgbm, "train", counter)
    yield counter

"""`clean`: what stratopt stores and writes as JSON (finite numbers, text keys)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from stratopt._jsonable import clean


def _slow(value: Any) -> Any:
    """`clean` as it was, value by value: the reference."""
    if isinstance(value, dict):
        return {str(k): _slow(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_slow(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


@pytest.mark.parametrize(
    "metrics",
    [
        {"sharpe": 0.5, "trades": 12.0, "n": 3, "flag": True},
        {"sharpe": 0.5, "omega": math.inf},
        {"a": -math.inf, "b": math.inf},  # a sum of infinities is NaN
        {"a": 1e308, "b": 1e308},  # a sum that overflows; each value finite
        {"a": 0.5, "b": math.nan},
        {"a": np.float64(math.nan), "b": 1.0},
        {"a": 0.5, 1: 2.0},
        {"a": 1.0, "nested": {"x": math.nan}},
        {"a": 1.0, "list": [math.inf]},
        {"a": 10**400, "b": 1.0},
        {},
    ],
)
def test_clean_dicts_as_value_by_value(metrics: dict[Any, Any]) -> None:
    for _ in range(2):  # the second time, its keys are known
        out = clean(metrics)
        assert repr(out) == repr(_slow(metrics)) and out is not metrics

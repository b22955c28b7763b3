"""`clean`: what stratopt stores and writes as JSON (finite numbers, text keys)."""

from __future__ import annotations

import enum
import math
import warnings
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
        {"a": np.array([1.0]), "b": 1.0},  # its float(): a warning, or an error in NumPy 2.4
        {},
    ],
)
def test_clean_dicts_as_value_by_value(metrics: dict[Any, Any]) -> None:
    for _ in range(2):  # the second time, its keys are known
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = clean(metrics)
        assert repr(out) == repr(_slow(metrics)) and out is not metrics


class _Name(str, enum.Enum):  # noqa: UP042 (a StrEnum's str() is its value; this one's is not)
    a = "a"


def test_a_str_enum_key_becomes_its_text_after_a_plain_key_of_equal_value() -> None:
    clean({"a": 1.0})
    assert list(clean({_Name.a: 1.0})) == [str(_Name.a)] != ["a"]

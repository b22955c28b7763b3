"""Declared strategy parameters: type, default, bounds, choices."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from stratopt.errors import StrategyError

__all__ = ["MAX_INT", "BoolParam", "ChoiceParam", "FloatParam", "IntParam", "Param"]

Kind = Literal["int", "float", "choice", "bool"]

# The int parameters' range: what a float64 holds exactly (a study's search space and
# stored trials hold numbers as float64, and a study file's range bounds are refused
# beyond it; a listed value beyond it is refused for its candidate, like any value out
# of a parameter's bounds), and what the kernels' int64 windows hold (a larger one
# failed the whole `evaluate_many` call).
MAX_INT = 2**53


@dataclass(frozen=True)
class Param:
    """One declared parameter of a strategy."""

    kind: Kind
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()
    doc: str = ""

    def coerce(self, name: str, value: Any) -> Any:
        """`value` converted to this parameter's type, or StrategyError naming it."""
        if self.kind == "choice":
            if value not in self.choices:
                raise StrategyError(
                    f"parameter {name!r} must be one of {list(self.choices)}, got {value!r}"
                )
            return value
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise StrategyError(f"parameter {name!r} must be true or false, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise StrategyError(f"parameter {name!r} must be a number, got {value!r}")
        if self.kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise StrategyError(f"parameter {name!r} must be a whole number, got {value!r}")
            out: int | float = int(value)
            if not -MAX_INT <= out <= MAX_INT:
                raise StrategyError(f"parameter {name!r} must lie within ±2**53, got {value!r}")
        else:
            out = float(value)
            if not math.isfinite(out):
                raise StrategyError(f"parameter {name!r} must be finite, got {value!r}")
        if self.low is not None and out < self.low:
            raise StrategyError(f"parameter {name!r} must be >= {self.low}, got {value!r}")
        if self.high is not None and out > self.high:
            raise StrategyError(f"parameter {name!r} must be <= {self.high}, got {value!r}")
        return out


def IntParam(
    default: int, *, low: int | None = None, high: int | None = None, doc: str = ""
) -> Any:
    """An integer parameter (a class attribute of a Strategy)."""
    return Param("int", default, low, high, doc=doc)


def FloatParam(
    default: float, *, low: float | None = None, high: float | None = None, doc: str = ""
) -> Any:
    """A float parameter."""
    return Param("float", default, low, high, doc=doc)


def ChoiceParam(default: Any, choices: tuple[Any, ...] | list[Any], *, doc: str = "") -> Any:
    """A parameter taking one of a fixed set of values."""
    return Param("choice", default, choices=tuple(choices), doc=doc)


def BoolParam(default: bool, *, doc: str = "") -> Any:
    """A true/false parameter."""
    return Param("bool", default, doc=doc)

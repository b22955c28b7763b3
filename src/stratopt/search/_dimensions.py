"""The dimensions of a search space: integer ranges, float ranges and explicit choices.

Each dimension validates itself on construction (errors start with its name), knows its grid
(`grid_size`, `grid_value`, `grid_values`) and its Optuna form (`distribution`, `suggest`).
"""

from __future__ import annotations

import decimal
import keyword
import math
from dataclasses import dataclass
from typing import Any, TypeAlias

from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import BaseTrial

from stratopt.errors import ConfigError

__all__ = ["Choice", "Dimension", "FloatRange", "IntRange"]

# Exact decimal arithmetic for float grids: enough digits for any float times any index.
_DEC = decimal.Context(prec=80)


def is_int(value: Any) -> bool:
    """An int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """An int or float that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _dec(value: float) -> decimal.Decimal:
    return decimal.Decimal(repr(float(value)))


def _check_name(name: Any) -> None:
    parts = name.split(".") if isinstance(name, str) else [None]
    if not all(isinstance(p, str) and p.isidentifier() and not keyword.iskeyword(p) for p in parts):
        raise ConfigError(
            f"{name}: a parameter name must be letters, digits and _ "
            f"(dots between group names), got {name!r}"
        )


def _check_bounds(name: str, low: float, high: float, step: float | None, log: Any) -> None:
    for key, value in (("low", low), ("high", high), ("step", step)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{name}: {key} must be finite, got {value!r}")
    if not isinstance(log, bool):
        raise ConfigError(f"{name}: log must be true or false, got {log!r}")
    if not low < high:
        raise ConfigError(f"{name}: low ({low}) must be < high ({high})")
    if is_int(low) and is_int(high) and max(abs(low), abs(high)) > _MAX_EXACT_INT:
        raise ConfigError(
            f"{name}: integer bounds must lie within ±2**53 (Optuna stores values as floats), "
            f"got low={_short(low)}, high={_short(high)}"
        )
    try:
        span = float(high) - float(low)
    except OverflowError:  # an int too large for a float
        span = math.inf
    if not math.isfinite(span):
        raise ConfigError(
            f"{name}: the range from {_short(low)} to {_short(high)} is wider than a float "
            "can hold (high - low overflows)"
        )
    if step is not None and step > 0 and span / step > _MAX_EXACT_INT:
        raise ConfigError(
            f"{name}: step {step} splits {_short(low)} to {_short(high)} into {span / step:.3g} "
            "values, more than 2**53; use a larger step or no step"
        )
    if step is not None and step <= 0:
        raise ConfigError(f"{name}: step must be > 0, got {step}")
    if log and low <= 0:
        raise ConfigError(f"{name}: log scale needs low > 0, got {low}")


_MAX_EXACT_INT = 2**53


def _short(value: float) -> str:
    text = repr(value)
    return text if len(text) <= 24 else text[:21] + "..."


def _check_index(name: str, index: int, size: int) -> None:
    if not 0 <= index < size:
        raise IndexError(f"{name}: grid index {index} out of range (size {size})")


@dataclass(frozen=True)
class IntRange:
    """Integers `low, low + step, ...` up to `high` (included when on the step grid).

    Attributes:
        name: Dotted parameter name.
        low: Smallest value.
        high: Upper bound; must be > low.
        step: Distance between values (> 0; must be 1 when `log`).
        log: Sample on a log scale (needs low >= 1).
    """

    name: str
    low: int
    high: int
    step: int = 1
    log: bool = False

    def __post_init__(self) -> None:
        _check_name(self.name)
        for key in ("low", "high", "step"):
            value = getattr(self, key)
            if not is_int(value):
                raise ConfigError(f"{self.name}: {key} must be an integer, got {value!r}")
        _check_bounds(self.name, self.low, self.high, self.step, self.log)
        if self.log and self.step != 1:
            raise ConfigError(
                f"{self.name}: log scale on an int range needs step 1, got {self.step}"
            )

    @property
    def is_discrete(self) -> bool:
        """Always true."""
        return True

    def grid_size(self) -> int:
        """How many values the range holds."""
        return (self.high - self.low) // self.step + 1

    def grid_value(self, index: int) -> int:
        """The `index`-th value (0-based) of the range."""
        _check_index(self.name, index, self.grid_size())
        return self.low + index * self.step

    def grid_values(self) -> tuple[int, ...]:
        """Every value, ascending."""
        return tuple(range(self.low, self.high + 1, self.step))

    def distribution(self) -> IntDistribution:
        """The Optuna distribution (high moved down onto the step grid)."""
        top = self.grid_value(self.grid_size() - 1)
        return IntDistribution(self.low, top, log=self.log, step=self.step)

    def suggest(self, trial: BaseTrial) -> int:
        """A value drawn by `trial.suggest_int`."""
        top = self.grid_value(self.grid_size() - 1)
        return trial.suggest_int(self.name, self.low, top, step=self.step, log=self.log)

    def from_sample(self, value: Any) -> int:
        """What `suggest` returns when the sampler drew `value` from `distribution()`."""
        return int(value)


@dataclass(frozen=True)
class FloatRange:
    """Real numbers from `low` to `high`; with a `step`, the grid `low, low + step, ...`.

    Attributes:
        name: Dotted parameter name.
        low: Smallest value.
        high: Upper bound; must be > low.
        step: Distance between values (> 0), or None for a continuous range.
        log: Sample on a log scale (needs low > 0; not combinable with a step).
    """

    name: str
    low: float
    high: float
    step: float | None = None
    log: bool = False

    def __post_init__(self) -> None:
        _check_name(self.name)
        for key in ("low", "high", "step"):
            value = getattr(self, key)
            if value is None and key == "step":
                continue
            if not is_number(value):
                raise ConfigError(f"{self.name}: {key} must be a number, got {value!r}")
        _check_bounds(self.name, self.low, self.high, self.step, self.log)
        for key in ("low", "high", "step"):
            if getattr(self, key) is not None:
                object.__setattr__(self, key, float(getattr(self, key)))
        if self.log and self.step is not None:
            raise ConfigError(
                f"{self.name}: log scale cannot be combined with a step (Optuna does not allow it)"
            )

    @property
    def is_discrete(self) -> bool:
        """True when the range has a step."""
        return self.step is not None

    def _step(self) -> decimal.Decimal:
        if self.step is None:
            raise ConfigError(f"{self.name}: a float range needs a step for grid search")
        return _dec(self.step)

    def grid_size(self) -> int:
        """How many values the stepped range holds (ConfigError without a step)."""
        span = _DEC.subtract(_dec(self.high), _dec(self.low))
        return int(_DEC.divide_int(span, self._step())) + 1

    def grid_value(self, index: int) -> float:
        """The `index`-th value: exactly `low + index * step` in decimal, then to float."""
        _check_index(self.name, index, self.grid_size())
        return float(_DEC.add(_dec(self.low), _DEC.multiply(decimal.Decimal(index), self._step())))

    def grid_values(self) -> tuple[float, ...]:
        """Every value, ascending (ConfigError without a step)."""
        return tuple(self.grid_value(i) for i in range(self.grid_size()))

    def _top(self) -> float:
        return self.high if self.step is None else self.grid_value(self.grid_size() - 1)

    def distribution(self) -> FloatDistribution:
        """The Optuna distribution (high moved down onto the step grid)."""
        return FloatDistribution(self.low, self._top(), log=self.log, step=self.step)

    def suggest(self, trial: BaseTrial) -> float:
        """A value drawn by `trial.suggest_float`.

        With a step, the value is snapped to the exact grid value (Optuna's own may carry float
        drift such as 0.30000000000000004; `SearchSpace.key` treats both as equal).
        """
        value = trial.suggest_float(self.name, self.low, self._top(), step=self.step, log=self.log)
        return self.from_sample(value)

    def from_sample(self, value: Any) -> float:
        """What `suggest` returns when the sampler drew `value` from `distribution()`."""
        if self.step is None:
            return float(value)
        index = round((value - self.low) / self.step)
        return self.grid_value(min(max(index, 0), self.grid_size() - 1))


@dataclass(frozen=True)
class Choice:
    """An explicit list of values (numbers, strings, bools), in the order given.

    Attributes:
        name: Dotted parameter name.
        values: At least one value, no duplicates.
    """

    name: str
    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        _check_name(self.name)
        if not isinstance(self.values, list | tuple):
            raise ConfigError(f"{self.name}: values must be a list, got {self.values!r:.60}")
        object.__setattr__(self, "values", tuple(self.values))
        if not self.values:
            raise ConfigError(f"{self.name}: empty list — give at least one value")
        seen: dict[Any, int] = {}
        for i, value in enumerate(self.values):
            if not isinstance(value, str | int | float):
                raise ConfigError(
                    f"{self.name}: value {value!r:.60} at index {i} is not a number, string or bool"
                )
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{self.name}: value {value!r} at index {i} is not finite")
            if value in seen:  # equal values hash alike: 1, 1.0 and True are duplicates
                raise ConfigError(
                    f"{self.name}: duplicate value {value!r} (at index {seen[value]} and {i})"
                )
            seen[value] = i

    @property
    def is_discrete(self) -> bool:
        """Always true."""
        return True

    def grid_size(self) -> int:
        """How many values."""
        return len(self.values)

    def grid_value(self, index: int) -> Any:
        """The `index`-th value."""
        _check_index(self.name, index, len(self.values))
        return self.values[index]

    def grid_values(self) -> tuple[Any, ...]:
        """The values, in the order given."""
        return self.values

    def distribution(self) -> CategoricalDistribution:
        """The Optuna distribution."""
        return CategoricalDistribution(self.values)

    def suggest(self, trial: BaseTrial) -> Any:
        """A value drawn by `trial.suggest_categorical`."""
        return trial.suggest_categorical(self.name, list(self.values))

    def from_sample(self, value: Any) -> Any:
        """What `suggest` returns when the sampler drew `value` from `distribution()`."""
        return value


Dimension: TypeAlias = IntRange | FloatRange | Choice

"""The search space of a study: which parameters are searched, over which values.

A space is read from the `space:` mapping of a study file (`SearchSpace.from_config`):

    space:
      fast: {low: 5, high: 50, step: 5}          # IntRange
      stop_loss: {low: 0.005, high: 0.05, log: true}   # FloatRange
      slow: [20, 40, 60]                         # Choice
      risk: {per_trade: [0.5, 1.0]}              # a group: the name is risk.per_trade

Parameters are named by dotted paths (`risk.per_trade`, `data.timeframe`); `nest` turns a
flat parameter dict back into nested mappings and `flatten` does the reverse.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import numbers
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from optuna.distributions import BaseDistribution
from optuna.trial import BaseTrial

from stratopt.errors import ConfigError
from stratopt.search._dimensions import Choice, Dimension, FloatRange, IntRange, is_int, is_number

__all__ = ["Choice", "Dimension", "FloatRange", "IntRange", "SearchSpace", "flatten", "nest"]

_RANGE_KEYS = ("low", "high", "step", "log")


@dataclass(frozen=True)
class SearchSpace:
    """The searched parameters of a study, in file order.

    Attributes:
        dimensions: One dimension per parameter; names unique, none a group of another.
        field: Where the space came from, for error messages (`space`).
    """

    dimensions: tuple[Dimension, ...]
    field: str = dataclasses.field(default="space", compare=False)

    def __post_init__(self) -> None:
        dims = tuple(self.dimensions)
        object.__setattr__(self, "dimensions", dims)
        if not dims:
            raise ConfigError(f"{self.field}: empty — nothing to search")
        names: set[str] = set()
        for dim in dims:
            if not isinstance(dim, IntRange | FloatRange | Choice):
                raise TypeError(f"not a dimension: {dim!r}")
            if dim.name in names:
                raise ConfigError(f"{self.field}.{dim.name}: defined twice")
            names.add(dim.name)
        for dim in dims:
            name = dim.name
            parts = name.split(".")
            for i in range(1, len(parts)):
                group = ".".join(parts[:i])
                if group in names:
                    raise ConfigError(
                        f"{self.field}.{name}: '{group}' is both a parameter and a group"
                    )

    @classmethod
    def from_config(cls, raw: Mapping[str, Any] | None, *, field: str = "space") -> SearchSpace:
        """The space described by the `space:` mapping of a study file.

        Args:
            raw: Parameter name -> a list of values, `{values: [...]}`, a range
                `{low, high, step?, log?}`, or a nested group of those.
            field: The field path used in error messages.

        Raises:
            ConfigError: naming the dotted field, the value and what was expected.
        """
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ConfigError(
                f"{field}: expected a mapping of parameter names to ranges or value lists, "
                f"got {raw!r:.60}"
            )
        dims: list[Dimension] = []
        _parse_group(raw, "", field, dims)
        return cls(tuple(dims), field=field)

    @property
    def names(self) -> tuple[str, ...]:
        """The dotted parameter names, in order."""
        return tuple(d.name for d in self.dimensions)

    @property
    def is_discrete(self) -> bool:
        """True when every dimension has finitely many values (grid search is possible)."""
        return all(d.is_discrete for d in self.dimensions)

    def keyed_grid(self) -> Iterator[tuple[dict[str, Any], tuple[Any, ...]]]:
        """`grid()`, each combination with its `key`.

        Raises:
            ConfigError: a float range has no step (raised at the call, not on iteration).
        """
        self._require_discrete()
        values = _grid_values(self.dimensions)
        if values is None:
            return ((params, self.key(params)) for params in _odometer(self.dimensions))
        names = self.names
        keys = [[_canonical(v) for v in vals] for vals in values]
        return (
            (dict(zip(names, combo, strict=True)), key)
            for combo, key in zip(itertools.product(*values), itertools.product(*keys), strict=True)
        )

    def grid_keys(self) -> Iterator[tuple[Any, ...]]:
        """The `key` of each combination of `grid()`, in its order: `keyed_grid`'s keys
        without making the combinations.

        Raises:
            ConfigError: a float range has no step (raised at the call, not on iteration).
        """
        self._require_discrete()
        values = _grid_values(self.dimensions)
        if values is None:
            return (key for _, key in self.keyed_grid())
        return itertools.product(*[[_canonical(v) for v in vals] for vals in values])

    def _require_discrete(self) -> None:
        for dim in self.dimensions:
            if not dim.is_discrete:
                raise ConfigError(
                    f"{self.field}.{dim.name}: a float range needs a step for grid search"
                )

    def grid_size(self) -> int:
        """The number of combinations of the grid, without enumerating them.

        Raises:
            ConfigError: a float range has no step.
        """
        self._require_discrete()
        return math.prod(d.grid_size() for d in self.dimensions)

    def grid(self) -> Iterator[dict[str, Any]]:
        """Every combination exactly once; the first dimension varies slowest.

        Raises:
            ConfigError: a float range has no step (raised at the call, not on iteration).
        """
        self._require_discrete()
        return _odometer(self.dimensions)

    @functools.cached_property
    def _distributions(self) -> tuple[tuple[Dimension, BaseDistribution], ...]:
        # Made once: a random search draws from them for every parameter of every trial.
        # Optuna treats distributions as values, so the trials may share them.
        return tuple((d, d.distribution()) for d in self.dimensions)

    def distributions(self) -> dict[str, BaseDistribution]:
        """Name -> Optuna distribution."""
        return {d.name: dist for d, dist in self._distributions}

    def suggest(self, trial: BaseTrial) -> dict[str, Any]:
        """Draw every parameter from `trial` (flat dict with dotted names)."""
        return {d.name: d.suggest(trial) for d in self.dimensions}

    def draw(self, sample: Callable[[str, BaseDistribution], Any]) -> dict[str, Any]:
        """Every parameter from `sample(name, distribution)`, in order, as `suggest` gives it."""
        return {d.name: d.from_sample(sample(d.name, dist)) for d, dist in self._distributions}

    def key(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        """A hashable canonical form of `params` (flat), for recognising duplicates.

        Values in name order; integers as int, other reals rounded to 12 significant digits;
        parameters outside the space are ignored.

        Raises:
            KeyError: a parameter of the space is missing.
        """
        out = []
        for name in self.names:
            if name not in params:
                raise KeyError(f"parameter {name!r} of the space is missing")
            out.append(_canonical(params[name]))
        return tuple(out)


def _canonical(value: Any) -> Any:
    kind = type(value)
    if kind is float:  # the common cases first: ABC checks cost a trial of a free objective
        return float(f"{value:.12g}") if math.isfinite(value) else value
    if kind is int or kind is str:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    number = float(value)
    return float(f"{number:.12g}") if math.isfinite(number) else number


# Listed at once up to this many values over all dimensions (a grid's product then
# walks them as tuples); a longer range is walked an index at a time.
_LISTED_VALUES = 100_000  # a dimension of 300,000 floats took 0.7 s to list


def _grid_values(dims: tuple[Dimension, ...]) -> list[tuple[Any, ...]] | None:
    """Every dimension's grid values (None: too many to list)."""
    if sum(d.grid_size() for d in dims) > _LISTED_VALUES:
        return None
    return [d.grid_values() for d in dims]


def _odometer(dims: tuple[Dimension, ...]) -> Iterator[dict[str, Any]]:
    names = [d.name for d in dims]
    values = _grid_values(dims)
    if values is not None:  # the same order: the first dimension varies slowest
        for combo in itertools.product(*values):
            yield dict(zip(names, combo, strict=True))
        return
    sizes = [d.grid_size() for d in dims]
    index = [0] * len(dims)
    current = [d.grid_value(0) for d in dims]
    while True:
        yield dict(zip(names, current, strict=True))
        pos = len(dims) - 1
        while pos >= 0 and index[pos] + 1 == sizes[pos]:
            index[pos] = 0
            current[pos] = dims[pos].grid_value(0)
            pos -= 1
        if pos < 0:
            return
        index[pos] += 1
        current[pos] = dims[pos].grid_value(index[pos])


def _parse_group(raw: Mapping[Any, Any], prefix: str, field: str, out: list[Dimension]) -> None:
    where = f"{field}.{prefix}" if prefix else field
    if not raw:
        raise ConfigError(f"{where}: empty — nothing to search")
    for key, value in raw.items():
        if not isinstance(key, str):
            raise ConfigError(
                f"{where}: key {key!r} is not a parameter name "
                "(YAML reads yes/no/on/off and numbers as non-text; quote the name)"
            )
        name = f"{prefix}.{key}" if prefix else key
        is_leaf = not isinstance(value, Mapping) or any(
            k in value for k in (*_RANGE_KEYS, "values")
        )
        if is_leaf:
            try:
                out.append(_dimension(name, value))
            except ConfigError as exc:
                raise ConfigError(f"{field}.{exc}") from None
        else:
            _parse_group(value, name, field, out)


def _dimension(name: str, value: Any) -> Dimension:
    """One dimension; errors start with `name`."""
    if isinstance(value, list | tuple):
        return Choice(name, tuple(value))
    if isinstance(value, Mapping):
        if "values" in value:
            extra = [k for k in value if k != "values"]
            if extra:
                raise ConfigError(f"{name}: unknown key {extra[0]!r} (expected only values)")
            return Choice(name, value["values"])
        return _range(name, value)
    raise ConfigError(
        f"{name}: expected a list of values, a range {{low, high, step, log}} or a group of "
        f"parameters, got {value!r:.60} (fixed values belong in params)"
    )


def _range(name: str, raw: Mapping[Any, Any]) -> IntRange | FloatRange:
    unknown = [k for k in raw if k not in _RANGE_KEYS]
    if unknown:
        raise ConfigError(f"{name}: unknown key {unknown[0]!r} (expected low, high, step, log)")
    for key in ("low", "high"):
        if key not in raw:
            raise ConfigError(f"{name}: missing {key!r} (a range needs low and high)")
    low, high, step, log = raw["low"], raw["high"], raw.get("step"), raw.get("log", False)
    for key, value in (("low", low), ("high", high), ("step", step)):
        if not (value is None and key == "step") and not is_number(value):
            hint = ""
            if isinstance(value, str) and "e" in value.lower() and _is_float_text(value):
                # YAML 1.1 floats need a dot and a signed exponent.
                hint = " (YAML reads 1e-3 or 1.0e308 as text; write 1.0e-3 or 1.0e+308)"
            raise ConfigError(f"{name}: {key} must be a number, got {value!r:.60}{hint}")
    if is_int(low) and is_int(high) and (step is None or is_int(step)):
        return IntRange(name, low, high, 1 if step is None else step, log)
    return FloatRange(name, low, high, step, log)


def _is_float_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def flatten(nested: Mapping[str, Any], *, prefix: str = "") -> dict[str, Any]:
    """Nested mappings -> one flat dict with dotted names (`{"risk": {"a": 1}}` -> `risk.a`).

    Keys that already hold dots are kept; empty mappings stay as values.

    Raises:
        ConfigError: the same dotted name is given twice.
    """
    out: dict[str, Any] = {}
    _flatten_into(nested, prefix, out)
    return out


def _flatten_into(node: Mapping[Any, Any], prefix: str, out: dict[str, Any]) -> None:
    for key, value in node.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            _flatten_into(value, name, out)
        elif name in out:
            raise ConfigError(f"{name}: given twice")
        else:
            out[name] = value


def nest(params: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted names -> nested dicts (`{"risk.per_trade": 1}` -> `{"risk": {"per_trade": 1}}`).

    The inverse of `flatten`; values that are already mappings are merged.

    Raises:
        ConfigError: a name is both a value and a group (`risk` and `risk.per_trade`).
    """
    out: dict[str, Any] = {}
    for name, value in flatten(params).items():
        parts = name.split(".")
        node = out
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                group = ".".join(parts[: depth + 1])
                raise ConfigError(f"{group}: is both a value ({child!r:.40}) and a group ({name})")
            node = child
        leaf = parts[-1]
        empty = isinstance(value, Mapping) and not value
        if leaf in node and not (empty and isinstance(node[leaf], dict)):
            raise ConfigError(f"{name}: is both a value and a group")
        if leaf not in node:
            node[leaf] = {} if empty else value
    return out

"""`Strategy.resolve` for many candidates at once, a parameter column at a time.

A sweep's candidates name the same parameters with values of the right type, so the
checks `Param.coerce` makes per value (known name, type, bounds, choices) are made
once per column. A column that is not plainly valid (a float for an int parameter, a
value out of bounds, an unknown name...) sends its candidates through `resolve` one by
one, which converts them or raises the same error as always; `validate` runs per
candidate either way. The dicts are those `resolve` returns, value for value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any, cast

from stratopt.strategies._base import Strategy, infeasible
from stratopt.strategies._params import MAX_INT, Param

__all__ = ["grouped", "resolve_all"]

# Below this many candidates the columns cost more than `resolve` one by one.
_COLUMNS_FROM = 16


def resolve_all(
    strat: Strategy, candidates: Sequence[Mapping[str, Any] | None]
) -> list[dict[str, Any] | Exception]:
    """Per candidate, what `strat.resolve(candidate)` returns, or the exception it
    raises."""
    if len(candidates) < _COLUMNS_FROM or type(strat).resolve is not Strategy.resolve:
        return [_one(strat, cand) for cand in candidates]
    out: list[dict[str, Any] | Exception] = [{}] * len(candidates)
    given = cast(Sequence[Mapping[str, Any]], candidates)
    if None in candidates:
        given = [c or {} for c in candidates]
    by_names = grouped(list(map(tuple, given)), range(len(candidates)))
    for names, members in by_names.items():
        # the group's candidates (the usual sweep: all of them, as given)
        group = candidates if len(members) == len(candidates) else [candidates[k] for k in members]
        columns = _columns(strat.parameters, names, group)
        if columns is None:
            for k in members:
                out[k] = _one(strat, candidates[k])
            continue
        keys = list(strat.parameters)
        if names == tuple(keys) and columns.as_given:  # each candidate's dict, copied
            dicts: list[dict[str, Any]] = list(map(dict, group))  # type: ignore[arg-type]
        else:
            # `_columns` gives each parameter a column of len(members); zip's keyword
            # (even strict=False) took a fifth of this loop
            dicts = [dict(zip(keys, values)) for values in zip(*columns)]  # noqa: B905
        _validate_into(strat, members, dicts, out)
    return out


def _validate_into(
    strat: Strategy,
    members: list[int],
    dicts: list[dict[str, Any]],
    out: list[dict[str, Any] | Exception],
) -> None:
    """``out[members[i]]``: what `validated(strat, dicts[i])` returns or raises
    (`validated`'s work without its two calls per candidate)."""
    validate = strat.validate
    for k, p in zip(members, dicts):  # noqa: B905
        try:
            validate(p)
        except Exception as exc:  # the strategy's own rule, or its bug: this one
            out[k] = infeasible(exc)
        else:
            out[k] = p


def grouped(keys: list[Any], items: Sequence[int]) -> dict[Any, list[int]]:
    """`items` grouped by their `keys`, in first-seen order (TypeError: an unhashable
    key)."""
    if keys and keys.count(keys[0]) == len(keys):  # one group: the usual sweep
        return {keys[0]: list(items)}
    out: dict[Any, list[int]] = {}
    for item, key in zip(items, keys, strict=True):
        out.setdefault(key, []).append(item)
    return out


def _one(strat: Strategy, cand: Mapping[str, Any] | None) -> dict[str, Any] | Exception:
    try:
        return strat.resolve(cand)
    except Exception as exc:  # bad parameters or user code: the caller isolates it
        return exc


class _Columns(list[list[Any]]):
    """Parameter columns; `as_given`: each value is the candidate's own object."""

    as_given = True


def _columns(
    params: Mapping[str, Param],
    names: tuple[str, ...],
    group: Sequence[Mapping[str, Any] | None],
) -> _Columns | None:
    """Each parameter's values over `group` (candidates naming `names`), as
    `Param.coerce` gives them, or None when a column needs the one-by-one path."""
    if any(name not in params for name in names):
        return None
    given = set(names)
    columns = _Columns()
    for name, param in params.items():
        if name in given:
            values = list(map(itemgetter(name), group))  # type: ignore[arg-type]
            if not _plainly_valid(param, values):
                return None
            if param.kind == "float" and not set(map(type, values)) <= {float}:
                values = [float(v) for v in values]
                columns.as_given = False
        else:
            values = [param.coerce(name, param.default)] * len(group)
        columns.append(values)
    return columns


def _plainly_valid(param: Param, values: list[Any]) -> bool:
    """Whether `coerce` accepts every value and returns it as it is (a float
    parameter: as `float` gives it)."""
    if param.kind == "choice":
        try:
            return set(values) <= set(param.choices)  # `in` by hash and ==, as below
        except TypeError:  # an unhashable value
            return all(v in param.choices for v in values)
    types = set(map(type, values))
    if param.kind == "bool":
        return types <= {bool}
    if param.kind == "int":
        if not types <= {int}:
            return False
    elif not types <= {int, float}:
        return False
    else:
        values = [float(v) for v in values]
        if not all(map(math.isfinite, values)):
            return False
    low = param.low if param.low is not None else -math.inf
    high = param.high if param.high is not None else math.inf
    if param.kind == "int":  # and within `coerce`'s ±MAX_INT
        low, high = max(low, -MAX_INT), min(high, MAX_INT)
    return not values or (min(values) >= low and max(values) <= high)

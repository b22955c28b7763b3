"""Rule templates: a strategy's rules traced once, its number parameters left as slots.

A sweep's candidates differ in their numbers only (windows, levels, shifts), so the
rules of all of them are one rule program with the numbers filled in from parameter
columns. A strategy that declares ``vectorized = True`` (its `rules` passes each number
parameter, unchanged, into indicator arguments, rule levels or shifts, and the rules'
shape depends on its choice and bool parameters alone) is traced here twice, with two
sets of sentinel numbers: a value that carries the same parameter's sentinel in both
traces is a slot, a value equal in both is a constant, and anything else (arithmetic
on a parameter, a shape that changes) refuses the template, leaving the strategy on
the per-candidate path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, cast

import numpy as np

from stratopt.strategies._base import Strategy
from stratopt.strategies._indicators import Indicator
from stratopt.strategies._rules import MAX_RULES, Rule, compile_rules, indicators_of

__all__ = ["RuleTemplate", "number_columns", "trace_template"]

# Sentinels of the two traces: far from any window or level a study would use, whole
# for int parameters, with a fraction for float ones (so that int() of a float parameter
# shows as arithmetic), and distinct between the traces.
_SENTINELS = ((1_000_000_007, 7_919, 0.5), (2_000_000_011, 104_729, 0.25))
# Above this an int parameter is not exact in the float64 columns: per-candidate path.
_EXACT = 2**53


class _NotTemplate(Exception):
    """The two traces disagree: the rules are not a template of the parameters."""


@dataclass(frozen=True)
class _Slot:
    """A place in the rules filled with parameter `param`, converted by `kind`."""

    param: str
    kind: type


@dataclass(frozen=True)
class _Form:
    """An indicator with slots among its arguments (at any depth)."""

    name: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class RuleTemplate:
    """The compiled rules of every candidate of one choice of the non-number parameters.

    Attributes:
        table: int64[MAX_RULES, 5] as `compile_rules` gives it, rows numbered by their
            place in ``indicators``; a slot's entry is overwritten per candidate.
        levels: float64[MAX_RULES], the same.
        indicators: The traced indicators, in first-use order, slots kept as `_Form`s.
        level_slots: (rule, parameter) of each level that is a parameter.
        shift_slots: (rule, parameter) of each shift that is a parameter.
    """

    table: np.ndarray
    levels: np.ndarray
    indicators: tuple[Indicator | _Form, ...]
    level_slots: tuple[tuple[int, str], ...]
    shift_slots: tuple[tuple[int, str], ...]

    def fill(
        self,
        columns: Mapping[str, np.ndarray],
        row_ids: Callable[[list[Indicator]], Sequence[int]],
        made: dict[int, dict[Any, Indicator]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rules of candidates whose parameters are `columns` (float64[n] each):
        tables int64[n, MAX_RULES, 5] and levels float64[n, MAX_RULES] as `table` and
        `levels` with the slots filled in, and ids int64[n, len(indicators)], the
        `row_ids` of each candidate's indicator at each place (row_ids is given each
        distinct indicator once). `made` keeps the indicators built, by place and
        values, for later calls with this template."""
        n = len(next(iter(columns.values()))) if columns else 0
        tables = np.repeat(self.table[None], n, axis=0)
        levels = np.repeat(self.levels[None], n, axis=0)
        for r, name in self.level_slots:
            levels[:, r] = columns[name]
        for r, name in self.shift_slots:
            tables[:, r, 4] = columns[name]
        return tables, levels, self._ids(columns, n, row_ids, {} if made is None else made)

    @functools.cached_property
    def filled(self) -> tuple[str, ...]:
        """The parameters whose values fill the slots (once each)."""
        names = [s.param for f in self.indicators if isinstance(f, _Form) for s in _slots(f)]
        names += [name for _, name in self.level_slots + self.shift_slots]
        return tuple(dict.fromkeys(names))

    @functools.cached_property
    def _places(self) -> tuple[list[int], list[tuple[list[int], list[tuple[str, ...]]]]]:
        """The places of the indicators without slots, and per kind of indicator with
        slots: its places, and the parameters of each place's slots (in `_slots`
        order); worked out once per template, not per call."""
        fixed: list[int] = []
        by_shape: dict[_Form, tuple[list[int], list[tuple[str, ...]]]] = {}
        for j, ind in enumerate(self.indicators):
            if isinstance(ind, Indicator):
                fixed.append(j)
            else:
                places, params = by_shape.setdefault(_shape(ind), ([], []))
                places.append(j)
                params.append(tuple(s.param for s in _slots(ind)))
        return fixed, list(by_shape.values())

    def _ids(
        self,
        columns: Mapping[str, np.ndarray],
        n: int,
        row_ids: Callable[[list[Indicator]], Sequence[int]],
        made: dict[int, dict[Any, Indicator]],
    ) -> np.ndarray:
        ids = np.empty((n, len(self.indicators)), dtype=np.int64)
        fixed, forms = self._places
        if fixed:
            ids[:, fixed] = row_ids([cast(Indicator, self.indicators[j]) for j in fixed])
        # one form (sma(close, window)) may sit at several places (fast and slow): the
        # candidates' values at all of them are one set of distinct indicators
        for places, params in forms:
            distinct, inverse = _distinct([[columns[q] for q in p] for p in params])
            form = self.indicators[places[0]]
            assert isinstance(form, _Form)
            found = np.asarray(row_ids(_made(made.setdefault(places[0], {}), form, distinct)))
            ids[:, places] = found[inverse].reshape(len(places), n).T
        return ids


def _distinct(values: list[list[np.ndarray]]) -> tuple[list[Any], np.ndarray]:
    """The distinct values of the slots over every place (``values[place][slot]``, a
    column each), sorted (a number, or a tuple of them for several slots), and the
    index of each place's candidate's value among them (place-major)."""
    if len(values[0]) == 1:  # one number (a window): the quicker 1-d unique
        flat = np.concatenate([v[0] for v in values])
        distinct = np.unique(flat)
        if distinct.size and np.isnan(distinct[-1]):  # NaNs: one of them, as unique has it
            return distinct.tolist(), np.unique(flat, return_inverse=True)[1]
        return distinct.tolist(), np.searchsorted(distinct, flat)
    stacked = np.concatenate([np.stack(v, axis=1) for v in values])
    rows, inverse = np.unique(stacked, axis=0, return_inverse=True)
    return [tuple(r) for r in rows.tolist()], inverse.reshape(-1)


def trace_template(strat: Strategy, choices: Mapping[str, Any]) -> RuleTemplate | None:
    """The template of `strat`'s rules for the given values of its choice and bool
    parameters, or None when it does not trace as one (see the module's docstring)."""
    numbers = [k for k, p in strat.parameters.items() if p.kind in ("int", "float")]
    traces = []
    for base, step, frac in _SENTINELS:
        p = dict(choices)
        for i, name in enumerate(numbers):
            whole = base + step * i
            p[name] = whole if strat.parameters[name].kind == "int" else whole + frac
        try:
            rules = list(strat.rules(p))
        except Exception:  # user code meeting a sentinel: the per-candidate path decides
            return None
        traces.append((rules, {float(v): k for k, v in p.items() if k in numbers}))
    try:
        return _merge(traces[0], traces[1])
    except _NotTemplate:
        return None


def _merge(
    one: tuple[list[Rule], dict[float, str]], two: tuple[list[Rule], dict[float, str]]
) -> RuleTemplate:
    (r1, s1), (r2, s2) = one, two
    if not 0 < len(r1) <= MAX_RULES or len(r1) != len(r2):
        raise _NotTemplate

    def leaf(x: Any, y: Any) -> Any:
        if isinstance(x, Indicator) and isinstance(y, Indicator):
            if x.name != y.name or len(x.args) != len(y.args):
                raise _NotTemplate
            args = tuple(leaf(a, b) for a, b in zip(x.args, y.args, strict=True))
            has_slot = any(isinstance(a, _Slot | _Form) for a in args)
            return _Form(x.name, args) if has_slot else x
        number = isinstance(x, int | float) and not isinstance(x, bool)
        name = s1.get(float(x)) if number else None
        if name is not None and type(y) is type(x) and s2.get(float(y)) == name:
            return _Slot(name, type(x))
        if name is not None or type(x) is not type(y) or x != y:
            raise _NotTemplate
        return x

    places = {ind: leaf(ind, other) for ind, other in _paired_indicators(r1, r2)}
    table, levels = compile_rules(r1, list(places).index)
    level_slots, shift_slots = [], []
    for r, (a, b) in enumerate(zip(r1, r2, strict=True)):
        if (a.when.kind, a.signal) != (b.when.kind, b.signal):
            raise _NotTemplate
        if not isinstance(a.when.b, Indicator):
            level = leaf(a.when.b, b.when.b)
            if isinstance(level, _Slot):
                level_slots.append((r, level.param))
        shift = leaf(a.when.shift, b.when.shift)
        if isinstance(shift, _Slot):
            shift_slots.append((r, shift.param))
    return RuleTemplate(
        table, levels, tuple(places.values()), tuple(level_slots), tuple(shift_slots)
    )


def _paired_indicators(r1: Sequence[Rule], r2: Sequence[Rule]) -> list[tuple[Indicator, Any]]:
    """The distinct indicators of the first trace with their counterparts in the second
    (which must be distinct in the same places)."""
    i1, i2 = indicators_of(r1), indicators_of(r2)
    shape1 = [(isinstance(r.when.b, Indicator), i1.index(r.when.a)) for r in r1]
    shape2 = [(isinstance(r.when.b, Indicator), i2.index(r.when.a)) for r in r2]
    refs1 = [i1.index(r.when.b) for r in r1 if isinstance(r.when.b, Indicator)]
    refs2 = [i2.index(r.when.b) for r in r2 if isinstance(r.when.b, Indicator)]
    if len(i1) != len(i2) or shape1 != shape2 or refs1 != refs2:
        raise _NotTemplate
    return list(zip(i1, i2, strict=True))


def _slots(form: _Form) -> list[_Slot]:
    out: list[_Slot] = []
    for a in form.args:
        if isinstance(a, _Slot):
            out.append(a)
        elif isinstance(a, _Form):
            out += _slots(a)
    return out


def _shape(form: _Form) -> _Form:
    """`form` with its slots' parameter names dropped: the places of one indicator kind."""
    return _Form(
        form.name,
        tuple(
            _Slot("", a.kind) if isinstance(a, _Slot) else _shape(a) if isinstance(a, _Form) else a
            for a in form.args
        ),
    )


def _made(made: dict[Any, Indicator], form: _Form, distinct: list[Any]) -> list[Indicator]:
    """The indicators of `form` with each of the `distinct` values (a number, or a tuple
    for several slots), each built once per `made`."""
    got = [made.get(v) for v in distinct]
    for i, ind in enumerate(got):
        if ind is None:
            v = distinct[i]
            got[i] = made[v] = _instance(form, list(v) if isinstance(v, tuple) else [v])
    return cast(list[Indicator], got)


def _instance(form: _Form, values: list[float]) -> Indicator:
    """The indicator of `form` with its slots taken, in order, from `values`."""
    args: list[Any] = []
    for a in form.args:
        if isinstance(a, _Slot):
            args.append(a.kind(values.pop(0)))
        elif isinstance(a, _Form):
            args.append(_instance(a, values))
        else:
            args.append(a)
    return Indicator(form.name, tuple(args))


def number_columns(
    template: RuleTemplate, params: Sequence[Mapping[str, Any]]
) -> dict[str, np.ndarray] | None:
    """float64 columns of the parameters `template` fills, or None when an int value is
    too large to be exact in one."""
    columns = {name: np.array(list(map(itemgetter(name), params)), dtype=np.float64)
               for name in template.filled}  # fmt: skip
    if any(np.abs(c).max(initial=0.0) >= _EXACT for c in columns.values()):
        return None
    return columns

"""The plans of many candidates of one strategy: each one's rules as arrays, its rows
(indicators, or its own signal codes) numbered once for the whole call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any, cast

import numpy as np

from stratopt.engine import kernels as engine_nb
from stratopt.errors import InfeasibleError, StrategyError
from stratopt.strategies._base import Strategy
from stratopt.strategies._indicators import Indicator
from stratopt.strategies._registry import BUILTIN_STRATEGIES
from stratopt.strategies._resolve import grouped, resolve_all
from stratopt.strategies._rules import MAX_RULES, Rule, compile_rules
from stratopt.strategies._template import RuleTemplate, number_columns, trace_template

__all__ = ["RulePlans", "describe_error", "plan_candidates"]


@dataclass(frozen=True)
class RulePlans:
    """The runnable candidates of one call, as arrays over them (in position order).

    Attributes:
        keys: The call's distinct rows: indicators, and ``("signals", k)`` for the
            signal codes of candidate k (a strategy without rules).
        pos: int64[k], each candidate's position in the call.
        params: Each candidate's resolved parameters.
        tables: int64[k, MAX_RULES, 5], each candidate's rules, a row named by its
            place in the candidate's ``ids``.
        levels: float64[k, MAX_RULES], their levels.
        ids: int64[k, width], the ids (places in ``keys``) of the rows each candidate
            reads; -1 past its own.
        own: bool[k], whether the candidate runs its strategy's numpy signals.
        one_shape: Whether every candidate's rules have the same kinds and read the
            same places of its rows (levels, signals and shifts aside): a sweep's
            one program.
    """

    keys: list[Any]
    pos: np.ndarray
    params: list[dict[str, Any]]
    tables: np.ndarray
    levels: np.ndarray
    ids: np.ndarray
    own: np.ndarray
    one_shape: bool = False


# Candidates of one choice from which tracing a template (two calls of `rules` and a
# few numpy operations, ~0.08 ms) costs less than their rules one by one (~7 us each):
# measured break-even about 24 SMA-cross candidates.
_TEMPLATE_FROM = 24

# The indicators built from one template, by place, then values (`RuleTemplate.fill`).
_Made = dict[int, dict[Any, Indicator]]

# One part of a call's plans: positions, tables, levels, ids, own (as in `RulePlans`).
_Part = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def plan_candidates(
    strat: Strategy,
    candidates: Sequence[Mapping[str, Any]],
    errors: list[str | None],
    infeasible: list[bool],
) -> tuple[list[dict[str, Any]], RulePlans]:
    """Each candidate's resolved parameters and, for those that resolve, its plan: from
    the strategy's rule templates (`vectorized` strategies) or candidate by candidate."""
    got = resolve_all(strat, candidates)
    failed = (
        []
        if set(map(type, got)) == {dict}  # every candidate resolved (the usual sweep)
        else [k for k, g in enumerate(got) if isinstance(g, Exception)]
    )
    for k in failed:  # bad parameters or user code: isolate the candidate
        exc = got[k]
        assert isinstance(exc, Exception)
        got[k] = dict(candidates[k])
        errors[k] = describe_error(exc)
        infeasible[k] = isinstance(exc, InfeasibleError)
    resolved = cast(list[dict[str, Any]], got)
    ok = sorted(set(range(len(got))).difference(failed)) if failed else list(range(len(got)))
    programs = _Programs()
    parts: list[_Part] = []
    one_shape = True  # every part so far has one shape (a template's parts do)
    if strat.uses_rules and strat.vectorized and len(ok) >= _TEMPLATE_FROM:
        parts, ok = _from_templates(strat, resolved, ok, programs)
    if ok or not parts:
        part, one_shape = _one_by_one(strat, resolved, ok, programs, (errors, infeasible))
        parts.append(part)
    heads = [part[1][0, :, :3] for part in parts if len(part[0])]
    one_shape = one_shape and all(np.array_equal(h, heads[0]) for h in heads[1:])
    pos, tables, levels, ids, own = parts[0] if len(parts) == 1 else _joined(parts)
    # every candidate planned: positions 0..n-1 in order
    params = list(resolved) if len(pos) == len(resolved) else [resolved[k] for k in pos.tolist()]
    plans = RulePlans(programs.keys, pos, params, tables, levels, ids, own, one_shape)
    return resolved, plans


def _joined(parts: list[_Part]) -> _Part:
    """The parts as one, in position order (ids padded with -1 to the widest)."""
    width = max(part[3].shape[1] for part in parts)
    ids = [np.pad(p[3], ((0, 0), (0, width - p[3].shape[1])), constant_values=-1) for p in parts]
    pos, tables, levels, own = (np.concatenate([part[i] for part in parts]) for i in (0, 1, 2, 4))
    order = np.argsort(pos, kind="stable")
    return pos[order], tables[order], levels[order], np.concatenate(ids)[order], own[order]


def _from_templates(
    strat: Strategy, resolved: list[dict[str, Any]], ok: list[int], programs: _Programs
) -> tuple[list[_Part], list[int]]:
    """The parts of the candidates at positions `ok` planned from rule templates, one
    per choice of the non-number parameters, and the positions left to plan one by one
    (a choice whose rules do not trace as a template)."""
    fixed = [k for k, p in strat.parameters.items() if p.kind not in ("int", "float")]
    choice_of = itemgetter(*fixed) if fixed else lambda p: ()
    try:
        mine = resolved if len(ok) == len(resolved) else [resolved[k] for k in ok]
        by_choice = grouped(list(map(choice_of, mine)), ok)
    except TypeError:  # an unhashable choice value
        return [], ok
    parts: list[_Part] = []
    rest: list[int] = []
    for choice, members in by_choice.items():
        if len(members) < _TEMPLATE_FROM:
            rest += members
            continue
        values = choice if len(fixed) > 1 else (choice,) if fixed else ()
        template, made = _template_of(strat, dict(zip(fixed, values, strict=True)), choice)
        columns = None
        if template is not None:
            mine = resolved if len(members) == len(resolved) else [resolved[k] for k in members]
            columns = number_columns(template, mine)
        if template is None or columns is None:
            rest += members
            continue
        tables, levels, ids = template.fill(columns, programs.row_ids, made)
        parts.append((np.array(members, dtype=np.int64), tables, levels, ids,
                      np.zeros(len(members), dtype=np.bool_)))  # fmt: skip
    return parts, sorted(rest)


# The built-in strategies' templates (and the indicators made from them), kept across
# calls: their rules depend on the parameters alone. A user's strategy is traced on
# every call (its `rules` may read its own state).
_PURE = frozenset(BUILTIN_STRATEGIES.values())
_KEPT: dict[tuple[type[Strategy], Any], tuple[RuleTemplate | None, _Made]] = {}
_KEPT_MAX = 64  # templates kept; and indicators kept per template:
_MADE_MAX = 4096


def _template_of(
    strat: Strategy, choices: dict[str, Any], choice: Any
) -> tuple[RuleTemplate | None, _Made]:
    """`trace_template(strat, choices)` and a store for the indicators filled from it."""
    pure = type(strat) in _PURE
    key = (type(strat), choice)
    kept = _KEPT.get(key) if pure else None
    if kept is None:
        kept = (trace_template(strat, choices), {})
        if pure:
            if len(_KEPT) >= _KEPT_MAX:
                _KEPT.clear()
            _KEPT[key] = kept
    if sum(map(len, kept[1].values())) > _MADE_MAX:
        kept[1].clear()
    return kept


def _one_by_one(
    strat: Strategy,
    resolved: list[dict[str, Any]],
    ok: list[int],
    programs: _Programs,
    report: tuple[list[str | None], list[bool]],
) -> tuple[_Part, bool]:
    """The part of the candidates at positions `ok`, each from its own rules (or its
    own signals), and whether they all have one program; a candidate whose strategy
    code raises gets its error in `report`."""
    pos: list[int] = []
    program: list[int] = []
    ids: list[tuple[int, ...]] = []
    for k in ok:
        try:
            rules = _rules_of(strat, resolved[k]) if strat.uses_rules else None
        except Exception as exc:  # user code: isolate the candidate
            report[0][k] = describe_error(exc)
            report[1][k] = isinstance(exc, InfeasibleError)
            continue
        pid, row_ids = (
            (-1, (programs.row_id(("signals", k)),)) if rules is None else programs.of(rules)
        )
        pos.append(k)
        program.append(pid)
        ids.append(row_ids)
    tables, levels = programs.compiled(np.array(program, dtype=np.int64))
    part = np.array(pos, dtype=np.int64), tables, levels, _padded(ids), np.array(program) < 0
    return part, len(set(program)) <= 1


def _padded(ids: list[tuple[int, ...]]) -> np.ndarray:
    """int64[k, width] of the tuples, -1 past each one's end."""
    k = len(ids)
    if k and len(set(map(len, ids))) == 1:  # the usual case: one rule shape
        return np.array(ids, dtype=np.int64).reshape(k, -1)
    lens = np.fromiter((len(t) for t in ids), dtype=np.int64, count=k)
    flat = np.fromiter(chain.from_iterable(ids), dtype=np.int64, count=int(lens.sum()))
    out = np.full((k, max(int(lens.max(initial=0)), 1)), -1, dtype=np.int64)
    starts = np.cumsum(lens) - lens
    out[np.repeat(np.arange(k), lens), np.arange(flat.size) - np.repeat(starts, lens)] = flat
    return out


class _Programs:
    """Rule programs shared by candidates: the compiled rules with each indicator
    replaced by its place in the candidate's own list of rows.

    A crossover grid has one program for all its candidates. The call's distinct rows
    (indicators, and ``("signals", k)`` for a candidate's own signal codes) are
    numbered in ``keys``, so that the rest of the call works on integers.
    """

    def __init__(self) -> None:
        self._ids: dict[tuple[Any, ...], int] = {}
        self.tables: list[np.ndarray] = []
        self.levels: list[np.ndarray] = []
        self.keys: list[Any] = []
        self._key_id: dict[Any, int] = {}

    def row_id(self, key: Any) -> int:
        """The number of row `key` in this call (a new one for a new key)."""
        i = self._key_id.get(key)
        if i is None:
            i = self._key_id[key] = len(self.keys)
            self.keys.append(key)
        return i

    def row_ids(self, keys: list[Any]) -> Sequence[int]:
        """`row_id` of each of `keys`, which are distinct; all new to this call (a
        template's first fill), they are numbered in one step."""
        known = self._key_id
        start = len(self.keys)
        if not known or known.keys().isdisjoint(keys):
            self.keys += keys
            known.update(zip(keys, range(start, start + len(keys)), strict=True))
            return range(start, start + len(keys))
        return [self.row_id(k) for k in keys]

    def of(self, rules: list[Rule]) -> tuple[int, tuple[int, ...]]:
        """The program of `rules` and the ids of the rows they read, in first-use
        order (`indicators_of`'s)."""
        local: dict[Indicator, int] = {}
        shape = []
        for r in rules:
            when = r.when
            a = local.setdefault(when.a, len(local))
            b = when.b
            # tagged: a level 0.0 and the row at place 0 must not make the same program
            operand = (
                ("row", local.setdefault(b, len(local)))
                if isinstance(b, Indicator)
                else ("level", float(b))
            )
            shape.append((when.kind, a, operand, int(r.signal), when.shift))
        key = tuple(shape)
        pid = self._ids.get(key)
        if pid is None:
            pid = self._ids[key] = len(self.tables)
            table, levels = compile_rules(rules, local.__getitem__)
            self.tables.append(table)
            self.levels.append(levels)
        known = self._key_id
        ids = [i if (i := known.get(ind)) is not None else self.row_id(ind) for ind in local]
        return pid, tuple(ids)

    def compiled(self, program: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The tables and levels of programs `program` (-1: one rule reading the
        candidate's own signal codes, at place 0)."""
        k = len(program)
        if self.tables:
            tables = np.stack(self.tables)[np.maximum(program, 0)]
            levels = np.stack(self.levels)[np.maximum(program, 0)]
        else:
            tables, levels = np.zeros((k, MAX_RULES, 5), dtype=np.int64), np.zeros((k, MAX_RULES))
        own = program < 0
        if own.any():
            tables[own] = 0
            levels[own] = 0.0
            tables[own, 0, 0] = engine_nb.RULE_CODES
        return tables, levels


def describe_error(exc: Exception) -> str:
    return str(exc) if isinstance(exc, StrategyError) else f"{type(exc).__name__}: {exc}"


def _rules_of(strat: Strategy, p: dict[str, Any]) -> list[Rule]:
    rules = list(strat.rules(p))
    if not 0 < len(rules) <= MAX_RULES:
        raise StrategyError(
            f"strategy {strat.name!r} returned {len(rules)} rules; 1 to {MAX_RULES} are allowed"
        )
    return rules

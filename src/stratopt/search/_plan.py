"""The search plan: a study's search parts, validated once, and the trials to reach.

`compile_search` reads them from a study file; `plan_search` from the parts themselves
(what `stratopt.optimize()` is given), with the same checks and the same messages, the
field names adjusted to what the caller wrote (`score` instead of `objective`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from optuna.samplers import BaseSampler

from stratopt.config import SearchConfig, StudyConfig, method_list
from stratopt.errors import ConfigError
from stratopt.search._constraints import Constraint, check_satisfiable, parse_constraints
from stratopt.search._objective import Objective, parse_objective
from stratopt.search._requirements import Requirements, parse_requirements
from stratopt.search._samplers import SAMPLERS, make_sampler
from stratopt.search._space import SearchSpace

__all__ = [
    "STUDY_FIELDS",
    "PlanFields",
    "SearchPlan",
    "compile_search",
    "default_trials",
    "plan_search",
]

# Counting a grid's valid combinations enumerates them all (hours for 1e12).
MAX_COUNTED_GRID = 1_000_000


@dataclass(frozen=True)
class PlanFields:
    """How error messages name each part: a study file's keys, or a function's arguments."""

    space: str = "space"
    constraints: str = "constraints"
    objective: str = "objective"
    require: str = "require"
    search: str = "search."  # prefix of the search settings (`search.trials`)


STUDY_FIELDS = PlanFields()


@dataclass(frozen=True)
class SearchPlan:
    """What to search, what to optimize, how, and until how many COMPLETE trials.

    The objective keeps state (a weighted score's adaptive bounds): one plan per run.
    """

    space: SearchSpace
    constraints: tuple[Constraint, ...]
    objective: Objective
    requirements: Requirements
    settings: SearchConfig
    target: int
    fixed: Mapping[str, Any] = field(default_factory=dict)  # fixed params constraints read

    @property
    def method(self) -> str:
        return self.settings.method

    @property
    def default_batch(self) -> int:
        """Candidates asked at a time when `search.batch` is not set."""
        return SAMPLERS[self.method].default_batch

    def sampler(self, *, seed: int) -> BaseSampler:
        """The method's Optuna sampler, seeded with `seed`."""
        return make_sampler(self.settings, seed=seed, n_objectives=len(self.objective.directions))

    def broken(self, params: Mapping[str, Any]) -> str | None:
        """The first constraint `params` (with the fixed params) break, or None."""
        merged = {**self.fixed, **params}
        for c in self.constraints:
            if not c.holds(merged):
                return c.text
        return None

    def key(self, params: Mapping[str, Any]) -> str:
        """The candidate's identity in the study (equal values, equal keys)."""
        return repr(self.space.key(params))


def compile_search(study: StudyConfig) -> SearchPlan:
    """The search plan of a study file (ConfigError naming the field otherwise)."""
    return plan_search(
        space=study.space,
        constraints=study.constraints,
        objective=study.objective,
        require=study.require,
        settings=study.search,
        fixed=study.params,
    )


def plan_search(
    *,
    space: Mapping[str, Any],
    constraints: Sequence[str],
    objective: str | Mapping[str, Any],
    require: Mapping[str, Any],
    settings: SearchConfig,
    fixed: Mapping[str, Any] | None = None,
    fields: PlanFields = STUDY_FIELDS,
) -> SearchPlan:
    """Validate the parts of a search, in a study file's order; ConfigError otherwise."""
    fixed = dict(fixed or {})
    searched = SearchSpace.from_config(space, field=fields.space)
    names = list(searched.names) + [k for k in fixed if k not in searched.names]
    parsed = parse_constraints(list(constraints), names, field=fields.constraints)
    check_satisfiable(parsed, searched, fixed=fixed)
    goal = parse_objective(objective, field=fields.objective)
    if goal.is_multi and not SAMPLERS[settings.method].multi_objective:
        raise ConfigError(
            f"{fields.search}method: {settings.method!r} cannot optimize several objectives; "
            f"use {method_list(multi_objective=True)}"
        )
    requirements = parse_requirements(dict(require), field=fields.require)
    target = settings.trials or default_trials(
        settings.method, searched, parsed, fixed, field=f"{fields.search}trials"
    )
    return SearchPlan(searched, tuple(parsed), goal, requirements, settings, target, fixed)


def default_trials(
    method: str,
    space: SearchSpace,
    constraints: Sequence[Constraint],
    fixed: Mapping[str, Any],
    *,
    field: str = "search.trials",
) -> int:
    """Grid: every valid combination; other methods: 100."""
    if method != "grid":
        return 100
    size = space.grid_size()
    if size > MAX_COUNTED_GRID:
        raise ConfigError(
            f"{field}: the grid has {size:,} combinations, more than the "
            f"{MAX_COUNTED_GRID:,} a grid search runs by default; set {field} or use "
            "another method"
        )
    return sum(all(c.holds({**fixed, **p}) for c in constraints) for p in space.grid())

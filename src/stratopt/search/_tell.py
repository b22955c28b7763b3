"""Telling a study what a candidate gave: COMPLETE, PRUNED or FAIL, with its record.

Shared by both trial loops (`run_trials`, one process; `work`, many) and open to any
caller that evaluates candidates itself: `tell` records an `Outcome` on a trial of the
study, checked against the plan's requirements and scored by its objective.

Trial states: COMPLETE (counted towards the target), PRUNED (a constraint or a
requirement failed, or a duplicate of an earlier candidate; the reason is in the record's
`pruned`) and FAIL (an error, a NaN objective or a timeout, in `error`). Every trial keeps
its params and, when it ran, all metrics (`stratopt.storage.record`); a trial an external
evaluator ran also keeps, under `external`, the metrics it returned and its run's folder.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.study._tell import _tell_with_warning
from optuna.trial import FrozenTrial, TrialState

from stratopt._jsonable import clean
from stratopt.evaluation import Evaluator, Outcome
from stratopt.search._plan import SearchPlan
from stratopt.search._progress import Progress
from stratopt.search._space import SearchSpace
from stratopt.storage import ATTR, ATTR_NORMALIZER, OwnedTrial

__all__ = [
    "DUPLICATE",
    "INFEASIBLE",
    "REQUIREMENTS",
    "BatchTrial",
    "GridList",
    "Pending",
    "evaluate_with_retries",
    "grid_candidates",
    "prune",
    "restore_normalizer",
    "save_normalizer",
    "tell",
    "valid_keys",
]

log = logging.getLogger("stratopt.search")

DUPLICATE = "duplicate of an earlier candidate"

REQUIREMENTS = "requirements"
"""The name of the Optuna constraint a trial of a study with requirements carries:
`Verdict.constraint` (0 when feasible, > 0 by how far it is from feasible)."""

INFEASIBLE = "requirements: "
"""How the `pruned` reason of a candidate that ran and missed a requirement starts: the
one kind of PRUNED trial that was backtested (its metrics are in its record)."""

# Enumerating a discrete space's valid keys costs memory; above this, it is not done.
_MAX_ENUMERATED = 200_000


@dataclass(slots=True)  # not frozen: made for every candidate, and never changed
class BatchTrial:
    """A candidate written once, finished, when its result is known.

    Grid candidates need nothing from a sampler, and random draws nothing from earlier
    results; so instead of Optuna's per-trial round trips (create, set each param, set
    attrs, tell: a storage transaction each, about 30 ms a trial on SQLite) the finished
    trial joins `finished`, shared by its batch, which is written at once (one
    transaction on SQLite or PostgreSQL) when the batch is told. No trial is left
    RUNNING if the run is killed: the batch's evaluations are lost, as they are with
    RUNNING trials, and a rerun evaluates what is missing (grid) or draws on (random).

    `slot` is the candidate's place in its batch: pruned candidates are finished before
    the evaluated ones, yet the batch is written in the order it was asked, so trials
    are numbered as `study.ask()` numbers them. `key` (a grid's candidate): its
    `plan.key`, known to break no constraint.
    """

    params: dict[str, Any]
    distributions: dict[str, Any]
    finished: dict[int, FrozenTrial]
    started: datetime.datetime
    slot: int
    key: str | None = None


Pending = optuna.Trial | BatchTrial
"""A trial being run: Optuna's, or one written with its batch."""


def tell(
    study: optuna.Study,
    trial: Pending,
    outcome: Outcome,
    *,
    key: str,
    plan: SearchPlan,
    progress: Progress,
) -> bool:
    """Finish `trial` with what evaluating it gave; False when it FAILED.

    `key` is `plan.key(params)`. A feasible, scorable outcome completes the trial (and
    feeds the objective's normalizer); one that breaks the requirements is PRUNED with
    the violations; an error or a NaN objective FAILS it. `progress` counts it.
    """
    rec: dict[str, Any] = {"key": key, "runtime_s": outcome.runtime}
    if outcome.extra:  # an external evaluator's: the metrics it returned, its run's folder
        rec["external"] = clean(outcome.extra)
    if len(outcome.per_symbol) > 1:
        rec["per_symbol"] = clean(outcome.per_symbol)
    if outcome.infeasible is not None:  # deterministic: retrying cannot help
        prune(study, trial, rec, f"infeasible: {outcome.infeasible}", progress)
        return True
    if outcome.error is not None or outcome.metrics is None:
        _fail(study, trial, rec, outcome.error or "no metrics", progress)
        return False
    metrics = outcome.metrics
    # what `clean` gives, without its look at every key and value (2.5 µs a trial)
    rec["metrics"] = metrics.copy() if outcome.json_safe else clean(metrics)
    verdict = plan.requirements.check(metrics)
    rec["shortfall"] = float(verdict.shortfall)
    if verdict.violations:
        rec["violations"] = list(verdict.violations)
    values = plan.objective.values(metrics)
    if values.components:
        rec["components"] = clean(values.components)
    if values.values is None:
        reason = values.reason or "not a finite number"
        _fail(study, trial, rec, f"objective {plan.objective.describe()}: {reason}", progress)
        return False
    # The feasibility the samplers read (`FrozenTrial.constraints`); set only with
    # requirements, so a study without them samples as before
    constraint = verdict.constraint if plan.requirements.requirements else None
    if not verdict.feasible:
        reason = INFEASIBLE + "; ".join(verdict.violations)
        prune(study, trial, rec, reason, progress, constraint=constraint)
    elif _told(study, trial, rec, list(values.values), constraint=constraint):
        plan.objective.observe(metrics)
        progress.complete += 1
        progress.consider(values.values)
    return True


def prune(
    study: optuna.Study,
    trial: Pending,
    rec: dict[str, Any],
    reason: str,
    progress: Progress,
    *,
    constraint: float | None = None,
) -> None:
    """Finish `trial` PRUNED (not run, or infeasible) with `reason` in its record (and
    `constraint`, see `_told`)."""
    _told(study, trial, {**rec, "pruned": reason}, state=TrialState.PRUNED, constraint=constraint)
    progress.pruned += 1


def _fail(
    study: optuna.Study, trial: Pending, rec: dict[str, Any], error: str, progress: Progress
) -> None:
    _told(study, trial, {**rec, "error": error}, state=TrialState.FAIL)
    progress.failed += 1


def _told(
    study: optuna.Study,
    trial: Pending,
    rec: dict[str, Any],
    values: list[float] | None = None,
    state: TrialState | None = None,
    constraint: float | None = None,
) -> bool:
    """Record `rec` on the trial and finish it (False: it was already finished).

    `constraint` (None: not set) is stored as the trial's Optuna constraint `REQUIREMENTS`
    (feasible iff <= 0), which Optuna's TPE and NSGA-II and `BatchTPESampler` read.
    """
    if isinstance(trial, BatchTrial):
        # Not `create_trial`: it compares every distribution with a converted copy (old
        # distribution classes), 0.5 ms a trial with a 50-value list. The trial is
        # validated when written; it is dropped with its batch then, so it is handed over,
        # with dicts of its own (the batch shares `distributions`; `values` is copied).
        trial.finished[trial.slot] = OwnedTrial.finished_now(
            state or TrialState.COMPLETE,
            values,
            trial.started,
            dict(trial.params),
            dict(trial.distributions),
            {ATTR: rec},
        )
        if constraint is not None:
            trial.finished[trial.slot].set_constraint(REQUIREMENTS, constraint)
        return True
    try:
        if constraint is not None:
            trial.set_constraint(REQUIREMENTS, constraint)
        trial.set_user_attr(ATTR, rec)
        # `Study.tell` deep-copies the finished trial to return it, which cost more than
        # the whole rest of a trial; Optuna's own `study.optimize` loop calls this function.
        _tell_with_warning(study=study, trial=trial, value_or_values=values, state=state)
    except optuna.exceptions.UpdateFinishedTrialError:
        # Another process found its heartbeat stale and failed it (its params are queued
        # for a retry): this result is dropped rather than counted twice.
        log.warning("trial %d was failed as orphaned while it ran; result dropped", trial.number)
        return False
    return True


def evaluate_with_retries(
    evaluator: Evaluator, params: list[dict[str, Any]], retries: int
) -> list[Outcome]:
    """Evaluate `params`; candidates that failed are evaluated again, up to `retries` times."""
    outcomes = evaluator.evaluate(params) if params else []
    for attempt in range(retries):
        again = [i for i, o in enumerate(outcomes) if o.error is not None]
        if not again:
            break
        log.info("retrying %d failed candidate(s), attempt %d", len(again), attempt + 1)
        redo = evaluator.evaluate([params[i] for i in again])
        for i, o in zip(again, redo, strict=True):
            outcomes[i] = o
    return outcomes


def valid_keys(plan: SearchPlan) -> set[str] | None:
    """Keys of every valid combination of a discrete space (None if too large)."""
    listed = grid_candidates(plan)
    return None if listed is None else set(listed.keys)


@dataclass(frozen=True)
class GridList:
    """A discrete space's grid as listed once: `valid[i]` for the i-th combination of
    `space.grid()` (1: it breaks no constraint), and the keys of the valid ones in that
    order. The combinations themselves are not kept (200,000 dicts would outlive the
    run): `candidates` walks the grid again beside them."""

    valid: bytearray
    keys: list[str]

    def candidates(self, space: SearchSpace) -> Iterator[tuple[dict[str, Any], str]]:
        """The valid combinations in grid order, each with its key."""
        keys = iter(self.keys)
        for ok, params in zip(self.valid, space.grid(), strict=True):
            if ok:
                yield params, next(keys)


def grid_candidates(plan: SearchPlan) -> GridList | None:
    """Every combination of a discrete space that breaks no constraint, in grid order,
    with its key (None: not discrete, or too large to list)."""
    space: SearchSpace = plan.space
    if not space.is_discrete or space.grid_size() > _MAX_ENUMERATED:
        return None
    if not plan.constraints:  # every combination valid: only the keys are wanted
        keys = list(map(repr, space.grid_keys()))
        return GridList(bytearray(b"\x01") * len(keys), keys)
    broken = plan.broken
    valid, keys = bytearray(), []
    for params, key in space.keyed_grid():
        ok = broken(params) is None
        valid.append(ok)
        if ok:
            keys.append(repr(key))
    return GridList(valid, keys)


def restore_normalizer(study: optuna.Study, plan: SearchPlan) -> None:
    """Give the objective the normalizer state an earlier run saved on the study."""
    state = study.user_attrs.get(ATTR_NORMALIZER)
    if state is not None:
        plan.objective.load_state(state)


def save_normalizer(study: optuna.Study, plan: SearchPlan) -> None:
    """Save the objective's normalizer state on the study (a killed run keeps its bounds)."""
    state = plan.objective.state_dict()
    if state:
        study.set_user_attr(ATTR_NORMALIZER, state)

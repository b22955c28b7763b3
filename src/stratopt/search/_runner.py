"""The trial loop: ask a batch, evaluate it, tell it in order.

One controller owns the Optuna study. Candidates are asked in batches of a fixed size
(`search.batch`, not `jobs`), evaluated together (in parallel where the evaluator
can), then told in the order they were asked — so the same study file and seed give
the same candidates and the same results whatever `jobs` is.

Trial states: COMPLETE (counted towards `trials`), PRUNED (a constraint or a
requirement failed, too few trades, or a duplicate of an earlier candidate; the reason
is in the `pruned` user attribute) and FAIL (an error, a NaN objective or a timeout;
in `error`; or its process died: no heartbeat within the grace period). Every trial keeps
its params and, when it ran, all metrics.

This loop is the single-process path (`optimize`): deterministic, one process per study.
Several processes sharing a study go through `_worker.work`.
"""

from __future__ import annotations

import datetime
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.study._tell import _tell_with_warning
from optuna.trial import FrozenTrial, TrialState

from stratopt.evaluation import Evaluator, Outcome
from stratopt.search._constraints import Constraint
from stratopt.search._heartbeat import Heartbeats, ask, fail_stale
from stratopt.search._objective import Objective
from stratopt.search._requirements import Requirements
from stratopt.search._samplers import SAMPLERS, SamplerOptions, make_sampler
from stratopt.search._space import SearchSpace
from stratopt.storage._bulk import HandedTrial, add_trials, bulk_written

__all__ = ["ATTR", "Progress", "RunOptions", "RunResult", "record", "run_trials", "sampler_for"]

log = logging.getLogger("stratopt.search")

# Everything stratopt records on a trial lives in one user attribute (one storage write
# per trial): {"metrics", "components", "violations", "error", "pruned", "runtime_s",
# "per_symbol", "key", "shortfall"}.
ATTR = "stratopt"
ATTR_NORMALIZER = "stratopt:normalizer"


@dataclass(frozen=True)
class RunOptions:
    """What to run and when to stop."""

    method: str
    trials: int
    seed: int = 0
    batch: int | None = None
    max_attempts: int | None = None
    time_budget: float | None = None
    retries: int = 0
    startup_trials: int | None = None
    ei_candidates: int | None = None
    population: int | None = None


@dataclass
class Progress:
    """Counts the CLI shows while a study runs."""

    target: int
    complete: int = 0
    pruned: int = 0
    failed: int = 0
    attempts: int = 0
    best: float | None = None
    direction: str | None = None  # None: several objectives, no single "best"
    started: float = field(default_factory=time.monotonic)

    def consider(self, values: Sequence[float]) -> None:
        """Update `best` with the values of a completed trial."""
        if self.direction is None:
            return
        v = values[0]
        if self.best is None or (v > self.best if self.direction == "maximize" else v < self.best):
            self.best = v


@dataclass
class RunResult:
    """What one invocation did."""

    study: optuna.Study
    progress: Progress
    stopped_by: str
    seconds: float


def run_trials(
    study: optuna.Study,
    *,
    space: SearchSpace,
    constraints: Sequence[Constraint],
    objective: Objective,
    requirements: Requirements,
    evaluator: Evaluator,
    options: RunOptions,
    fixed: Mapping[str, Any] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> RunResult:
    """Run trials until `options.trials` are COMPLETE in `study` (earlier runs count).

    `fixed` holds the study's fixed parameters, which constraints may also read.
    """
    holds = _constraint_check(constraints, fixed or {})
    # Trials a killed run left RUNNING: FAIL once their heartbeat is older than the grace
    # period, their params queued once (WAITING) for `study.ask` to hand out again.
    fail_stale(study)
    _restore_normalizer(study, objective)
    trials = study.get_trials(deepcopy=False)
    seen = {record(t).get("key") for t in trials if t.state not in _NOT_HELD}
    valid = _valid_keys(space, holds)
    progress = Progress(target=options.trials)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if options.method == "grid" and valid is not None:
        # Trials of an earlier, different grid in the same study do not count.
        complete = [t for t in complete if record(t).get("key") in valid]
    progress.complete = len(complete)
    progress.direction = None if objective.is_multi else objective.directions[0]
    for t in complete:
        if t.values:
            progress.consider(t.values)
    batch_size = options.batch or SAMPLERS[options.method].default_batch
    max_attempts = options.max_attempts or max(10 * options.trials, options.trials + 1000)
    grid = _grid_queue(space, holds, seen) if options.method == "grid" else None
    # Random candidates drawn without a trial, to be written in bulk.
    bulk = options.method == "random" and bulk_written(study)
    sample = _independent_sample(study) if bulk else None
    deadline = time.monotonic() + options.time_budget if options.time_budget else math.inf
    stopped_by = "target"
    while progress.complete < options.trials:
        if progress.attempts >= max_attempts:
            stopped_by = "max_attempts"
            break
        if time.monotonic() >= deadline:
            stopped_by = "time_budget"
            break
        want = min(batch_size, options.trials - progress.complete, max_attempts - progress.attempts)
        if valid is not None and valid <= seen:
            stopped_by = "space exhausted"
            break
        asked = _ask(study, space, grid, want, sample=None if _waiting(study) else sample)
        if not asked:
            stopped_by = "space exhausted"
            break
        _run_batch(study, space, asked, seen, holds, objective, requirements, evaluator,
                   options, progress)  # fmt: skip
        _save_normalizer(study, objective)  # every batch: a killed run keeps its bounds
        fail_stale(study)  # orphans past the grace period: their retries are asked next
        if on_progress is not None:
            on_progress(progress)
    return RunResult(study, progress, stopped_by, time.monotonic() - progress.started)


# States whose key may still be run (again): failed, or queued for a retry.
_NOT_HELD = (TrialState.FAIL, TrialState.WAITING)

Pending = Union[optuna.Trial, "BatchTrial"]


@dataclass(frozen=True)
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
    are numbered as `study.ask()` numbers them.
    """

    params: dict[str, Any]
    distributions: dict[str, Any]
    finished: dict[int, FrozenTrial]
    started: datetime.datetime
    slot: int


def _ask(
    study: optuna.Study,
    space: SearchSpace,
    grid: Iterator[dict[str, Any]] | None,
    want: int,
    *,
    sample: Callable[[str, BaseDistribution], Any] | None = None,
) -> list[tuple[Pending, dict[str, Any]]]:
    """`want` candidates: the grid's next, drawn with `sample` (random, written in bulk), or
    Optuna trials."""
    asked: list[tuple[Pending, dict[str, Any]]] = []
    distributions = space.distributions() if grid is not None or sample is not None else {}
    finished: dict[int, FrozenTrial] = {}
    for _ in range(want):
        if grid is not None:
            params = next(grid, None)
            if params is None:
                break
        elif sample is not None:
            params = space.draw(sample)
        else:
            trial = ask(study)
            asked.append((trial, space.suggest(trial)))
            continue
        now = datetime.datetime.now()
        asked.append((BatchTrial(params, distributions, finished, now, len(asked)), params))
    return asked


def _independent_sample(study: optuna.Study) -> Callable[[str, BaseDistribution], Any]:
    """Draws from the study's sampler as `Trial.suggest_*` would, without a trial.

    Only for samplers whose draws ignore the study's history (RandomSampler): the same
    calls in the same order as through `study.ask()`, so the same candidates.
    """
    sampler = study.sampler
    blank = FrozenTrial(
        number=-1,
        state=TrialState.RUNNING,
        value=None,
        datetime_start=None,
        datetime_complete=None,
        params={},
        distributions={},
        user_attrs={},
        system_attrs={},
        intermediate_values={},
        trial_id=-1,
    )

    def sample(name: str, dist: BaseDistribution) -> Any:
        if dist.single():  # Optuna does not ask the sampler either
            return dist.choices[0] if isinstance(dist, CategoricalDistribution) else dist.low  # type: ignore[attr-defined]
        value = sampler.sample_independent(study, blank, name, dist)
        dist.to_internal_repr(value)  # Optuna's check of a drawn value (NaN raises)
        return value

    return sample


def _waiting(study: optuna.Study) -> bool:
    """Whether trials are queued (a user's `enqueue_trial`, a dead worker's retry).

    `study.ask()` hands those out first, so a batch with any goes through it.
    """
    return bool(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))


Check = Callable[[Mapping[str, Any]], str | None]

DUPLICATE = "duplicate of an earlier candidate"

_MAX_ENUMERATED = 200_000


def _valid_keys(space: SearchSpace, holds: Check) -> set[str] | None:
    """Keys of every valid combination of a discrete space (None if too large)."""
    if not space.is_discrete or space.grid_size() > _MAX_ENUMERATED:
        return None
    return {repr(space.key(p)) for p in space.grid() if holds(p) is None}


def _constraint_check(constraints: Sequence[Constraint], fixed: Mapping[str, Any]) -> Check:
    """A function giving the first constraint `params` break (with `fixed`), or None."""

    def broken(params: Mapping[str, Any]) -> str | None:
        merged = {**fixed, **params}
        for c in constraints:
            if not c.holds(merged):
                return c.text
        return None

    return broken


def _grid_queue(space: SearchSpace, holds: Check, seen: set[Any]) -> Iterator[dict[str, Any]]:
    for params in space.grid():
        if repr(space.key(params)) not in seen and holds(params) is None:
            yield params


def _run_batch(
    study: optuna.Study,
    space: SearchSpace,
    asked: list[tuple[Pending, dict[str, Any]]],
    seen: set[Any],
    holds: Check,
    objective: Objective,
    requirements: Requirements,
    evaluator: Evaluator,
    options: RunOptions,
    progress: Progress,
) -> None:
    runnable: list[tuple[Pending, dict[str, Any], str]] = []
    for trial, params in asked:
        progress.attempts += 1
        key = repr(space.key(params))
        broken = holds(params)
        if broken is not None:
            _prune(study, trial, {"key": key}, f"constraint: {broken}", progress)
        elif key in seen:
            _prune(study, trial, {"key": key, "dup": True}, DUPLICATE, progress)
        else:
            seen.add(key)
            runnable.append((trial, params, key))
    running = [t._trial_id for t, _, _ in runnable if isinstance(t, optuna.Trial)]
    with Heartbeats(study._storage, running):
        outcomes = _evaluate_with_retries(evaluator, [p for _, p, _ in runnable], options.retries)
    for (trial, _, key), outcome in zip(runnable, outcomes, strict=True):
        if not _tell(study, trial, key, outcome, objective, requirements, progress):
            seen.discard(key)  # a failed candidate may be tried again, as after a restart
    batch = [t for t, _ in asked if isinstance(t, BatchTrial)]
    if batch:
        # One transaction for the batch: about 10 ms a trial less on SQLite.
        finished = batch[0].finished
        add_trials(study, [finished[slot] for slot in sorted(finished)])


def _evaluate_with_retries(
    evaluator: Evaluator, params: list[dict[str, Any]], retries: int
) -> list[Outcome]:
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


def _tell(
    study: optuna.Study,
    trial: Pending,
    key: str,
    outcome: Outcome,
    objective: Objective,
    requirements: Requirements,
    progress: Progress,
) -> bool:
    """Finish the trial; False when it FAILED."""
    rec: dict[str, Any] = {"key": key, "runtime_s": outcome.runtime}
    if len(outcome.per_symbol) > 1:
        rec["per_symbol"] = _jsonable(outcome.per_symbol)
    if outcome.error is not None or outcome.metrics is None:
        _fail(study, trial, rec, outcome.error or "no metrics", progress)
        return False
    metrics = outcome.metrics
    rec["metrics"] = _jsonable(metrics)
    verdict = requirements.check(metrics)
    rec["shortfall"] = float(verdict.shortfall)
    if verdict.violations:
        rec["violations"] = list(verdict.violations)
    values = objective.values(metrics)
    if values.components:
        rec["components"] = _jsonable(values.components)
    if values.values is None:
        reason = values.reason or "not a finite number"
        _fail(study, trial, rec, f"objective {objective.describe()}: {reason}", progress)
        return False
    if not verdict.feasible:
        _prune(study, trial, rec, "requirements: " + "; ".join(verdict.violations), progress)
    elif _told(study, trial, rec, list(values.values)):
        objective.observe(metrics)
        progress.complete += 1
        progress.consider(values.values)
    return True


def _fail(
    study: optuna.Study, trial: Pending, rec: dict[str, Any], error: str, progress: Progress
) -> None:
    _told(study, trial, {**rec, "error": error}, state=TrialState.FAIL)
    progress.failed += 1


def _prune(
    study: optuna.Study, trial: Pending, rec: dict[str, Any], reason: str, progress: Progress
) -> None:
    _told(study, trial, {**rec, "pruned": reason}, state=TrialState.PRUNED)
    progress.pruned += 1


def _told(
    study: optuna.Study,
    trial: Pending,
    rec: dict[str, Any],
    values: list[float] | None = None,
    state: TrialState | None = None,
) -> bool:
    """Record `rec` on the trial and finish it (False: it was already finished)."""
    if isinstance(trial, BatchTrial):
        # Not `create_trial`: it compares every distribution with a converted copy (old
        # distribution classes), 0.5 ms a trial with a 50-value list. The trial is
        # validated when written; it is dropped with its batch then, so it is handed over.
        trial.finished[trial.slot] = HandedTrial(
            number=-1,
            state=state or TrialState.COMPLETE,
            value=None,
            values=values,
            datetime_start=trial.started,
            datetime_complete=datetime.datetime.now(),
            params=trial.params,
            distributions=trial.distributions,
            user_attrs={ATTR: rec},
            system_attrs={},
            intermediate_values={},
            trial_id=-1,
        )
        return True
    try:
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


def record(trial: FrozenTrial) -> dict[str, Any]:
    """What stratopt recorded on `trial` (empty for trials it did not run)."""
    rec = trial.user_attrs.get(ATTR)
    return rec if isinstance(rec, dict) else {}


def _restore_normalizer(study: optuna.Study, objective: Objective) -> None:
    state = study.user_attrs.get(ATTR_NORMALIZER)
    if state is not None:
        objective.load_state(state)


def _save_normalizer(study: optuna.Study, objective: Objective) -> None:
    state = objective.state_dict()
    if state:
        study.set_user_attr(ATTR_NORMALIZER, state)


def _jsonable(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        if type(v) is float:  # metrics: checked first, as the Mapping ABC check is slow
            # JSON has no NaN/inf; "nan", "inf", "-inf" read back with float()
            out[k] = v if math.isfinite(v) else str(v)
        elif isinstance(v, Mapping):
            out[k] = _jsonable(v)
        elif isinstance(v, float) and not math.isfinite(v):
            out[k] = str(v)
        else:
            out[k] = v
    return out


def sampler_for(
    options: RunOptions, objective: Objective, *, earlier_trials: int = 0
) -> optuna.samplers.BaseSampler:
    """The sampler of a run.

    A resumed run is seeded with `seed + earlier_trials`: still deterministic, but a
    random sampler does not replay the draws the earlier run already made.
    """
    return make_sampler(
        options.method,
        SamplerOptions(
            seed=options.seed + earlier_trials,
            startup_trials=options.startup_trials,
            ei_candidates=options.ei_candidates,
            population=options.population,
        ),
        n_objectives=len(objective.directions),
    )

"""The trial loop: ask a batch, evaluate it, tell it in order.

One controller owns the Optuna study. Candidates are asked in batches of a fixed size
(`search.batch`, not `jobs`), evaluated together (in parallel where the evaluator
can), then told in the order they were asked — so the same study file and seed give
the same candidates and the same results whatever `jobs` is. How each trial is told
(COMPLETE, PRUNED, FAIL and its record) is `stratopt.search._tell`.

This loop is the single-process path (`optimize`): deterministic, one process per study.
Several processes sharing a study go through `_worker.work`.
"""

from __future__ import annotations

import datetime
import itertools
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.storages import InMemoryStorage
from optuna.trial import FrozenTrial, TrialState

from stratopt._gc import freeze_survivors
from stratopt.evaluation import Evaluator
from stratopt.search._first_errors import FirstErrors
from stratopt.search._heartbeat import Heartbeats, ask, fail_stale
from stratopt.search._plan import SearchPlan
from stratopt.search._progress import Progress, RunResult
from stratopt.search._space import SearchSpace
from stratopt.search._tell import (
    DUPLICATE,
    BatchTrial,
    GridList,
    Pending,
    evaluate_with_retries,
    grid_candidates,
    prune,
    restore_normalizer,
    save_normalizer,
    valid_keys,
)
from stratopt.search._tell_batch import tell_all
from stratopt.storage import MetricRows, add_trials, bulk_written, record

__all__ = ["run_search", "run_trials"]

# Trials told between two `freeze_survivors` (each costs a young collection, ~0.3 ms).
_FREEZE_EVERY = 1000

# States whose key may still be run (again): failed, or queued for a retry.
_NOT_HELD = (TrialState.FAIL, TrialState.WAITING)


def run_search(
    study: optuna.Study,
    plan: SearchPlan,
    evaluator: Evaluator,
    *,
    on_progress: Callable[[Progress], None] | None = None,
) -> RunResult:
    """Give `study` the plan's sampler, then `run_trials`.

    A resumed run is seeded with `seed + earlier trials`: still deterministic, but a
    random sampler does not replay the draws the earlier run already made.
    """
    earlier = len(study.get_trials(deepcopy=False))
    study.sampler = plan.sampler(seed=plan.settings.seed + earlier)
    return run_trials(study, plan, evaluator, on_progress=on_progress)


def run_trials(
    study: optuna.Study,
    plan: SearchPlan,
    evaluator: Evaluator,
    *,
    on_progress: Callable[[Progress], None] | None = None,
) -> RunResult:
    """Run trials until `plan.target` are COMPLETE in `study` (earlier runs count).

    Stops earlier at `search.max_attempts` (default: 10 x the target, at least the
    target + 1000), at `search.time_budget`, or when nothing is left to try.
    """
    # Trials a killed run left RUNNING: FAIL once their heartbeat is older than the grace
    # period, their params queued once (WAITING) for `study.ask` to hand out again.
    fail_stale(study)
    restore_normalizer(study, plan)
    loop = _Loop.start(study, plan, evaluator)
    stopped_by: str | None = None
    unfrozen = 0
    while loop.progress.complete < plan.target:
        stopped_by = loop.stop_reason()
        if stopped_by:
            break
        asked = loop.ask()
        if not asked:
            stopped_by = "space exhausted"
            break
        loop.run_batch(asked)
        save_normalizer(study, plan)  # every batch: a killed run keeps its bounds
        unfrozen += len(asked)
        if unfrozen >= _FREEZE_EVERY:  # the trials told stay: out of the collector's way
            freeze_survivors()
            unfrozen = 0
        fail_stale(study)  # orphans past the grace period: their retries are asked next
        if on_progress is not None:
            on_progress(loop.progress)
    return RunResult(study, loop.progress, stopped_by or "target", loop.progress.elapsed, loop.rows)


@dataclass
class _Loop:
    """The state of one `run_trials`: what was seen, what is left, the counts."""

    study: optuna.Study
    plan: SearchPlan
    evaluator: Evaluator
    progress: Progress
    seen: set[Any]
    valid: set[str] | None
    max_attempts: int
    deadline: float
    grid: Iterator[tuple[dict[str, Any], str]] | None = None
    sample: Callable[[str, BaseDistribution], Any] | None = None
    batch_size: int = field(default=1)
    first_errors: FirstErrors = field(default_factory=FirstErrors)
    rows: MetricRows | None = None  # an in-memory study's metrics, by the evaluator's rows

    @classmethod
    def start(cls, study: optuna.Study, plan: SearchPlan, evaluator: Evaluator) -> _Loop:
        trials = study.get_trials(deepcopy=False)
        # A grid small enough to list is listed once: its valid keys, and its queue.
        listed = grid_candidates(plan) if plan.method == "grid" else None
        valid = set(listed.keys) if listed is not None else valid_keys(plan)
        progress = Progress(target=plan.target)
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        if plan.method == "grid" and valid is not None:
            # Trials of an earlier, different grid in the same study do not count.
            complete = [t for t in complete if record(t).get("key") in valid]
        progress.complete = len(complete)
        progress.direction = None if plan.objective.is_multi else plan.objective.directions[0]
        for t in complete:
            if t.values:
                progress.consider(t.values)
        settings = plan.settings
        target = plan.target
        loop = cls(
            study, plan, evaluator, progress,
            seen={record(t).get("key") for t in trials if t.state not in _NOT_HELD},
            valid=valid,
            max_attempts=settings.max_attempts or max(10 * target, target + 1000),
            deadline=time.monotonic() + settings.time_budget if settings.time_budget else math.inf,
            batch_size=settings.batch or plan.default_batch,
            first_errors=FirstErrors.of(trials),
        )  # fmt: skip
        loop.grid = _grid_queue(plan, loop.seen, listed) if plan.method == "grid" else None
        if isinstance(study._storage, InMemoryStorage):  # its records stay these objects
            loop.rows = MetricRows()
        # Random candidates drawn without a trial, to be written in bulk.
        if plan.method == "random" and bulk_written(study):
            loop.sample = _independent_sample(study)
        return loop

    def stop_reason(self) -> str | None:
        """Why the loop stops before asking more (None: it goes on)."""
        if self.progress.attempts >= self.max_attempts:
            return "max_attempts"
        if time.monotonic() >= self.deadline:
            return "time_budget"
        if self.valid is not None and self.valid <= self.seen:
            return "space exhausted"
        return self.first_errors.stop_reason()

    def ask(self) -> list[tuple[Pending, dict[str, Any]]]:
        p = self.progress
        want = min(self.batch_size, self.plan.target - p.complete, self.max_attempts - p.attempts)
        sample = None if _waiting(self.study) else self.sample
        return _ask(self.study, self.plan.space, self.grid, want, sample=sample)

    def run_batch(self, asked: list[tuple[Pending, dict[str, Any]]]) -> None:
        """Prune what breaks a constraint or repeats a key; evaluate and tell the rest."""
        study, plan, progress = self.study, self.plan, self.progress
        space = plan.space
        runnable: list[tuple[Pending, dict[str, Any], str]] = []
        for trial, params in asked:
            progress.attempts += 1
            # plan.key, inline: once per candidate (a grid's queue knows its keys, valid)
            key = trial.key if isinstance(trial, BatchTrial) else None
            broken = None
            if key is None:
                key = repr(space.key(params))
                broken = plan.broken(params)
            if broken is not None:
                prune(study, trial, {"key": key}, f"constraint: {broken}", progress)
            elif key in self.seen:
                prune(study, trial, {"key": key, "dup": True}, DUPLICATE, progress)
            else:
                self.seen.add(key)
                runnable.append((trial, params, key))
        running = [t._trial_id for t, _, _ in runnable if isinstance(t, optuna.Trial)]
        with Heartbeats(study._storage, running):
            outcomes = evaluate_with_retries(
                self.evaluator, [p for _, p, _ in runnable], plan.settings.retries
            )
        told = tell_all(study, runnable, outcomes, plan=plan, progress=progress, rows=self.rows)
        if not all(told):
            for (_, _, key), ok in zip(runnable, told, strict=True):
                if not ok:  # a failed candidate may be tried again, as after a restart
                    self.seen.discard(key)
        self.first_errors.note_all(o.error for o in outcomes)
        batch = [t for t, _ in asked if isinstance(t, BatchTrial)]
        if batch:
            # One transaction for the batch: about 10 ms a trial less on SQLite.
            finished = batch[0].finished
            add_trials(study, [finished[slot] for slot in sorted(finished)])


def _ask(
    study: optuna.Study,
    space: SearchSpace,
    grid: Iterator[tuple[dict[str, Any], str]] | None,
    want: int,
    *,
    sample: Callable[[str, BaseDistribution], Any] | None = None,
) -> list[tuple[Pending, dict[str, Any]]]:
    """`want` candidates: the grid's next, drawn with `sample` (random, written in bulk), or
    Optuna trials."""
    asked: list[tuple[Pending, dict[str, Any]]] = []
    distributions = space.distributions() if grid is not None or sample is not None else {}
    finished: dict[int, FrozenTrial] = {}
    if grid is not None:  # the grid's next `want`, each a trial of the batch
        clock = datetime.datetime.now
        for slot, (params, key) in enumerate(itertools.islice(grid, max(want, 0))):
            asked.append((BatchTrial(params, distributions, finished, clock(), slot, key), params))
        return asked
    for _ in range(want):
        if sample is not None:
            params = space.draw(sample)
        else:
            trial = ask(study)
            asked.append((trial, space.suggest(trial)))
            continue
        now = datetime.datetime.now()
        batch_trial = BatchTrial(params, distributions, finished, now, len(asked))
        asked.append((batch_trial, params))
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


def _grid_queue(
    plan: SearchPlan, seen: set[Any], listed: GridList | None
) -> Iterator[tuple[dict[str, Any], str]]:
    """The grid's candidates not yet seen (looked up as each is taken), with their keys."""
    if listed is not None:
        for params, key in listed.candidates(plan.space):
            if key not in seen:
                yield params, key
        return
    space = plan.space
    for params in space.grid():
        key = repr(space.key(params))
        if key not in seen and plan.broken(params) is None:
            yield params, key

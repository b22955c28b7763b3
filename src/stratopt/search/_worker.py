"""The worker loop: many processes, on one machine or many, sharing one study.

Each worker repeatedly claims a few trials, checks its claims against the study,
evaluates the ones it keeps (recording Optuna heartbeats meanwhile) and tells them.
It stops when the study, counting every worker's trials, has `trials` COMPLETE.

Claims are RUNNING trials, and the storage numbers trials one at a time (Optuna locks
the study row while it creates a trial), so every claim sees all lower-numbered trials.
A claim is kept only if

* no lower-numbered trial *holds* its parameters (RUNNING, WAITING, COMPLETE, or PRUNED
  for a reason of its own: a constraint or the requirements),
* fewer than `trials` lower-numbered trials are *live* (RUNNING, WAITING or COMPLETE),
* and it wins its key in the storage (`stratopt.storage.claim_keys`: one transaction
  under the study's lock marks it only if no other trial that has not failed holds it).

Otherwise it is PRUNED without running ("duplicate of an earlier candidate", "the
target is already claimed") and holds nothing. The first two read the study as this
worker last saw it; the third makes it exact: `study.ask()` creates a trial before its
sampler draws the params, so another worker drawing the same point at the same moment
cannot be seen, only outrun. So no point is run to completion twice, and the study never
gets more than `trials` COMPLETE trials: if one had, its highest-numbered COMPLETE
trial would have seen all the others live when it was claimed.

Grid: a worker first takes queued retries off Optuna's queue with the storage's
compare-and-set (WAITING → RUNNING: only one worker can win a trial), then claims
combinations nobody holds as new RUNNING trials, params and key written in the trial's
own creating transaction. Workers walk the grid from different offsets, so two rarely
claim one combination at once. Other methods: `study.ask()`, which also takes WAITING
trials first. A worker that dies leaves RUNNING trials whose heartbeats stop; a live
worker's `fail_stale_trials` marks them FAIL and Optuna's retry callback queues their
parameters once (WAITING), which the next claim picks up.

Random and TPE workers each sample with their own seed (the study seed plus a hash of
the worker id), so a shared study is not reproducible run to run; one process
(`optimize`) is.
"""

from __future__ import annotations

import bisect
import logging
import math
import os
import random
import socket
import time
import zlib
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from stratopt.evaluation import Evaluator
from stratopt.search._first_errors import FirstErrors
from stratopt.search._heartbeat import Heartbeats, ask, fail_stale
from stratopt.search._objective import Objective
from stratopt.search._plan import SearchPlan
from stratopt.search._progress import Progress, RunResult
from stratopt.search._space import SearchSpace
from stratopt.search._tell import (
    DUPLICATE,
    evaluate_with_retries,
    prune,
    save_normalizer,
    tell,
    valid_keys,
)
from stratopt.storage import (
    ATTR,
    claim_keys,
    create_claim,
    forget_finished,
    record,
    resilient_backend,
    return_trials,
)

__all__ = ["OVER_TARGET", "WorkerOptions", "default_worker_id", "work", "worker_seed"]

log = logging.getLogger("stratopt.search")

OVER_TARGET = "the target is already claimed by other trials"

# Claims per round when the study file sets no `search.batch`: small, so workers share
# the last trials of a study and a dead worker orphans few.
WORKER_BATCH = 8

# Methods whose sampler never looks at earlier trials (a grid's fills the gaps at
# random): their worker lets Optuna's trial cache forget each finished trial once it is
# folded into the ledger, so its memory stays flat however long it runs.
_NO_HISTORY = frozenset({"grid", "random"})


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_seed(seed: int, worker_id: str) -> int:
    """The sampler seed of one worker: the study seed moved by a stable hash of its id."""
    return (seed + zlib.crc32(worker_id.encode())) % (2**31)


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker shares the study."""

    worker_id: str = field(default_factory=default_worker_id)
    poll: float = 1.0  # seconds between looks at the study while others finish


def work(
    study: optuna.Study,
    plan: SearchPlan,
    evaluator: Evaluator,
    *,
    worker: WorkerOptions | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> RunResult:
    """Work on `study` until it has `plan.target` COMPLETE trials (all workers counted).

    The study gets the plan's sampler seeded for this worker (`worker_seed`). Also stops
    at this worker's `max_attempts` or `time_budget`, or when nothing is left to try (a
    discrete space whose every valid combination is held). Interrupted (a signal, an
    error, the storage given up on), it puts the trials it claimed and did not finish
    back in the queue before the exception goes on, so nobody waits out their grace.
    """
    wopts = worker or WorkerOptions()
    study.sampler = plan.sampler(seed=worker_seed(plan.settings.seed, wopts.worker_id))
    valid = valid_keys(plan)
    ledger = _Ledger(study, plan.space, plan.objective, valid if plan.method == "grid" else None)
    ledger.forget = plan.method in _NO_HISTORY
    progress = Progress(target=plan.target)
    progress.direction = None if plan.objective.is_multi else plan.objective.directions[0]
    grid = _GridKeys(plan, wopts.worker_id) if plan.method == "grid" else None
    state = _State(ledger, progress, grid, valid)
    try:
        stopped_by = _loop(study, plan, evaluator, state, wopts, on_progress)
    except BaseException:
        _give_back(study, state.claims)
        raise
    _look(study, ledger, progress, on_progress, fail=False)
    if ledger.forgot:  # this study object no longer lists every trial: a fresh one does
        study = optuna.load_study(study_name=study.study_name, storage=_backend(study),
                                  sampler=study.sampler)  # fmt: skip
    return RunResult(study, progress, stopped_by, progress.elapsed)


def _backend(study: optuna.Study) -> Any:
    return resilient_backend(study._storage) or study._storage


def _loop(
    study: optuna.Study,
    plan: SearchPlan,
    evaluator: Evaluator,
    state: _State,
    wopts: WorkerOptions,
    on_progress: Callable[[Progress], None] | None,
) -> str:
    """Claim, check, evaluate and tell until the study or this worker is done; why."""
    ledger, progress, grid, claims = state.ledger, state.progress, state.grid, state.claims
    limits = _Limits.of(plan)
    run = _Batch(study, plan, evaluator, ledger, FirstErrors.of(study.get_trials(deepcopy=False)))
    waiting = _Waiting(study)
    while True:
        _look(study, ledger, progress, on_progress)
        if ledger.complete >= plan.target:
            _settle_queue(study, ledger, progress, claims)
            return "target"
        stopped_by = limits.reached(progress) or run.first_errors.stop_reason() or ""
        if stopped_by:
            return stopped_by
        room = plan.target - ledger.live
        # Queued retries count as live, so with the target fully claimed `room` is 0 and
        # only they are left to take: take them regardless, or nobody ever would.
        n_waiting = sum(t.state == TrialState.WAITING for t in ledger.unfinished)
        want = min(limits.batch, max(room, n_waiting), limits.attempts - progress.attempts)
        if not ledger.unfinished and _nothing_left(ledger, state.valid, grid, want):
            return "space exhausted"  # before `study.ask()`, which would claim a held point
        claims.clear()
        claimed = _claim(study, plan.space, grid, ledger, want, room, claims) if want > 0 else []
        if not claimed:
            waiting.say(ledger)  # never silently: what it waits for, and how long at most
            time.sleep(wopts.poll)  # others hold the rest: wait for them (or their retries)
            continue
        waiting.done()
        run.run(claimed, progress)
        claims.clear()
        save_normalizer(study, plan)


@dataclass
class _State:
    """One worker's view of the study, and the trials it claimed and has not finished."""

    ledger: _Ledger
    progress: Progress
    grid: _GridKeys | None
    valid: set[str] | None
    claims: list[int] = field(default_factory=list)


def _give_back(study: optuna.Study, claims: list[int]) -> None:
    """Return this worker's unfinished claims to the queue (one try each), saying so."""
    if not claims:
        return
    returned, unreachable = return_trials(study._storage, claims)
    if returned:
        log.warning("stopping: %d claimed trial(s) returned to the study's queue", returned)
    if unreachable:
        log.warning(
            "stopping: %d claimed trial(s) left RUNNING (storage unreachable); they are "
            "retried once their heartbeat is older than the grace period",
            unreachable,
        )


class _Waiting:
    """Says, when a worker starts waiting on others' trials and every 30 s after, how many
    and how long at most: a trial whose worker is gone is taken over after the grace."""

    REPEAT = 30.0

    def __init__(self, study: optuna.Study) -> None:
        self.study = study
        self.last: float | None = None

    def done(self) -> None:
        self.last = None

    def say(self, ledger: _Ledger) -> None:
        now = time.monotonic()
        if self.last is not None and now - self.last < self.REPEAT:
            return
        self.last = now
        held = [t for t in ledger.unfinished if t.state == TrialState.RUNNING]
        backend = resilient_backend(self.study._storage)
        grace = backend.grace_seconds if backend is not None else None
        if backend is None or grace is None or not held:
            log.warning("waiting for %d trial(s) other workers hold", len(ledger.unfinished))
            return
        ages = backend.heartbeat_ages(self.study._study_id)
        youngest = min((ages.get(t._trial_id, 0.0) for t in held), default=0.0)
        log.warning(
            "waiting for %d trial(s) other workers are running; a trial without a heartbeat "
            "for %.0f s is taken over here (at most %.0f s from now if its worker is gone)",
            len(held),
            grace,
            max(0.0, grace - youngest),
        )


@dataclass(frozen=True)
class _Limits:
    """One worker's batch size and where it stops on its own."""

    batch: int
    attempts: int
    deadline: float

    @classmethod
    def of(cls, plan: SearchPlan) -> _Limits:
        s, target = plan.settings, plan.target
        return cls(
            batch=s.batch or min(plan.default_batch, WORKER_BATCH),
            attempts=s.max_attempts or max(10 * target, target + 1000),
            deadline=time.monotonic() + s.time_budget if s.time_budget else math.inf,
        )

    def reached(self, progress: Progress) -> str:
        """ "max_attempts" or "time_budget" when this worker must stop, else ""."""
        if progress.attempts >= self.attempts:
            return "max_attempts"
        if time.monotonic() >= self.deadline:
            return "time_budget"
        return ""


def _look(
    study: optuna.Study,
    ledger: _Ledger,
    progress: Progress,
    on_progress: Callable[[Progress], None] | None,
    *,
    fail: bool = True,
) -> None:
    """Fail orphans past their grace period, fold in the study, report the counts."""
    if fail:
        fail_stale(study)
    ledger.refresh()
    ledger.report(progress)
    if on_progress is not None:
        on_progress(progress)


def _nothing_left(
    ledger: _Ledger, valid: set[str] | None, grid: _GridKeys | None, want: int
) -> bool:
    if want <= 0 or valid is None:
        return False
    return all(k in ledger.finished_holders or k in ledger.failed_here for k in valid) and (
        grid is None or grid.exhausted(ledger)
    )


class _Ledger:
    """The study as this worker knows it, folded in incrementally.

    Finished trials never change, so each is folded in once (counts, best value, keys
    held, the normalizer's observations); only unfinished trials are looked at again.
    Optuna's cached RDB storage likewise re-reads only new and unfinished trials. With
    `forget` (a sampler that needs no history), each folded trial is dropped from that
    cache, and from `folded` and `observed`: it is never read again, so what is kept
    per trial is its number among the complete ones and the key it holds.
    """

    def __init__(
        self,
        study: optuna.Study,
        space: SearchSpace,
        objective: Objective,
        valid: set[str] | None,
    ) -> None:
        self.study = study
        self.space = space
        self.objective = objective
        self.valid = valid  # grid: only these keys count towards the target
        self.folded: set[int] = set()
        self.observed: set[int] = set()  # COMPLETE trials the normalizer has seen
        self.complete_numbers = array("q")  # sorted
        self.forget = False
        self.forgot = False  # some trials are no longer in the study's cache
        self.finished_holders: dict[str, int] = {}  # key -> lowest holding number
        self.failed_here: set[str] = set()  # keys that failed in this worker
        self.unfinished: list[FrozenTrial] = []
        self.pruned = 0
        self.failed = 0
        self.best: float | None = None
        self.direction = None if objective.is_multi else objective.directions[0]

    @property
    def complete(self) -> int:
        return len(self.complete_numbers)

    @property
    def live(self) -> int:
        return self.complete + sum(self.counts(t) for t in self.unfinished)

    def key(self, t: FrozenTrial) -> str | None:
        key = record(t).get("key")
        if key is None and all(n in t.params for n in self.space.names):
            key = repr(self.space.key(t.params))
        return key if isinstance(key, str) else None

    def counts(self, t: FrozenTrial) -> bool:
        """Does `t` count towards the target (grid: one of this grid's combinations)?"""
        return self.valid is None or self.key(t) in self.valid

    def refresh(self) -> None:
        self.unfinished = []
        new = []
        for t in self.study.get_trials(deepcopy=False):
            if not t.state.is_finished():
                self.unfinished.append(t)
            elif t.number not in self.folded:
                self._fold(t)
                new.append(t.number)
        if self.forget and new:
            dropped = forget_finished(self.study._storage, self.study._study_id, new)
            self.forgot = self.forgot or bool(dropped)
            self.folded.difference_update(dropped)
            self.observed.difference_update(dropped)

    def _fold(self, t: FrozenTrial) -> None:
        self.folded.add(t.number)
        rec = record(t)
        key = self.key(t)
        if t.state == TrialState.FAIL:
            self.failed += 1
            return
        if t.state == TrialState.PRUNED:
            self.pruned += 1
        if key is not None and not rec.get("dup"):
            self.finished_holders[key] = min(t.number, self.finished_holders.get(key, t.number))
        if t.state != TrialState.COMPLETE or not self.counts(t):
            return
        bisect.insort(self.complete_numbers, t.number)
        if t.number not in self.observed and "metrics" in rec:
            self.observed.add(t.number)
            self.objective.observe({k: float(v) for k, v in rec["metrics"].items()})
        if self.direction is not None and t.values:
            v = t.values[0]
            better = self.best is None or (
                v > self.best if self.direction == "maximize" else v < self.best
            )
            self.best = v if better else self.best

    def held_below(self, key: str, number: int, dropped: set[int]) -> bool:
        """Does a trial numbered below `number` hold `key`?"""
        if self.finished_holders.get(key, number) < number:
            return True
        return any(
            t.number < number and t.number not in dropped and self.key(t) == key
            for t in self.unfinished
        )

    def live_below(self, number: int, dropped: set[int]) -> int:
        n = bisect.bisect_left(self.complete_numbers, number)
        return n + sum(
            1
            for t in self.unfinished
            if t.number < number and t.number not in dropped and self.counts(t)
        )

    def report(self, progress: Progress) -> None:
        progress.complete = self.complete
        progress.best = self.best


class _GridKeys:
    """This grid's valid combinations; each worker draws free ones at random.

    Walking the grid in order, a worker that runs out of its own region would claim
    exactly the combinations another worker is claiming next; drawing at random (a
    per-worker seed) makes two claims of one combination at once rare (a clash costs one
    pruned claim, nothing more).
    """

    def __init__(self, plan: SearchPlan, worker_id: str) -> None:
        self.combos = [p for p in plan.space.grid() if plan.broken(p) is None]
        self.keys = [plan.key(p) for p in self.combos]
        self.rng = random.Random(zlib.crc32(worker_id.encode()))

    def free(self, ledger: _Ledger, want: int) -> list[tuple[str, dict[str, Any]]]:
        if want <= 0:
            return []
        held = {ledger.key(t) for t in ledger.unfinished}
        free = [
            i
            for i, key in enumerate(self.keys)
            if key not in ledger.finished_holders
            and key not in ledger.failed_here
            and key not in held
        ]
        picked = self.rng.sample(free, min(want, len(free)))
        return [(self.keys[i], self.combos[i]) for i in sorted(picked)]

    def exhausted(self, ledger: _Ledger) -> bool:
        return not self.free(ledger, 1)


def _claim(
    study: optuna.Study,
    space: SearchSpace,
    grid: _GridKeys | None,
    ledger: _Ledger,
    want: int,
    room: int,
    claims: list[int],
) -> list[optuna.Trial]:
    """Up to `want` RUNNING trials of this worker (not yet checked against the study);
    each trial id is added to `claims` as soon as it is claimed.

    Grid: queued retries first (WAITING → RUNNING by the storage's compare-and-set,
    as Optuna's own queue does), then, while fewer than `room` are claimed, one new
    RUNNING trial per free combination, created with its params and key in one
    transaction. Other methods: `study.ask()` takes queued trials first too; a new
    trial beyond the room is pruned by the check.
    """
    claimed: list[optuna.Trial] = []
    if grid is None:
        for _ in range(want):
            claimed.append(ask(study))
            claims.append(claimed[-1]._trial_id)
        return claimed
    for t in ledger.unfinished:
        if len(claimed) >= want:
            return claimed
        if t.state == TrialState.WAITING and _take_queued(study, t, claims):
            claimed.append(optuna.Trial(study, t._trial_id))
    storage = study._storage
    distributions = space.distributions()
    for key, params in grid.free(ledger, min(want, room) - len(claimed)):
        template = optuna.trial.create_trial(
            state=TrialState.RUNNING,
            params=params,
            distributions=distributions,
            user_attrs={ATTR: {"key": key}},
        )
        trial_id = create_claim(storage, study._study_id, template)
        claims.append(trial_id)
        claimed.append(optuna.Trial(study, trial_id))
    return claimed


def _take_queued(study: optuna.Study, t: FrozenTrial, claims: list[int]) -> bool:
    """WAITING → RUNNING by the storage's compare-and-set; False if another took it."""
    try:
        won = study._storage.set_trial_state_values(t._trial_id, state=TrialState.RUNNING)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False
    if won:
        claims.append(t._trial_id)
    return bool(won)


def _settle_queue(
    study: optuna.Study, ledger: _Ledger, progress: Progress, claims: list[int]
) -> None:
    """At the target, prune what a claim would: queued duplicates and queued retries.
    (Failing an orphan and queuing its retry are two transactions: in between, another
    worker may take the freed slot and finish the study; the retry would wait for ever.)"""
    for t in ledger.unfinished:
        key = ledger.key(t)
        if t.state != TrialState.WAITING or key is None:
            continue
        held = key in ledger.finished_holders
        if not held and not ("failed_trial" in t.system_attrs and ledger.counts(t)):
            continue  # a point queued by hand, held by nothing: kept for the next run
        if _take_queued(study, t, claims):
            why = DUPLICATE if held else OVER_TARGET
            prune(study, optuna.Trial(study, t._trial_id), {"key": key, "dup": True}, why, progress)
            claims.remove(t._trial_id)


@dataclass
class _Batch:
    """Check claimed trials, evaluate the kept ones with heartbeats, tell them."""

    study: optuna.Study
    plan: SearchPlan
    evaluator: Evaluator
    ledger: _Ledger
    first_errors: FirstErrors

    def run(self, claimed: list[optuna.Trial], progress: Progress) -> None:
        storage = self.study._storage
        with Heartbeats(storage, [t._trial_id for t in claimed]):
            keep = self._check(claimed, progress)
            outcomes = evaluate_with_retries(
                self.evaluator, [p for _, p, _ in keep], self.plan.settings.retries
            )
            for (trial, _, key), outcome in zip(keep, outcomes, strict=True):
                self.ledger.observed.add(trial.number)  # `tell` observes it if it completes
                if not tell(self.study, trial, outcome, key=key, plan=self.plan,
                            progress=progress):  # fmt: skip
                    self.ledger.failed_here.add(key)
                self.first_errors.note(outcome.error)

    def _check(
        self, claimed: list[optuna.Trial], progress: Progress
    ) -> list[tuple[optuna.Trial, dict[str, Any], str]]:
        params: dict[int, dict[str, Any]] = {}
        for t in claimed:
            try:
                params[t.number] = self.plan.space.suggest(t)
            except optuna.exceptions.UpdateFinishedTrialError:
                log.warning("trial %d was failed as orphaned before it ran", t.number)
        self.ledger.refresh()  # every lower-numbered trial exists now
        dropped: set[int] = set()
        keep = []
        for trial in sorted(claimed, key=lambda t: t.number):
            if trial.number not in params:
                continue
            p = params[trial.number]
            progress.attempts += 1
            key = self.plan.key(p)
            broken = self.plan.broken(p)
            if broken is not None:
                prune(self.study, trial, {"key": key}, f"constraint: {broken}", progress)
            elif self.ledger.held_below(key, trial.number, dropped):
                dropped.add(trial.number)
                prune(self.study, trial, {"key": key, "dup": True}, DUPLICATE, progress)
            elif self.ledger.live_below(trial.number, dropped) >= self.plan.target:
                dropped.add(trial.number)
                prune(self.study, trial, {"key": key, "dup": True}, OVER_TARGET, progress)
            else:
                keep.append((trial, p, key))
        return self._won(keep, progress)

    def _won(
        self, keep: list[tuple[optuna.Trial, dict[str, Any], str]], progress: Progress
    ) -> list[tuple[optuna.Trial, dict[str, Any], str]]:
        """The claims whose key this worker wins in the storage; the others are PRUNED as
        duplicates. (Another worker may have drawn the same point and not yet written it
        when the study was read: `study.ask()` creates a trial before its params.)"""
        if not keep:
            return keep
        claims = {trial._trial_id: key for trial, _, key in keep}
        # Every trial below the first unfinished one was folded in: held_below saw it.
        since = min([t._trial_id for t in self.ledger.unfinished] + list(claims))
        won = claim_keys(self.study._storage, self.study._study_id, claims, since)
        for trial, _, key in keep:
            if trial._trial_id not in won:
                prune(self.study, trial, {"key": key, "dup": True}, DUPLICATE, progress)
        return [c for c in keep if c[0]._trial_id in won]

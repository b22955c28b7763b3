"""Heartbeats for trials run by ask-and-tell, and failing the trials that lost theirs.

Optuna records heartbeats only inside `study.optimize` (one thread per trial); stratopt
asks and tells in batches, so this thread records them, through the storage's own
`record_heartbeat`, for every trial of the batch being evaluated. `fail_stale` fails
the RUNNING trials past the grace period — an old heartbeat, or none seen for that
long (`stratopt.storage.ResilientStorage.stale_trials`) — with "no heartbeat for N s
(process killed?)" as their error, and at once those whose worker is known to have
ended ("... (its worker host:pid has ended)"; the claim records the owner),
and calls the storage's `RetryHeartbeatStaleTrialCallback`, which queues their
parameters (WAITING) once.
"""

from __future__ import annotations

import copy
import logging
import threading
import warnings
from collections.abc import Iterable
from types import TracebackType

import optuna
from optuna.storages import BaseStorage, fail_stale_trials
from optuna.storages._heartbeat import BaseHeartbeat, is_heartbeat_enabled

from stratopt.storage import resilient_backend

__all__ = ["Heartbeats", "ask", "fail_stale", "heartbeat_enabled", "orphan_message"]

log = logging.getLogger("stratopt.search")


def heartbeat_enabled(storage: BaseStorage) -> bool:
    return is_heartbeat_enabled(storage)


def orphan_message(seconds: float, ended: str | None = None) -> str:
    """The error recorded on a trial failed as orphaned (`ended`: its worker, host:pid,
    known to have ended on this machine)."""
    why = "process killed?" if ended is None else f"its worker {ended} has ended"
    return f"no heartbeat for {seconds:.0f} s ({why})"


def fail_stale(study: optuna.Study) -> list[int]:
    """Fail the study's trials whose worker stopped beating; their params are queued once.

    Returns the numbers of the trials this call failed.
    """
    storage = study._storage
    if not is_heartbeat_enabled(storage):
        return []  # checked here: entering catch_warnings per batch costs as much as a trial
    backend = resilient_backend(storage)
    if backend is None:  # a storage stratopt did not open: Optuna's own check
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            fail_stale_trials(study)
        return []
    callback = backend.get_heartbeat_stale_trial_callback()
    failed = []
    for trial_id, stale in backend.stale_trials(study._study_id).items():
        before = storage.get_trial(trial_id)  # as it was: the retry copies its attributes
        message = orphan_message(stale.seconds, stale.ended)
        if not backend.fail_orphan(trial_id, message):
            continue  # finished meanwhile, or another worker failed it first
        failed.append(before.number)
        log.warning("trial %d failed: %s", before.number, message)
        if callback is not None:
            callback(study, copy.deepcopy(before))
    return failed


def ask(study: optuna.Study) -> optuna.Trial:
    """`study.ask()`, without Optuna's warning that heartbeats belong to `optimize`.

    The warning is about Optuna's own heartbeat thread, which only `optimize` starts;
    stratopt records the heartbeats itself (`Heartbeats`).
    """
    if not is_heartbeat_enabled(study._storage):
        return study.ask()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed")
        return study.ask()


class Heartbeats:
    """A thread recording a heartbeat for each of `trial_ids` every interval.

    The first heartbeat is recorded before `__enter__` returns, so a trial is covered
    before its evaluation starts: recorded by the thread instead, it could still be
    waiting for SQLite's write lock when the process is killed, leaving a RUNNING trial
    without a heartbeat, which Optuna never finds stale. A heartbeat that cannot be written (the
    storage is briefly unreachable) is logged and tried again at the next interval.
    """

    def __init__(self, storage: BaseStorage, trial_ids: Iterable[int]) -> None:
        self._storage = storage if isinstance(storage, BaseHeartbeat) else None
        self._ids = list(trial_ids)
        self._interval: float | None = None
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeats:
        # Nothing is made unless there is something to beat for: with an in-memory storage
        # or a batch of pre-finished trials this runs once per trial of a near-free search.
        if self._storage is None or not self._ids:
            return self
        interval = self._storage.get_heartbeat_interval()
        if not interval:
            return self
        self._interval = float(interval)
        self._stop = threading.Event()
        self._beat(claim=True)
        self._thread = threading.Thread(target=self._run, name="stratopt-heartbeat", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        assert self._interval is not None and self._stop is not None
        while not self._stop.wait(self._interval):
            self._beat()

    def _beat(self, *, claim: bool = False) -> None:
        assert self._storage is not None
        backend = resilient_backend(self._storage) if claim else None
        if backend is not None:  # the first beat records this worker as the owner too
            try:
                backend.claim_beat(self._ids)
            except Exception as exc:  # the next beat may get through; the trials go on
                log.warning("heartbeat of %d trial(s) not recorded: %s", len(self._ids), exc)
            return
        for trial_id in self._ids:
            try:
                self._storage.record_heartbeat(trial_id)
            except Exception as exc:  # the next beat may get through; the trial goes on
                log.warning("heartbeat of trial id %d not recorded: %s", trial_id, exc)

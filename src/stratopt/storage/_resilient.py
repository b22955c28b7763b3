"""The RDB storage stratopt opens: retried through outages, and strict about orphans.

`ResilientStorage` is Optuna's `RDBStorage` (or stratopt's faster-reading subclass) with

* every storage operation retried through a database outage (`stratopt.storage._retry`);
  a heartbeat is tried once (the next one comes an interval later);
* orphans found without a heartbeat too: Optuna judges a RUNNING trial only by its
  last heartbeat, so a worker killed between claiming a trial and recording its first
  heartbeat left a trial nobody ever failed. A RUNNING trial this process has seen
  without a heartbeat for longer than the grace period is stale as well. (Timed by
  this process's own clock: trial start times are written by each worker's clock.)
* after an outage, no trial is judged stale until its worker has had two heartbeat
  intervals to record one again;
* a claimed trial is owned from the start: the transaction that claims it (`ask`
  creating one, a worker's `create_claim`, or taking a WAITING one from the queue)
  records its first heartbeat and this process as its owner (`stratopt.storage._owner`),
  so a worker that loses the database right after claiming leaves no trial without an
  owner; `claim_beat` does the same for claims made otherwise. A RUNNING trial with a
  heartbeat whose owner is known to have ended (its process gone from this machine) is
  stale at once, outage or not: no grace period to wait out;
* `claim_keys`: a worker's claims marked with their keys, each only if no other trial
  holds its key, in one transaction (`stratopt.storage._claims`);
* `fail_orphan`: a stale trial is failed with its reason in the trial's record, in one
  transaction (compare-and-set on RUNNING), and `return_trial`: a stopping worker puts
  its claimed trial back in the queue (WAITING, its heartbeat removed) for the next
  claim, instead of leaving it RUNNING for the grace period.
"""

from __future__ import annotations

import datetime
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState

from stratopt.storage._attrs import ATTR
from stratopt.storage._bulk import bulk_supported, datetime_bridge, optuna_models
from stratopt.storage._claims import mark_claims
from stratopt.storage._lazy_sqlalchemy import sa
from stratopt.storage._owner import OWNER_ATTR, owner_ended, this_owner
from stratopt.storage._reader import FastReadRDBStorage
from stratopt.storage._retry import DbRetry, Outage, StorageError, is_transient

__all__ = [
    "FastResilientStorage",
    "ResilientStorage",
    "Stale",
    "claim_keys",
    "create_claim",
    "resilient_backend",
    "resilient_class",
    "return_trials",
    "with_outage",
]

# Storage operations tried again through an outage: everything Optuna's studies, its
# trial cache (which calls the underscore methods directly) and stratopt's loops call on
# an RDB storage. A trial creation whose commit's answer was lost is created twice: the
# extra RUNNING trial is never beaten again and is failed as an orphan after the grace
# (at once when its owner has ended). `_create_new_trial` is retried by its own method.
_RETRIED = (
    "_set_trial_param",
    "_get_best_trial_id",
    "create_new_study",
    "delete_study",
    "set_study_user_attr",
    "set_study_system_attr",
    "get_study_id_from_name",
    "get_study_name_from_id",
    "get_study_directions",
    "get_study_user_attrs",
    "get_study_system_attrs",
    "get_trial_user_attrs",
    "get_trial_system_attrs",
    "get_all_studies",
    "create_new_trial",
    "set_trial_param",
    "get_trial_param",
    "set_trial_intermediate_value",
    "set_trial_user_attr",
    "set_trial_system_attr",
    "get_trial_id_from_study_id_trial_number",
    "get_trial_number_from_id",
    "get_trial",
    "get_all_trials",
    "get_n_trials",
    "get_best_trial",
    "_get_trials",
)


@dataclass(frozen=True)
class Stale:
    """Why a RUNNING trial is taken for orphaned: `seconds` without a heartbeat, and the
    owner (`host:pid`) known to have ended, if that is why."""

    seconds: float
    ended: str | None = None


class ResilientStorage(RDBStorage):
    """See the module. `outage` is set by `open_storage` once the storage is open."""

    outage: Outage | None = None
    _unbeaten: dict[int, float]  # RUNNING trials seen without a heartbeat: first seen at
    _ended: dict[int, str]  # RUNNING trials whose owner ended: its host:pid
    # trials this process created owned, neither beaten by `claim_beat` nor finished
    # since (a trial pruned before its batch's heartbeats never is beaten: a long run's
    # constraint-breaking and duplicate candidates would pile up here)
    _owned: set[int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._owned = set()
        super().__init__(*args, **kwargs)

    def retried(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`fn(*args, **kwargs)`, tried again through a database outage (once opened)."""
        if self.outage is None:
            return fn(*args, **kwargs)
        return self.outage.run(fn, *args, **kwargs)

    def _claim_owner(self) -> str | None:
        """This process as the owner of the trials it claims; None without heartbeats or
        on a schema the bulk writer was not checked against (then `claim_beat` records
        the heartbeats alone)."""
        if self.heartbeat_interval is None or not self.retried(bulk_supported, self):
            return None
        return this_owner()

    def _create_new_trial(self, study_id: int, template_trial: Any = None) -> Any:
        # A claim: `ask` (no template) or `create_claim`; not a trial added as it is.
        claim = template_trial is None or getattr(_CLAIMING, "on", False)
        # Decided before Optuna's transaction opens: the schema check reads on a
        # connection of its own, which must not wait for this one's lock (SQLite).
        _CLAIMING.owner = self._claim_owner() if claim else None
        return self.retried(super()._create_new_trial, study_id, template_trial)

    def _get_prepared_new_trial(self, study_id: int, template_trial: Any, session: Any) -> Any:
        trial = super()._get_prepared_new_trial(study_id, template_trial, session)
        owner = getattr(_CLAIMING, "owner", None)
        if owner is not None and trial.state == TrialState.RUNNING:
            _own(session, [trial.trial_id], owner)
            self._owned.add(trial.trial_id)
        return trial

    def set_trial_state_values(self, trial_id: int, state: TrialState, values: Any = None) -> bool:
        if state != TrialState.RUNNING:  # finished (or queued again): not beaten by us now
            self._owned.discard(trial_id)
        elif values is None:
            owner = self._claim_owner()
            if owner is not None:
                tries = [0]

                def claim() -> bool:
                    tries[0] += 1
                    return self._claim_waiting(trial_id, owner, retried=tries[0] > 1)

                return bool(self.retried(claim))
        attempts = [0]

        def attempt() -> bool:
            attempts[0] += 1
            try:
                return super(ResilientStorage, self).set_trial_state_values(trial_id, state, values)
            except UpdateFinishedTrialError:
                # An earlier attempt committed but its answer was lost with the connection.
                if attempts[0] > 1 and self.get_trial(trial_id).state == state:
                    return True
                raise

        return bool(self.retried(attempt))

    def record_heartbeat(self, trial_id: int) -> None:
        if self.outage is None:
            super().record_heartbeat(trial_id)
        else:
            self.outage.once(super().record_heartbeat, trial_id)

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        return list(self.stale_trials(study_id))

    @property
    def grace_seconds(self) -> float | None:
        """Seconds without a heartbeat after which a RUNNING trial is stale (None: never)."""
        if self.heartbeat_interval is None:
            return None
        return float(self.grace_period or 2 * self.heartbeat_interval)

    def stale_trials(self, study_id: int) -> dict[int, Stale]:
        """RUNNING trials of the study past the grace period, or whose owner has ended."""
        grace = self.grace_seconds
        if grace is None or self.heartbeat_interval is None:
            return {}
        ages = self.heartbeat_ages(study_id)
        stale = {tid: Stale(ages[tid], owner) for tid, owner in self._ended.items()}
        if self.outage is not None and self.outage.quiet_for(2 * self.heartbeat_interval):
            self._unbeaten = {}  # their workers could not beat either
            return stale
        return {tid: Stale(age) for tid, age in ages.items() if age > grace} | stale

    def heartbeat_ages(self, study_id: int) -> dict[int, float]:
        """Each RUNNING trial: seconds since its last heartbeat, or since this process
        first saw it without one."""
        now, rows = self.retried(self._running_beats, study_id)
        seen = getattr(self, "_unbeaten", {})
        mono = time.monotonic()
        self._unbeaten = {r[0]: seen.get(r[0], mono) for r in rows if r[1] is None}
        ages = {r[0]: (now - r[1]).total_seconds() for r in rows if r[1] is not None}
        ages.update({tid: mono - first for tid, first in self._unbeaten.items()})
        # An owner is read with a heartbeat only: both are written in one transaction.
        ended = {r[0]: owner_ended(r[2]) for r in rows if r[1] is not None}
        self._ended = {tid: owner for tid, owner in ended.items() if owner is not None}
        return ages

    def _running_beats(
        self, study_id: int
    ) -> tuple[datetime.datetime, list[tuple[int, datetime.datetime | None, str | None]]]:
        """The database's clock, and each RUNNING trial with its last heartbeat (or None)
        and its owner (JSON, or None)."""
        tables = _tables()
        trials, beats = tables["trials"], tables["trial_heartbeats"]
        owners = tables["trial_system_attributes"]
        query = (
            sa.select(trials.c.trial_id, beats.c.heartbeat, owners.c.value_json)
            .select_from(
                trials.outerjoin(beats, beats.c.trial_id == trials.c.trial_id).outerjoin(
                    owners,
                    sa.and_(owners.c.trial_id == trials.c.trial_id, owners.c.key == OWNER_ATTR),
                )
            )
            .where(trials.c.study_id == study_id, trials.c.state == TrialState.RUNNING)
        )
        with self.engine.connect() as conn:
            now = conn.execute(sa.select(sa.func.now())).scalar_one()
            rows = [(r.trial_id, r.heartbeat, r.value_json) for r in conn.execute(query)]
        # As Optuna: PostgreSQL's now() is zone-aware, the stored heartbeats are not.
        return now.replace(tzinfo=None), rows

    def count_states(self, study_id: int) -> dict[TrialState, int]:
        """The study's trials counted by state, by the database."""
        trials = _tables()["trials"]
        query = (
            sa.select(trials.c.state, sa.func.count())
            .where(trials.c.study_id == study_id)
            .group_by(trials.c.state)
        )

        def read() -> dict[TrialState, int]:
            with self.engine.connect() as conn:
                return {TrialState(row[0]): int(row[1]) for row in conn.execute(query)}

        return dict(self.retried(read))

    def claim_beat(self, trial_ids: list[int]) -> None:
        """The first heartbeat of a worker's claimed trials, and this process as their
        owner, in one transaction (tried once, as a heartbeat). Optuna's schema only
        (`bulk_supported`); otherwise the heartbeats alone, one by one."""
        if not bulk_supported(self):
            for trial_id in trial_ids:
                self.record_heartbeat(trial_id)
            return
        # Trials this process created were beaten and owned by their creating transaction.
        rest = [tid for tid in trial_ids if tid not in self._owned]
        self._owned.difference_update(trial_ids)
        if not rest:
            return
        if self.outage is None:
            self._claim_beat(rest)
        else:
            self.outage.once(self._claim_beat, rest)

    def _claim_beat(self, trial_ids: list[int]) -> None:
        with self.engine.begin() as conn:
            _own(conn, trial_ids, this_owner())

    def _claim_waiting(self, trial_id: int, owner: str, *, retried: bool) -> bool:
        """WAITING -> RUNNING, owned and beaten, in one transaction; False if the trial
        was not WAITING, unless this is a retry and the earlier attempt committed (its
        answer lost with the connection): then the trial is RUNNING and this process's."""
        tables = _tables()
        trials, attrs = tables["trials"], tables["trial_system_attributes"]
        start = datetime_bridge(_trial_model())[0]("datetime_start", datetime.datetime.now())
        with self.engine.begin() as conn:
            done = conn.execute(
                sa.update(trials)
                .where(trials.c.trial_id == trial_id, trials.c.state == TrialState.WAITING)
                .values(state=TrialState.RUNNING, datetime_start=start)
            )
            if done.rowcount == 1:
                _own(conn, [trial_id], owner)
                self._owned.add(trial_id)
                return True
            if not retried:
                return False
            held = conn.execute(
                sa.select(attrs.c.value_json)
                .join(trials, trials.c.trial_id == attrs.c.trial_id)
                .where(
                    attrs.c.trial_id == trial_id,
                    attrs.c.key == OWNER_ATTR,
                    trials.c.state == TrialState.RUNNING,
                )
            ).scalar()
            return bool(held == owner)

    def claim_keys(self, study_id: int, claims: dict[int, str], since: int) -> set[int]:
        """The claims (trial id -> key) this worker wins: see `stratopt.storage._claims`.
        Optuna's schema only (`bulk_supported`); otherwise every claim (the caller's own
        check of the study as it read it is all there is)."""
        if not claims or not bulk_supported(self):
            return set(claims)
        # A commit whose answer was lost is harmless: the claims' own marks are not
        # holders, so the retry wins the same claims again.
        return set(self.retried(mark_claims, self.engine, study_id, claims, since))

    def fail_orphan(self, trial_id: int, message: str) -> bool:
        """FAIL a RUNNING trial with `message` as its error; False if it was not RUNNING."""
        if not bulk_supported(self):  # Optuna's API: the record first, then the state
            try:
                rec = self.get_trial(trial_id).user_attrs.get(ATTR)
                self.set_trial_user_attr(trial_id, ATTR, {**_dict(rec), "error": message})
                return self.set_trial_state_values(trial_id, TrialState.FAIL)
            except UpdateFinishedTrialError:
                return False
        return bool(self.retried(self._finish_running, trial_id, TrialState.FAIL, message))

    def return_trial(self, trial_id: int) -> bool:
        """Put a RUNNING trial back in the queue (WAITING, no heartbeat); False if not RUNNING.

        Tried once (a stopping worker does not wait out an outage). Without the fast path
        (an Optuna schema stratopt was not checked against) the trial is failed instead:
        a FAIL holds nothing, so its parameters are free to be claimed again.
        """
        if not bulk_supported(self):
            return self.fail_orphan(trial_id, "returned by a stopped worker")
        return self._finish_running(trial_id, TrialState.WAITING, None)

    def _finish_running(self, trial_id: int, state: TrialState, error: str | None) -> bool:
        self._owned.discard(trial_id)
        tables = _tables()
        trials = tables["trials"]
        stored = datetime_bridge(_trial_model())[0]
        changes: dict[str, Any] = {"state": state}
        if state.is_finished():
            changes["datetime_complete"] = stored("datetime_complete", datetime.datetime.now())
        with self.engine.begin() as conn:
            done = conn.execute(
                sa.update(trials)
                .where(trials.c.trial_id == trial_id, trials.c.state == TrialState.RUNNING)
                .values(**changes)
            )
            if done.rowcount != 1:
                return False
            beats = tables["trial_heartbeats"]
            conn.execute(sa.delete(beats).where(beats.c.trial_id == trial_id))
            if error is not None:
                _set_error(conn, tables["trial_user_attributes"], trial_id, error)
        return True


def _own(conn: Any, trial_ids: list[int], owner: str) -> None:
    """A heartbeat now and `owner` for each trial, replacing earlier ones, on `conn` (a
    connection or an ORM session: in the caller's transaction)."""
    tables = _tables()
    beats, attrs = tables["trial_heartbeats"], tables["trial_system_attributes"]
    conn.execute(sa.delete(beats).where(beats.c.trial_id.in_(trial_ids)))
    conn.execute(sa.insert(beats), [{"trial_id": tid} for tid in trial_ids])
    conn.execute(sa.delete(attrs).where(attrs.c.trial_id.in_(trial_ids), attrs.c.key == OWNER_ATTR))
    rows = [{"trial_id": tid, "key": OWNER_ATTR, "value_json": owner} for tid in trial_ids]
    conn.execute(sa.insert(attrs), rows)


def _set_error(conn: sa.Connection, attrs: Any, trial_id: int, error: str) -> None:
    """Add `error` to the trial's stratopt record (its one user attribute)."""
    where = (attrs.c.trial_id == trial_id, attrs.c.key == ATTR)
    old = conn.execute(sa.select(attrs.c.value_json).where(*where)).scalar()
    rec = {**_dict(json.loads(old) if old is not None else None), "error": error}
    if old is None:
        conn.execute(
            sa.insert(attrs).values(trial_id=trial_id, key=ATTR, value_json=json.dumps(rec))
        )
    else:
        conn.execute(sa.update(attrs).where(*where).values(value_json=json.dumps(rec)))


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _tables() -> Any:
    return optuna_models().BaseModel.metadata.tables


def _trial_model() -> Any:
    return optuna_models().TrialModel


def _retrying(name: str) -> Callable[..., Any]:
    def method(self: ResilientStorage, *args: Any, **kwargs: Any) -> Any:
        return self.retried(getattr(super(ResilientStorage, self), name), *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    return method


for _name in _RETRIED:
    setattr(ResilientStorage, _name, _retrying(_name))


class FastResilientStorage(ResilientStorage, FastReadRDBStorage):
    """`ResilientStorage` reading trials through stratopt's fast reader."""


def resilient_backend(storage: Any) -> ResilientStorage | None:
    """The `ResilientStorage` under `storage` (Optuna wraps it in a trial cache), or None."""
    if isinstance(storage, ResilientStorage):
        return storage
    backend = getattr(storage, "_backend", None)  # optuna.storages._CachedStorage
    return backend if isinstance(backend, ResilientStorage) else None


def return_trials(storage: Any, trial_ids: Iterable[int]) -> tuple[int, int]:
    """Put a stopping worker's RUNNING trials back in the queue, each tried once.

    Returns (returned, unreachable): trials no longer RUNNING are skipped; those the
    database could not be reached for stay RUNNING, to be failed and retried once their
    heartbeat is older than the grace period.
    """
    backend = resilient_backend(storage)
    if backend is None:
        return 0, 0
    returned = unreachable = 0
    for trial_id in trial_ids:
        try:
            returned += backend.return_trial(trial_id)
        except Exception as exc:
            if not is_transient(exc) and not isinstance(exc, StorageError):
                raise
            unreachable += 1
    return returned, unreachable


# This thread's trial creation: a claim (`on`), and the owner it records (`owner`).
_CLAIMING = threading.local()


@contextmanager
def _claiming() -> Iterator[None]:
    _CLAIMING.on = True
    try:
        yield
    finally:
        _CLAIMING.on = False


def create_claim(storage: Any, study_id: int, template: FrozenTrial) -> int:
    """Create a RUNNING trial from `template` as this worker's claim: on a storage
    stratopt opened, owned by this process and beaten in the creating transaction (as
    `ask` creates its trials), unlike a trial added with `add_trial`."""
    with _claiming():
        return int(storage.create_new_trial(study_id, template_trial=template))


def claim_keys(storage: Any, study_id: int, claims: dict[int, str], since: int) -> set[int]:
    """The trial ids of `claims` (trial id -> key) this worker may run: of the workers
    claiming one key, exactly one wins it (`stratopt.storage._claims`; trials with ids
    below `since` are not looked at). A storage stratopt did not open (in memory, say):
    every claim."""
    backend = resilient_backend(storage)
    if backend is None:
        return set(claims)
    return backend.claim_keys(study_id, claims, since)


def resilient_class(fast: bool) -> type[ResilientStorage]:
    return FastResilientStorage if fast else ResilientStorage


def with_outage(storage: ResilientStorage, policy: DbRetry, describe: Callable[..., str]) -> None:
    """Give an opened storage its retry policy (none while it is being opened)."""
    storage.outage = Outage(policy, describe) if policy.seconds > 0 else None

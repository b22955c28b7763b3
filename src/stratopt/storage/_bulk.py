"""Writing many trials to an Optuna storage in one transaction.

`add_trials(study, trials)` stores a batch of FrozenTrials (any state) with the rows
Optuna's own `study.add_trial` writes, so `optuna.load_study`, optuna-dashboard and our
readers see the same trials, numbered the same way.

Why not `study.add_trials`: on an RDB storage each `add_trial` is its own SQLAlchemy
ORM transaction with a dozen round trips (lock the study, insert, flush, look up the
first earlier record of each param, insert each param/value/attr, count the earlier
trials, commit): about 10 ms per trial on SQLite here, while a WAL commit costs
0.02 ms. A 1,000-candidate grid on 100,000 bars spent 10 s writing against 1.1 s of
backtests (benchmarks/optimizer_overhead.py: `grid_fraction_of_raw` 0.105). Writing
the batch through SQLAlchemy Core executemany in one transaction costs a fraction of
a millisecond per trial.

The price is writing Optuna's tables ourselves, through its ORM models
(`optuna.storages._rdb.models`, an internal module). That is guarded: the fast path is
taken only when the storage's schema is at the Alembic revision this module was
checked against (RDBStorage itself insists that it is the installed Optuna's latest)
and Optuna's models have exactly the columns written here; otherwise the batch goes
through `study.add_trials` (the safe, slow path) with a warning logged once.

In memory there is no transaction to save: Optuna's `InMemoryStorage` stores each
trial with `create_new_trial`, which deep-copies it; a `HandedTrial` makes that copy
shallow (see the class).
"""

from __future__ import annotations

import datetime
import itertools
import json
import logging
import random
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    check_distribution_compatibility,
    distribution_to_json,
    json_to_distribution,
)
from optuna.storages import InMemoryStorage, RDBStorage
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from stratopt.storage._lazy_sqlalchemy import sa
from stratopt.storage._retry import is_transient
from stratopt.storage._trial_checks import validate_all

__all__ = [
    "VERIFIED_SCHEMA_REVISION",
    "HandedTrial",
    "OwnedTrial",
    "add_trials",
    "bulk_supported",
    "bulk_written",
]

log = logging.getLogger("stratopt.storage")

# The alembic revision of Optuna's RDB schema this module writes (Optuna 3.2 to 5.1 at
# least; checked against Optuna 5.0.0 and 5.1.0, the range pyproject.toml allows). A later
# migration means rows we do not know.
VERIFIED_SCHEMA_REVISION = "v3.2.0.a"

# The columns written or relied on, per table. A model with other columns is a schema
# we have not checked: fall back.
_COLUMNS: dict[str, frozenset[str]] = {
    "studies": frozenset({"study_id", "study_name"}),
    "trials": frozenset(
        {"trial_id", "number", "study_id", "state", "datetime_start", "datetime_complete"}
    ),
    "trial_params": frozenset(
        {"param_id", "trial_id", "param_name", "param_value", "distribution_json"}
    ),
    "trial_values": frozenset({"trial_value_id", "trial_id", "objective", "value", "value_type"}),
    "trial_intermediate_values": frozenset(
        {
            "trial_intermediate_value_id",
            "trial_id",
            "step",
            "intermediate_value",
            "intermediate_value_type",
        }
    ),
    "trial_user_attributes": frozenset(
        {"trial_user_attribute_id", "trial_id", "key", "value_json"}
    ),
    "trial_system_attributes": frozenset(
        {"trial_system_attribute_id", "trial_id", "key", "value_json"}
    ),
}

_MAX_ATTEMPTS = 5  # as Optuna's own trial creation: a deadlock or a busy database retries

_checked: weakref.WeakKeyDictionary[RDBStorage, bool] = weakref.WeakKeyDictionary()
_checked_lock = threading.Lock()
_warned = False


class HandedTrial(FrozenTrial):
    """A finished trial made to be added to a storage, and never touched after.

    `InMemoryStorage.create_new_trial` deep-copies the trial it is given, so that the
    caller's object and the stored one can change apart. For a trial handed over and
    dropped, that copy (its distributions, datetimes, every metric) cost 30–45 ms per
    1,000 trials here, about a third of an in-memory random search of a near-free
    objective. This trial's deep copy is one level deep: a plain FrozenTrial with its own
    dicts and values list, sharing the values in them — what Optuna's own ask/tell path
    stores too (the distributions and user attributes its caller passed in, uncopied).
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenTrial:
        plain = self.plain()
        memo[id(self)] = plain
        return plain

    def plain(self) -> FrozenTrial:
        """This trial's one-level copy, a plain FrozenTrial (see the class)."""
        plain = FrozenTrial.__new__(FrozenTrial)
        fields = self.__dict__.copy()
        for k, v in fields.items():
            if isinstance(v, _COPIED):
                fields[k] = v.copy()
        plain.__dict__ = fields
        return plain


_COPIED = (dict, list)


class OwnedTrial(HandedTrial):
    """A `HandedTrial` whose dicts and values list were made for it alone (none shared
    with another trial or kept by its maker): stored in memory as this very object, its
    class made FrozenTrial, without the one-level copy (1.5-2 µs a trial, a twentieth of
    S1's search loop). Anywhere else it is a `HandedTrial`."""

    @classmethod
    def finished_now(
        cls,
        state: TrialState,
        values: list[float] | None,
        started: datetime.datetime,
        params: dict[str, Any],
        distributions: dict[str, BaseDistribution],
        user_attrs: dict[str, Any],
    ) -> OwnedTrial:
        """`OwnedTrial(number=-1, state=..., value=None, values=values, ...,
        system_attrs={}, intermediate_values={}, trial_id=-1)` finished now: its fields
        set at once, in the order `FrozenTrial.__init__` sets them (`repr` walks them in
        that order), which was checked on import; 0.5 µs of its 2.3 less."""
        if not _FIELDS_KNOWN:
            return cls(number=-1, state=state, value=None, values=values,
                       datetime_start=started, datetime_complete=datetime.datetime.now(),
                       params=params, distributions=distributions, user_attrs=user_attrs,
                       system_attrs={}, intermediate_values={}, trial_id=-1)  # fmt: skip
        trial = cls.__new__(cls)
        trial.__dict__ = {
            "_number": -1, "state": state, "_values": None if values is None else list(values),
            "_datetime_start": started, "datetime_complete": datetime.datetime.now(),
            "_params": params, "_user_attrs": user_attrs, "_system_attrs": {},
            "intermediate_values": {}, "_distributions": distributions, "_trial_id": -1,
        }  # fmt: skip
        return trial


def _fields_known() -> bool:
    """Whether `FrozenTrial.__init__` sets the fields `OwnedTrial.finished_now` sets, in its
    order (Optuna 5.0 and 5.1 do)."""
    probe = FrozenTrial(number=-1, state=TrialState.COMPLETE, value=None, values=[0.0],
                        datetime_start=None, datetime_complete=None, params={},
                        distributions={}, user_attrs={}, system_attrs={},
                        intermediate_values={}, trial_id=-1)  # fmt: skip
    return list(probe.__dict__) == [
        "_number", "state", "_values", "_datetime_start", "datetime_complete", "_params",
        "_user_attrs", "_system_attrs", "intermediate_values", "_distributions", "_trial_id",
    ]  # fmt: skip


_FIELDS_KNOWN = _fields_known()


def add_trials(study: optuna.Study, trials: Sequence[FrozenTrial]) -> None:
    """Add `trials` to `study` as `study.add_trials` would, in one transaction if possible.

    The trials are validated first (as `Study.add_trial` does), so an invalid one
    raises before anything is written. On an RDB storage the whole batch is then
    written atomically: all of it or, if the process dies or the database refuses,
    none. Trial numbers continue the study's, without gaps, also while other
    processes add trials (the study row is locked as Optuna's trial creation does).

    Raises:
        ValueError: a trial is invalid, has the wrong number of values, or a param's
            distribution is incompatible with the study's earlier trials.
    """
    if not trials:
        return
    directions = len(study.directions)
    validate_all(trials)  # what Study.add_trial checks, before anything is written
    for t in trials:
        if t.values is not None and len(t.values) != directions:
            raise ValueError(
                f"The added trial has {len(t.values)} values, which is different from the "
                f"number of objectives {directions} in the study."
            )
    if isinstance(study._storage, InMemoryStorage):
        _add_in_memory(study._storage, study._study_id, trials)
        return
    backend = _rdb_backend(study._storage)
    if backend is None or not bulk_supported(backend):
        study.add_trials(trials)
        return
    for attempt in range(1, _MAX_ATTEMPTS + 1):
        try:
            _write(backend, study._study_id, trials)
            return
        except sa.exc.OperationalError as exc:  # a lock timeout, a deadlock, a lost link
            if attempt == _MAX_ATTEMPTS:
                raise _storage_error(trials, exc) from exc
            time.sleep(random.random() * 2.0)  # Optuna's own back-off
        except sa.exc.IntegrityError:
            raise
        except sa.exc.SQLAlchemyError as exc:
            raise _storage_error(trials, exc) from exc


def _add_in_memory(storage: InMemoryStorage, study_id: int, trials: Sequence[FrozenTrial]) -> None:
    """What `Study.add_trial` does once it has validated the trial (`validate_all`):
    `create_new_trial` with each as its template.

    For a batch of `HandedTrial`s (a grid's, a random search's), its body is inlined,
    without the generic deep-copy dispatch: 40 % less time per trial, which in a grid of
    10,000 near-free backtests is a tenth of the study. The fields touched are the ones
    `create_new_trial` touches (Optuna 5.0 and 5.1); any of them missing, or a trial of
    another kind, goes through `create_new_trial` itself.
    """
    handed = [t for t in trials if isinstance(t, HandedTrial) and type(t) in _HANDED]
    if len(handed) < len(trials) or not _memory_layout_known(storage):
        for t in trials:
            storage.create_new_trial(study_id, template_trial=t)
        return
    with storage._lock:
        storage._check_study_id(study_id)
        stored = storage._studies[study_id].trials
        numbers = storage._trial_id_to_study_id_and_number
        ids = []
        for t in handed:
            trial: FrozenTrial
            if type(t) is OwnedTrial:
                # the same attributes as `plain()`'s copy: the object itself is stored
                trial = t
                trial.__class__ = FrozenTrial  # type: ignore[assignment]
            else:
                trial = t.plain()
            trial_id = storage._max_trial_id + 1
            storage._max_trial_id = trial_id
            trial.number = len(stored)
            trial._trial_id = trial_id
            numbers[trial_id] = (study_id, trial.number)
            stored.append(trial)
            ids.append(trial_id)
        for trial_id in _may_be_best(handed, ids, storage.get_study_directions(study_id)):
            storage._update_cache(trial_id, study_id)


_HANDED = (HandedTrial, OwnedTrial)


def _may_be_best(
    trials: Sequence[FrozenTrial], ids: list[int], directions: Sequence[StudyDirection]
) -> list[int]:
    """The trial of a batch that `_update_cache`, called for each in turn, could leave as
    the study's best: with one objective, the first with the batch's best value (a later
    tie is not better); with several, the first COMPLETE one (the best when there was
    none, and it stays). Called for it alone, it ends with the same best trial."""
    complete = [(i, t.values[0]) for i, t in zip(ids, trials, strict=True)
                if t.state == TrialState.COMPLETE]  # fmt: skip
    if not complete:
        return []
    if len(directions) > 1:
        return [complete[0][0]]
    sign = 1.0 if directions[0] == StudyDirection.MAXIMIZE else -1.0
    best = complete[0]
    for item in complete[1:]:
        if sign * item[1] > sign * best[1]:
            best = item
    return [best[0]]


def _memory_layout_known(storage: InMemoryStorage) -> bool:
    fields = ("_lock", "_studies", "_max_trial_id", "_trial_id_to_study_id_and_number")
    methods = ("_check_study_id", "_update_cache")
    return all(hasattr(storage, f) for f in fields + methods)


def _storage_error(trials: Sequence[FrozenTrial], exc: Exception) -> Exception:
    # The first line only: the rest is the SQL with every row's parameters.
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return optuna.exceptions.StorageInternalError(f"writing {len(trials)} trials failed: {first}")


def bulk_written(study: optuna.Study) -> bool:
    """Whether `add_trials` of finished trials costs less than Optuna's ask/tell per trial.

    True on an RDB storage written in one transaction, and in memory, where adding a
    finished trial is one `create_new_trial` against the half dozen storage calls
    (create, set each param, set the attribute, tell) of a trial asked and told.
    """
    if isinstance(study._storage, InMemoryStorage):
        return True
    backend = _rdb_backend(study._storage)
    return backend is not None and bulk_supported(backend)


def optuna_models() -> Any:
    """Optuna's ORM models module (internal: callers check `bulk_supported` or need only
    tables every schema revision has)."""
    from optuna.storages._rdb import models  # internal: see the module docs

    return models


def _rdb_backend(storage: Any) -> RDBStorage | None:
    """The RDBStorage under `storage` (Optuna wraps it in a cache), else None."""
    if isinstance(storage, RDBStorage):
        return storage
    backend = getattr(storage, "_backend", None)  # optuna.storages._CachedStorage
    return backend if isinstance(backend, RDBStorage) else None


def bulk_supported(storage: RDBStorage) -> bool:
    """Whether `storage`'s schema is the one the fast path was checked against."""
    global _warned
    with _checked_lock:
        ok = _checked.get(storage)
    if ok is None:
        problem = _schema_problem(storage)
        ok = problem is None
        with _checked_lock:
            _checked[storage] = ok
            if not ok and not _warned:
                _warned = True
                log.warning("%s; trials are written one at a time through Optuna (slower)", problem)
    return ok


def _schema_problem(storage: RDBStorage) -> str | None:
    from optuna.storages._rdb import models  # internal: see the module docs

    # The storage's revision, as Alembic keeps it. (RDBStorage refuses a storage whose
    # revision is not the installed Optuna's head, so this is the library's too; the
    # column check below covers a storage opened with skip_compatibility_check.)
    try:
        with storage.engine.connect() as conn:
            current = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.SQLAlchemyError as exc:
        if is_transient(exc):  # the database is away: ask again later, do not decide now
            raise
        return f"cannot read the Optuna schema revision ({str(exc).splitlines()[0]})"
    if current != VERIFIED_SCHEMA_REVISION:
        return (
            f"Optuna schema revision {current!r} is not {VERIFIED_SCHEMA_REVISION!r}, the one "
            "stratopt's bulk trial writer was checked against"
        )
    tables = models.BaseModel.metadata.tables
    for name, columns in _COLUMNS.items():
        table = tables.get(name)
        if table is None or set(table.columns.keys()) != columns:
            return f"Optuna's table {name!r} has changed"
    return None


def _write(storage: RDBStorage, study_id: int, trials: Sequence[FrozenTrial]) -> None:
    """One transaction: lock the study, insert the trials, number them, add their rows."""
    from optuna.storages._rdb import models

    tables = models.BaseModel.metadata.tables
    trials_t, studies_t = tables["trials"], tables["studies"]
    stored_dt = _datetime_converter(models.TrialModel)
    with storage.engine.begin() as conn:
        # As Optuna's `_create_new_trial`: the study row locked (PostgreSQL, MySQL) makes
        # every trial creation in this study wait for us, so the numbers below are final.
        # SQLite has no row locks; there the INSERT takes the database's write lock.
        locked = conn.execute(
            sa.select(studies_t.c.study_id)
            .where(studies_t.c.study_id == study_id)
            .with_for_update()
        ).first()
        if locked is None:
            raise KeyError(f"no study with id {study_id}")
        guess = _count(conn, trials_t, study_id)
        rows = [
            {
                "study_id": study_id,
                "number": guess + i,
                "state": t.state,
                "datetime_start": stored_dt("datetime_start", t.datetime_start),
                "datetime_complete": stored_dt("datetime_complete", t.datetime_complete),
            }
            for i, t in enumerate(trials)
        ]
        # sort_by_parameter_order: the returned ids are in the order of `rows`
        # (SQLAlchemy's insertmanyvalues guarantees it, row by row where it must).
        ids = [
            r[0]
            for r in conn.execute(
                sa.insert(trials_t).returning(trials_t.c.trial_id, sort_by_parameter_order=True),
                rows,
            )
        ]
        _renumber(conn, trials_t, study_id, ids, guess)
        _check_distributions(conn, tables, study_id, trials)
        _insert_children(conn, tables, models, trials, ids)


def _count(conn: sa.Connection, trials_t: sa.Table, study_id: int, below: int | None = None) -> int:
    q = sa.select(sa.func.count(trials_t.c.trial_id)).where(trials_t.c.study_id == study_id)
    if below is not None:
        q = q.where(trials_t.c.trial_id < below)
    return int(conn.execute(q).scalar_one())


def _renumber(
    conn: sa.Connection, trials_t: sa.Table, study_id: int, ids: list[int], guess: int
) -> None:
    """Make each number what Optuna's is: the count of the study's trials with lower ids.

    The count before the insert is right whenever nobody inserted in between; on SQLite
    (no row lock, and reads before the first write run outside the transaction) it may
    not be, so it is recounted now that the write lock is held.
    """
    base = _count(conn, trials_t, study_id, below=min(ids))
    in_order = all(a < b for a, b in itertools.pairwise(ids))
    if base == guess and in_order:
        return
    rank = {trial_id: base + k for k, trial_id in enumerate(sorted(ids))}
    conn.execute(
        sa.update(trials_t)
        .where(trials_t.c.trial_id == sa.bindparam("tid"))
        .values(number=sa.bindparam("num")),
        [{"tid": i, "num": rank[i]} for i in ids],
    )


def _check_distributions(
    conn: sa.Connection,
    tables: Any,
    study_id: int,
    trials: Sequence[FrozenTrial],
) -> None:
    """Refuse params whose distribution conflicts with the study's, as Optuna does."""
    params_t, trials_t = tables["trial_params"], tables["trials"]
    names = {name for t in trials for name in t.distributions}
    reference: dict[str, BaseDistribution] = {}
    for name in sorted(names):
        # Any earlier record will do (they agree with each other): Optuna takes the first.
        row = conn.execute(
            sa.select(params_t.c.distribution_json)
            .join(trials_t, params_t.c.trial_id == trials_t.c.trial_id)
            .where(trials_t.c.study_id == study_id, params_t.c.param_name == name)
            .limit(1)
        ).first()
        if row is not None:
            reference[name] = json_to_distribution(row[0])
    checked: set[tuple[str, int]] = set()
    for t in trials:
        for name, dist in t.distributions.items():
            if (name, id(dist)) in checked:
                continue
            ref = reference.setdefault(name, dist)
            check_distribution_compatibility(ref, dist)
            checked.add((name, id(dist)))


def _insert_children(
    conn: sa.Connection,
    tables: Any,
    models: Any,
    trials: Sequence[FrozenTrial],
    ids: list[int],
) -> None:
    """The params, values, attributes and intermediate values of each trial."""
    rows = _ChildRows(models)
    for trial_id, t in zip(ids, trials, strict=True):
        rows.add(trial_id, t)
    for table, batch in rows.by_table():
        if not batch:
            continue
        insert = sa.insert(tables[table])
        if table == "trial_params" and conn.dialect.name != "sqlite":
            # Params are read back in id order: make the server number them in row order
            # (a multi-row VALUES does in practice, this form is what SQLAlchemy documents).
            # SQLite's executemany inserts row after row anyway.
            insert = insert.returning(tables[table].c.param_id, sort_by_parameter_order=True)
        conn.execute(insert, batch)


class _ChildRows:
    """The rows of the trials' child tables, as Optuna's own writer would store them."""

    def __init__(self, models: Any) -> None:
        self.value_repr = models.TrialValueModel.value_to_stored_repr
        self.step_repr = models.TrialIntermediateValueModel.intermediate_value_to_stored_repr
        self.dist_json: dict[int, str] = {}
        self.params: list[dict[str, Any]] = []
        self.values: list[dict[str, Any]] = []
        self.steps: list[dict[str, Any]] = []
        self.user: list[dict[str, Any]] = []
        self.system: list[dict[str, Any]] = []

    def by_table(self) -> tuple[tuple[str, list[dict[str, Any]]], ...]:
        return (
            ("trial_values", self.values),
            ("trial_params", self.params),
            ("trial_user_attributes", self.user),
            ("trial_system_attributes", self.system),
            ("trial_intermediate_values", self.steps),
        )

    def add(self, trial_id: int, t: FrozenTrial) -> None:
        # The same branches as Optuna's `_get_prepared_new_trial`.
        if t.values is not None and len(t.values) > 1:
            objectives = list(enumerate(t.values))
        elif t.value is not None:
            objectives = [(0, t.value)]
        else:
            objectives = []
        for objective, v in objectives:
            stored, kind = self.value_repr(v)
            self.values.append(
                {"trial_id": trial_id, "objective": objective, "value": stored, "value_type": kind}
            )
        for name, value in t.params.items():
            self.params.append(self._param(trial_id, name, value, t.distributions[name]))
        for key, attr in t.user_attrs.items():
            self.user.append({"trial_id": trial_id, "key": key, "value_json": json.dumps(attr)})
        for key, attr in t.system_attrs.items():
            self.system.append({"trial_id": trial_id, "key": key, "value_json": json.dumps(attr)})
        for step, iv in t.intermediate_values.items():
            stored, kind = self.step_repr(iv)
            self.steps.append({"trial_id": trial_id, "step": step, "intermediate_value": stored,
                               "intermediate_value_type": kind})  # fmt: skip

    def _param(self, trial_id: int, name: str, value: Any, dist: Any) -> dict[str, Any]:
        js = self.dist_json.get(id(dist))
        if js is None:
            js = self.dist_json[id(dist)] = distribution_to_json(dist)
        return {
            "trial_id": trial_id,
            "param_name": name,
            "param_value": dist.to_internal_repr(value),
            "distribution_json": js,
        }


def _datetime_converter(model: Any) -> Any:
    """A function giving the value Optuna's TrialModel stores for a trial's datetime."""
    return datetime_bridge(model)[0]


def datetime_bridge(model: Any) -> tuple[Any, Any]:
    """Functions (to stored, from stored) for a trial's datetimes, as Optuna's TrialModel has them.

    Optuna 5 stores naive UTC behind `datetime_start`/`datetime_complete` properties,
    earlier versions the naive local time itself. Going through the model's own
    attribute keeps whichever convention the installed Optuna has.
    """
    mapper = sa.inspect(model)
    table = model.__table__
    keys = {
        c: mapper.get_property_by_column(table.c[c]).key
        for c in ("datetime_start", "datetime_complete")
    }
    probe = model()  # transient, never added to a session

    def stored(column: str, value: Any) -> Any:
        setattr(probe, column, value)
        return getattr(probe, keys[column])

    def loaded(column: str, value: Any) -> Any:
        setattr(probe, keys[column], value)
        return getattr(probe, column)

    return stored, loaded

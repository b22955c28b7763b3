"""Storage URLs: the default, opening one with a clear error, and redaction.

Every RDB storage is opened with Optuna's heartbeat (`heartbeat_interval`,
`grace_period`) and `RetryHeartbeatStaleTrialCallback(max_retry=1)`: a RUNNING trial whose
heartbeat is older than the grace period is marked FAIL by whoever next calls
`optuna.storages.fail_stale_trials`, and its parameters are queued (WAITING) to be run
once more.
"""

from __future__ import annotations

import os
import random
import re
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import optuna
from optuna.exceptions import StorageInternalError
from optuna.storages import BaseStorage, InMemoryStorage, RetryHeartbeatStaleTrialCallback

from stratopt._urls import (
    MEMORY_URLS,
    anchor_sqlite_url,
    check_url,
    normalize_url,
    redact,
    require_existing,
    sqlite_path,
)
from stratopt.errors import ConfigError
from stratopt.storage._alembic import share_alembic_script
from stratopt.storage._reader import reader_supported
from stratopt.storage._resilient import ResilientStorage, resilient_class, with_outage
from stratopt.storage._retry import DbRetry, StorageError, parse_seconds

# sqlalchemy is imported in the functions that use it: its import (~0.1 s) was part of
# every command's start, and an in-memory study never needs it.

__all__ = [
    "ENV_STORAGE",
    "MEMORY_URLS",
    "DbRetry",
    "Heartbeat",
    "StorageError",
    "anchor_sqlite_url",
    "check_url",
    "default_storage_url",
    "normalize_url",
    "open_storage",
    "redact",
    "require_existing",
    "resolve_storage_url",
    "sqlite_path",
]

# The storage URL when neither `--storage` nor an API argument gives one; it wins over
# the study file's `storage:` so a deployment can point every study at its server.
# `launch` hands the URL to its workers this way, so it never shows in `ps`.
ENV_STORAGE = "STRATOPT_STORAGE"


@dataclass(frozen=True)
class Heartbeat:
    """Optuna's heartbeat settings (whole seconds, as Optuna wants them).

    A worker records a heartbeat for each of its running trials every `interval`; a
    trial whose last heartbeat is older than `grace` is taken to be orphaned.
    """

    interval: int = 10
    grace: int = 60

    def __post_init__(self) -> None:
        if self.interval < 1 or self.grace <= self.interval:
            raise ConfigError(
                f"heartbeat: need 1 <= interval < grace, got interval={self.interval}, "
                f"grace={self.grace}"
            )


def default_storage_url(output_dir: Path, *, create: bool = True) -> str:
    """SQLite in the run-folder root: `sqlite:///<output>/stratopt.db` (the folder made
    unless `create` is False: a command that only reads makes nothing)."""
    if create:
        output_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(output_dir / 'stratopt.db').resolve()}"


def resolve_storage_url(
    explicit: str | None, from_file: str | None, output_dir: Path, *, create: bool = True
) -> str:
    """The storage URL: `explicit`, else $STRATOPT_STORAGE, else the study file's, else SQLite
    (`create`: make the output folder for it; `normalize_url`: a password's '@' and the
    like percent-encoded)."""
    url = (
        explicit
        or os.environ.get(ENV_STORAGE)
        or from_file
        or default_storage_url(output_dir, create=create)
    )
    return normalize_url(url)


# SQLite with several writing processes: a writer waits up to this long for the
# database lock instead of failing at once with "database is locked"; a lock held longer
# is an outage (retried under `DbRetry`). $STRATOPT_SQLITE_BUSY_TIMEOUT (seconds) sets it
# otherwise: the tests use it to hold the lock past the timeout in a few seconds.
SQLITE_BUSY_TIMEOUT_S = 60.0
ENV_SQLITE_BUSY_TIMEOUT = "STRATOPT_SQLITE_BUSY_TIMEOUT"


def sqlite_busy_timeout() -> float:
    """The busy timeout of SQLite connections, in seconds (see SQLITE_BUSY_TIMEOUT_S)."""
    raw = os.environ.get(ENV_SQLITE_BUSY_TIMEOUT, "").strip()
    return parse_seconds(raw, ENV_SQLITE_BUSY_TIMEOUT) if raw else SQLITE_BUSY_TIMEOUT_S


def open_storage(
    url: str | None, *, heartbeat: Heartbeat | None = None, retry: DbRetry | None = None
) -> BaseStorage:
    """An Optuna storage for `url` (`memory` or None: in-memory).

    RDB storages get Optuna's heartbeat (`heartbeat`, default `Heartbeat()`) and retry a
    stale trial once. A PostgreSQL password may come from the URL or from libpq's own
    environment (`PGPASSWORD`, `~/.pgpass`); it never appears in an error message.
    Opening fails at once (StorageError) if the database cannot be reached; once open,
    its operations are retried through an outage for `retry` (default `DbRetry()`:
    120 s; see `stratopt.storage._retry`).
    """
    if url is None or url in MEMORY_URLS:
        return InMemoryStorage()
    if "://" not in url:
        raise ConfigError(f"storage: {redact(url)!r} is not a URL (e.g. sqlite:///runs/s.db)")
    url = normalize_url(url)
    beat = heartbeat or Heartbeat()
    sqlite = url.startswith("sqlite")
    engine_kwargs: dict[str, Any] = (
        {"connect_args": {"timeout": sqlite_busy_timeout()}}
        if sqlite
        else {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
    )
    try:
        storage = _rdb_storage(url, engine_kwargs, beat)
        if sqlite:
            _fast_sqlite(storage)
        with_outage(storage, retry or DbRetry(), lambda exc: clean_error(exc, url))
        return storage
    except (ImportError, ModuleNotFoundError) as exc:
        hint = " (pip install 'stratopt[postgres]')" if url.startswith("postgres") else ""
        raise ConfigError(f"storage: driver missing for {redact(url)!r}: {exc}{hint}") from None
    except Exception as exc:
        raise StorageError(f"cannot open storage {redact(url)}: {clean_error(exc, url)}") from None


# What losing the race to create Optuna's tables looks like (PostgreSQL, SQLite).
_TABLE_RACE = re.compile(r"already exists|alembic_version|duplicate key value")


def _rdb_storage(url: str, engine_kwargs: dict[str, Any], beat: Heartbeat) -> ResilientStorage:
    """Optuna's RDB storage; tried again when another worker is creating the tables.

    Optuna creates its tables on first use; workers starting together on an empty
    database race to create them and all but one fail ("already exists", a duplicate
    `alembic_version` row).
    """
    share_alembic_script()
    for attempt in range(4):
        try:
            with warnings.catch_warnings():
                # heartbeat_interval and the retry callback are marked experimental.
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                # Optuna's own reader if it is not the one stratopt replaces.
                kind = resilient_class(fast=reader_supported())
                return kind(
                    _with_driver(url),
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=beat.interval,
                    grace_period=beat.grace,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
                )
        except Exception as exc:
            if not _TABLE_RACE.search(str(exc)) or attempt == 3:
                raise
            time.sleep(0.5 + random.random())
    raise AssertionError("unreachable")


def _with_driver(url: str) -> str:
    """A bare `postgresql://` URL pinned to psycopg 3 (the `[postgres]` extra).

    SQLAlchemy's default PostgreSQL driver differs between releases (psycopg2 in 2.0,
    psycopg 3 in 2.1); a URL naming its driver (`postgresql+psycopg2://`) is kept.
    """
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare) :]
    return url


def clean_error(exc: BaseException, url: str) -> str:
    """The first line of `exc`'s message with the URL's password removed.

    SQLAlchemy may put the URL, password included, into its messages; libpq names the
    host and user but not the password. The password is also removed on its own, in
    case a driver quotes it in another form. Optuna's own storage error says only that
    a commit failed ("... e.g. exceeding max length", also for a lock or a lost server):
    the database's error under it is the one shown.
    """
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(exc, StorageInternalError) and isinstance(exc.__cause__, SQLAlchemyError):
        exc = exc.__cause__
    msg = str(exc).replace(url, redact(url))
    password = _password(url)
    if password:  # as given, and as a URL shows it (percent-encoded)
        for form in (password, quote(password, safe=""), quote(password, safe="%")):
            msg = msg.replace(form, "***")
    first = redact(msg).strip().splitlines()
    return first[0] if first else type(exc).__name__


def _password(url: str) -> str | None:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).password  # type: ignore[return-value]
    except Exception:
        return None


def _fast_sqlite(storage: ResilientStorage) -> None:
    """WAL journal, fsync at checkpoints only, and transactions that lock at BEGIN.

    A commit survives the process being killed (the WAL is in the OS cache), not a power
    cut; in exchange a trial costs about a tenth of the time on slow disks.

    Python's sqlite3 starts a transaction only at the first write, so Optuna's
    read-then-write updates (take a WAITING trial if it is still WAITING; count the
    trials, then number the new one) are not atomic across processes: two workers could
    both take one queued trial. `BEGIN IMMEDIATE` takes the write lock at the start of
    every transaction, so they run one after another (waiting up to the busy timeout).
    """
    from sqlalchemy import event

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    def on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(storage.engine, "connect", on_connect)
    event.listen(storage.engine, "begin", on_begin)
    storage.engine.dispose()  # connections made before the listeners get replaced


def study_names(storage: BaseStorage) -> list[str]:
    return [s.study_name for s in optuna.get_all_study_summaries(storage)]

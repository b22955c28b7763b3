"""Storage URLs: the default, opening one with a clear error, and redaction."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage, InMemoryStorage, RDBStorage
from sqlalchemy import event

from stratopt.errors import ConfigError, StratoptError

__all__ = ["StorageError", "default_storage_url", "open_storage", "redact"]

_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@]*:)(?P<pw>[^@]*)(?P<tail>@)")


class StorageError(StratoptError):
    """The storage cannot be reached or used (exit code 1, not bad input)."""


def default_storage_url(output_dir: Path) -> str:
    """SQLite in the run-folder root: `sqlite:///<output>/stratopt.db`."""
    output_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(output_dir / 'stratopt.db').resolve()}"


def redact(url: str) -> str:
    """`url` with any password replaced by `***`."""
    return _PASSWORD.sub(r"\g<head>***\g<tail>", url)


def open_storage(url: str | None) -> BaseStorage:
    """An Optuna storage for `url` (`memory` or None: in-memory)."""
    if url is None or url in ("memory", ":memory:", "inmemory"):
        return InMemoryStorage()
    if "://" not in url:
        raise ConfigError(f"storage: {redact(url)!r} is not a URL (e.g. sqlite:///runs/s.db)")
    try:
        storage = RDBStorage(url, heartbeat_interval=None)
        if url.startswith("sqlite"):
            _fast_sqlite(storage)
        return storage
    except ImportError as exc:
        raise ConfigError(f"storage: driver missing for {redact(url)!r}: {exc}") from None
    except Exception as exc:
        # SQLAlchemy puts the URL, password included, into its messages.
        msg = redact(str(exc)).replace(url, redact(url)).splitlines()[0]
        raise StorageError(f"cannot open storage {redact(url)}: {msg}") from None


def _fast_sqlite(storage: RDBStorage) -> None:
    """WAL journal, fsync at checkpoints only.

    A commit then survives the process being killed (the WAL is in the OS cache), not
    a power cut; in exchange a trial costs about a tenth of the time on slow disks.
    """

    def pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    event.listen(storage.engine, "connect", pragmas)
    storage.engine.dispose()  # connections made before the listener get replaced


def study_names(storage: BaseStorage) -> list[str]:
    return [s.study_name for s in optuna.get_all_study_summaries(storage)]

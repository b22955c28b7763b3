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


class StorageError(StratoptError):
    """The storage cannot be reached or used (exit code 1, not bad input)."""


def default_storage_url(output_dir: Path) -> str:
    """SQLite in the run-folder root: `sqlite:///<output>/stratopt.db`."""
    output_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(output_dir / 'stratopt.db').resolve()}"


_SECRET_QUERY = re.compile(r"(?i)([?&](?:password|passwd|pwd|secret|token)=)[^&]*")


def redact(url: str) -> str:
    """`url` with any password (in the authority or the query) replaced by `***`."""
    out = _SECRET_QUERY.sub(r"\1***", url)
    scheme, sep, rest = out.partition("://")
    if not sep:
        return out
    # The credentials end at the last '@' before the path: a password may contain '@'.
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        creds, _, host = authority.rpartition("@")
        if ":" in creds:
            creds = creds.split(":", 1)[0] + ":***"
        authority = f"{creds}@{host}"
    return f"{scheme}://{authority}{slash}{path}"


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

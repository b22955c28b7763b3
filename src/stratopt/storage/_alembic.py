"""One copy of Optuna's migration scripts per process, shared by its RDB storages.

Opening an `RDBStorage` reads Optuna's alembic migration scripts (some 30 Python files)
up to three times: for the head revision of a new database, to stamp it, and for the
schema check. Each read took 0.09-0.16 s here, most of what opening a SQLite study
costs: as much as 150-250 backtests of 100,000 bars. The scripts belong to the installed
Optuna and cannot change while the process runs, so they are read once. Nothing else
changes: the same revisions are stamped and checked, by Optuna's own code.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from optuna.storages._rdb import storage as _rdb

__all__ = ["share_alembic_script"]

_lock = threading.Lock()
_shared: dict[str, Any] = {}


def share_alembic_script() -> None:
    """Make Optuna's storages share one alembic script directory (idempotent).

    A no-op if Optuna's version manager no longer has the method this wraps: opening a
    storage is then only slower.
    """
    manager = getattr(_rdb, "_VersionManager", None)
    create: Callable[[Any], Any] | None = getattr(manager, "_create_alembic_script", None)
    if create is None:
        return
    with _lock:
        if "installed" in _shared:
            return

        def shared_script(self: Any) -> Any:
            with _lock:
                if "script" not in _shared:
                    _shared["script"] = create(self)
                return _shared["script"]

        setattr(manager, "_create_alembic_script", shared_script)  # noqa: B010
        _shared["installed"] = True

"""Riding out a database outage: which errors are passing, and how long to wait for them.

A storage operation that fails because the database cannot be reached (PostgreSQL
stopped or restarting, a dropped connection, SQLite's lock held past its busy timeout)
is tried again with a growing pause (0.25 s doubling to 5 s) until it succeeds or
`DbRetry.seconds` have passed since the outage began. One line is logged when an outage
begins, one when the storage answers again; giving up raises `StorageError` with one
line. Every thread of a process shares its storage's outage: one start, one deadline.

Errors that are not about reaching the database (a constraint violation, a finished
trial, a missing study) are raised at once, as before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import optuna

from stratopt.errors import ConfigError, StratoptError

# sqlalchemy is imported in the functions that use it: its import (~0.1 s) was part of
# every command's start, and an in-memory study never needs it.

__all__ = ["DbRetry", "Outage", "StorageError", "is_transient", "parse_seconds"]

log = logging.getLogger("stratopt.storage")

T = TypeVar("T")

_FIRST_PAUSE = 0.25
_MAX_PAUSE = 5.0


class StorageError(StratoptError):
    """The storage cannot be reached or used (exit code 1, not bad input)."""


@dataclass(frozen=True)
class DbRetry:
    """How long storage operations are retried through an outage (0: not at all)."""

    seconds: float = 120.0

    def __post_init__(self) -> None:
        if not self.seconds >= 0:
            raise ConfigError(f"db-retry: need 0 or more seconds, got {self.seconds!r}")


def parse_seconds(text: str, field: str) -> float:
    """`120`, `120s`, `2m` or `1h` as seconds (ConfigError naming `field` otherwise)."""
    raw = text.strip().lower()
    scale = {"s": 1.0, "m": 60.0, "h": 3600.0}.get(raw[-1:])
    number = raw[:-1] if scale is not None else raw
    try:
        value = float(number) * (scale or 1.0)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise ConfigError(f"{field}: {text!r} is not a duration (e.g. 120s, 2m, 0 to not retry)")
    return value


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) says the database could not be reached."""
    from sqlalchemy import exc as sa_exc

    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, sa_exc.IntegrityError | optuna.exceptions.UpdateFinishedTrialError):
            return False
        if isinstance(cur, sa_exc.DBAPIError) and cur.connection_invalidated:
            return True
        if isinstance(
            cur, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.DisconnectionError
        ):
            return True
        if isinstance(cur, sa_exc.TimeoutError):  # no pooled connection came back in time
            return True
        cur = cur.__cause__ or cur.__context__
    return False


class Outage:
    """One storage's view of the database being away: shared by a process's threads."""

    def __init__(self, policy: DbRetry, describe: Callable[[BaseException], str]) -> None:
        self.policy = policy
        self.describe = describe  # the error as one line, without the password
        self._lock = threading.Lock()
        self._began: float | None = None
        self._ended = -float("inf")
        self._local = threading.local()

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)`, tried again through an outage (see the module)."""
        if getattr(self._local, "inside", False):  # a storage method calling another
            return fn(*args, **kwargs)
        self._local.inside = True
        try:
            return self._run(fn, args, kwargs)
        finally:
            self._local.inside = False

    def _run(self, fn: Callable[..., T], args: Any, kwargs: Any) -> T:
        pause = _FIRST_PAUSE
        while True:
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                left = self.failed(exc)
                if left <= 0:
                    raise StorageError(self.giving_up(exc)) from None
                time.sleep(min(pause, left))
                pause = min(2 * pause, _MAX_PAUSE)
                continue
            self.answered()
            return result

    def once(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """`fn` tried once; None if the database could not be reached (noted as an outage)."""
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            if not is_transient(exc):
                raise
            self.failed(exc)
            return None
        self.answered()
        return result

    def failed(self, exc: BaseException) -> float:
        """Note a failed attempt; the seconds left before giving up."""
        now = time.monotonic()
        with self._lock:
            if self._began is None:
                self._began = now
                log.warning(
                    "storage unreachable (%s); retrying for up to %s",
                    self.describe(exc),
                    _seconds(self.policy.seconds),
                )
            return self._began + self.policy.seconds - now

    def answered(self) -> None:
        if self._began is None:  # the usual case, without taking the lock
            return
        with self._lock:
            if self._began is None:
                return
            now = time.monotonic()
            log.warning("storage reachable again after %s", _seconds(now - self._began))
            self._began = None
            self._ended = now

    def giving_up(self, exc: BaseException) -> str:
        return (
            f"storage unreachable for {_seconds(self.policy.seconds)}, giving up "
            f"(--db-retry): {self.describe(exc)}"
        )

    def quiet_for(self, seconds: float) -> bool:
        """Whether the storage is away now, or answered again less than `seconds` ago."""
        with self._lock:
            return self._began is not None or time.monotonic() - self._ended < seconds


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"

"""Storage URLs as text: anchored, checked, normalized and redacted; no database opened.

Below every layer: the study file's models check `storage:` with it, and the storage
package opens what it names. It stays light (SQLAlchemy's dialect registry is loaded
only when a URL is checked), so importing the engine or the config loads no database
library.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from stratopt.errors import ConfigError

__all__ = [
    "MEMORY_URLS",
    "anchor_sqlite_url",
    "check_url",
    "normalize_url",
    "redact",
    "require_existing",
    "sqlite_path",
]


_SQLITE = re.compile(r"^(sqlite(?:\+\w+)?:///)(.+)$")


def anchor_sqlite_url(url: str, base: Path) -> str:
    """A SQLite URL whose relative path is taken relative to `base` (the study file's
    folder, as `output:` is); other URLs unchanged."""
    match = _SQLITE.match(url)
    if match is None:
        return url
    head, path = match.groups()
    if path.startswith("/") or path == ":memory:" or path.startswith("file:"):
        return url
    return f"{head}{(base / path).resolve()}"


def sqlite_path(url: str) -> Path | None:
    """The database file a SQLite URL names (None: not SQLite, or in memory)."""
    match = _SQLITE.match(url)
    if match is None or match.group(2) in (":memory:", "") or match.group(2).startswith("file:"):
        return None
    return Path(match.group(2))


def require_existing(url: str) -> None:
    """ConfigError unless a SQLite database `url` names exists (reading never makes one)."""
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        raise ConfigError(
            f"storage: no study database at {path} (read-only commands create none); run "
            "`stratopt optimize` first, or name it with --storage or a study file"
        )


_SECRET_QUERY = re.compile(r"(?i)([?&](?:password|passwd|pwd|secret|token)=)[^&]*")


def _userinfo(url: str) -> tuple[str, str | None, str]:
    """(`scheme://`, the `user[:password]` part or None, the rest from the host on).

    The credentials end at the last '@' before the host: a password may hold '@', ':'
    or '/' unencoded (a database name holding '@' is not supported then).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url, None, ""
    at = rest.split("?", 1)[0].rfind("@")
    if at < 0:
        return scheme + sep, None, rest
    return scheme + sep, rest[:at], rest[at + 1 :]


def redact(url: str) -> str:
    """`url` with any password (in the authority or the query) replaced by `***`."""
    out = _SECRET_QUERY.sub(r"\1***", url)
    prefix, creds, rest = _userinfo(out)
    if creds is None:
        return out
    if ":" in creds:
        creds = creds.split(":", 1)[0] + ":***"
    return f"{prefix}{creds}@{rest}"


# Characters a password must not hold unencoded for a URL parser to find the host.
_UNSAFE_IN_PASSWORD = "@:/?#[] "


def normalize_url(url: str) -> str:
    """`url` with a password holding '@', ':', '/' and the like percent-encoded.

    `postgresql://quant:p@ss@db/studies` reaches SQLAlchemy as host `ss@db` and password
    `p` otherwise: the connection fails and the error shows part of the password. A
    password already encoded (`p%40ss`) is left as it is.
    """
    prefix, creds, rest = _userinfo(url)
    if creds is None or ":" not in creds or prefix.startswith("sqlite"):  # a file path
        return url
    user, _, password = creds.partition(":")
    if "/" in user or not any(c in password for c in _UNSAFE_IN_PASSWORD):
        return url
    return f"{prefix}{user}:{quote(password, safe='%')}@{rest}"


MEMORY_URLS = ("memory", ":memory:", "inmemory")
"""Names of an in-memory storage (nothing persists; a rerun starts afresh)."""


def check_url(url: str) -> str | None:
    """Why `url` cannot name an Optuna storage (it is not opened), or None when it can."""
    if url in MEMORY_URLS:
        return None
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme:
        return f"{redact(url)!r} is not a URL (e.g. sqlite:///runs/stratopt.db)"
    from sqlalchemy.engine import make_url  # only to check a URL: see the module
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(normalize_url(url)).get_dialect()
    except (ArgumentError, ValueError):  # also NoSuchModuleError; ValueError: a bad port
        return (
            f"{redact(url)!r} has scheme {scheme!r}, which no installed database dialect "
            "reads (e.g. sqlite:///runs/stratopt.db or postgresql://user@host/db)"
        )
    return None

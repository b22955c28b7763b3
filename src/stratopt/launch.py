"""Moved: `stratopt launch` lives in `stratopt.operations` (these names forward there)."""

from __future__ import annotations

from typing import Any

from stratopt._moved import forward

_MOVED = dict.fromkeys(
    ("LaunchOutcome", "LaunchStatus", "WorkerExit", "launch_workers"), "stratopt.operations"
)

__all__ = sorted(_MOVED)


def __getattr__(name: str) -> Any:
    return forward(__name__, _MOVED, name)

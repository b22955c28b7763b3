"""Which process holds a RUNNING trial, and whether it still runs.

A worker records itself on each trial it claims (a trial system attribute, written in
the transaction that claims the trial, with its first heartbeat): its host name and
pid, the start time of its process, and the machine it runs on as the kernel sees it
(the boot id and the pid namespace, so two containers with one host name are told
apart). A later worker on the same machine whose process table has no such process
(or another one under that pid) knows the trial is orphaned at once: it need not wait
out the grace period, as it must for a worker on another machine or one it cannot see.
"""

from __future__ import annotations

import json
import os
import socket
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["OWNER_ATTR", "owner_ended", "this_owner"]

OWNER_ATTR = "stratopt:owner"


@cache
def _machine() -> str | None:
    """This machine and pid namespace (None where the kernel does not say: not Linux)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}/{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return None


def _started(pid: int) -> int | None:
    """The start time (clock ticks after boot) of process `pid`; None if there is none,
    or it has exited (a zombie)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else int(fields[19])


def this_owner() -> str:
    """This process as a trial's owner (JSON, as a system attribute holds it)."""
    return _owner(os.getpid())  # a forked child is another owner


@cache
def _owner(pid: int) -> str:
    owner = {"host": socket.gethostname(), "pid": pid, "machine": _machine()}
    owner["start"] = _started(pid) if owner["machine"] is not None else None
    return json.dumps(owner)


def owner_ended(value_json: str | None) -> str | None:
    """`host:pid` of the recorded owner if it is known to have ended, else None (alive,
    on another machine, or nothing recorded)."""
    owner = _parse(value_json)
    if owner is None or owner.get("machine") is None or owner["machine"] != _machine():
        return None
    pid, start = owner.get("pid"), owner.get("start")
    if not isinstance(pid, int) or not isinstance(start, int):
        return None
    return f"{owner.get('host')}:{pid}" if _started(pid) != start else None


def _parse(value_json: str | None) -> dict[str, Any] | None:
    if value_json is None:
        return None
    try:
        value = json.loads(value_json)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None

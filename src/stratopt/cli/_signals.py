"""Stopping cleanly: SIGTERM and SIGINT raise `Interrupted`; a worker watches its launcher.

A worker or `launch` that is asked to stop (SIGTERM from a service manager or `kill`,
SIGINT from Ctrl-C) raises `Interrupted` in its main thread, once: a second signal
while it returns its trials is ignored. A worker started by `launch` also stops when
its launcher is gone (killed with SIGKILL, say): it checks its parent every second,
sends itself SIGTERM, and exits hard if the clean stop has not finished 5 s later.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from types import FrameType

from stratopt.errors import Interrupted

__all__ = ["stop_on_signals", "watch_launcher"]

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def stop_on_signals() -> None:
    """From now on SIGTERM and SIGINT raise `Interrupted` (main thread only)."""
    for signum in _SIGNALS:
        signal.signal(signum, _interrupt)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    for other in _SIGNALS:  # the clean stop is under way: do not interrupt it
        signal.signal(other, signal.SIG_IGN)
    raise Interrupted(signum, signal.Signals(signum).name)


def watch_launcher(env_name: str, *, every: float = 1.0, hard_after: float = 5.0) -> None:
    """Stop this process when its launcher (pid in `$env_name`) is no longer its parent."""
    raw = os.environ.pop(env_name, None)  # not inherited by this process's own children
    if not raw or not raw.isdigit():
        return
    launcher = int(raw)

    def watch() -> None:
        while os.getppid() == launcher:
            time.sleep(every)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(hard_after)
        os._exit(128 + signal.SIGTERM)  # the clean stop is stuck (a long candidate)

    threading.Thread(target=watch, name="stratopt-launcher-watch", daemon=True).start()

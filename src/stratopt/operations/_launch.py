"""`stratopt launch`: N local worker processes on one study, watched through the storage.

The workers are ordinary `stratopt worker` processes. The storage URL reaches them
through the environment ($STRATOPT_STORAGE), never their command line, so a password
in it does not show in `ps`. Progress is read from the storage itself (counts by state,
best value), the same view any other machine's workers contribute to.

Faults: the study file, its data and the storage are checked before any worker starts
(bad input: nothing is created). The progress poll rides out a database outage as the
workers do (`DbRetry`). Each worker knows its launcher's pid ($STRATOPT_LAUNCHER_PID)
and stops when the launcher is gone. Interrupted (SIGTERM, SIGINT), the launcher asks
its workers to stop (SIGTERM: each puts its claimed trials back in the study's queue),
waits for them, and lets the interruption go on.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypedDict, Unpack

import optuna

from stratopt.config import StudyConfig
from stratopt.operations._prepared import PreparedStudy
from stratopt.storage import ENV_STORAGE, DbRetry, best_value, open_storage, trial_counts

__all__ = [
    "ENV_LAUNCHER",
    "LaunchOptions",
    "LaunchOutcome",
    "LaunchStatus",
    "WorkerExit",
    "launch_workers",
]

# The launcher's pid, in each worker's environment: a worker whose parent is no longer
# this process stops (the launcher was killed).
ENV_LAUNCHER = "STRATOPT_LAUNCHER_PID"

# Seconds a stopping worker gets to return its trials before it is killed.
STOP_TIMEOUT = 30.0


@dataclass
class LaunchStatus:
    """The study's state while the workers run (what the progress bar shows)."""

    target: int
    workers: int
    alive: int = 0
    complete: int = 0
    running: int = 0
    pruned: int = 0
    failed: int = 0
    best: float | None = None
    rate: float = 0.0  # finished trials per second since the launch


@dataclass(frozen=True)
class WorkerExit:
    index: int
    returncode: int
    log: Path
    tail: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LaunchOutcome:
    failed: list[WorkerExit]
    seconds: float
    logs: Path


class LaunchOptions(TypedDict, total=False):
    """The options of `launch_workers` beyond the study, the workers and the storage.

    `worker_args`: extra `stratopt worker` arguments; `on_progress`: called with the
    study's state every `poll` seconds (default 0.5); `retry`: how long the progress
    poll rides out a database outage (default `DbRetry()`, 120 s; give the workers the
    same with `--db-retry`).
    """

    worker_args: Sequence[str]
    on_progress: Callable[[LaunchStatus], None] | None
    poll: float
    retry: DbRetry


def launch_workers(
    study: StudyConfig,
    study_file: Path,
    n: int,
    *,
    url: str,
    target: int,
    **options: Unpack[LaunchOptions],
) -> LaunchOutcome:
    """Run `n` workers on `study_file` against `url` until they all exit.

    Raises before starting anything (nothing created) when the study's data cannot be
    read (`DataError`, bad input) or the storage cannot be opened (`StorageError`).
    """
    PreparedStudy.from_config(study, storage=url).bars()  # bad input: exit 2, nothing made
    retry = options.get("retry") or DbRetry()
    storage = open_storage(url, retry=retry)  # unreachable server: one error here, not N
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    logs = study.output_dir / study.name / "workers" / f"{stamp}-{os.getpid()}"
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, ENV_STORAGE: url, ENV_LAUNCHER: str(os.getpid())}
    # Each worker's compiled engine would start a thread per core: K workers on C cores
    # share them instead of oversubscribing (unless the user chose a number).
    env.setdefault("NUMBA_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // n)))
    args = [a for a in options.get("worker_args", ()) if not a.startswith("--set=storage=")]
    cmd = [sys.executable, "-m", "stratopt.cli", "worker", str(study_file.resolve()), *args]
    cmd += ["--no-report", "--quiet"]
    started = time.monotonic()
    on_progress = options.get("on_progress")
    files: list[IO[bytes]] = []
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i in range(n):
            files.append((logs / f"worker-{i}.log").open("wb"))
            procs.append(subprocess.Popen(cmd, env=env, stdout=files[-1], stderr=subprocess.STDOUT))
        watcher = _Watcher(study.name, storage, LaunchStatus(target=target, workers=n), started)
        while any(p.poll() is None for p in procs):
            if on_progress is not None:
                on_progress(watcher.read(procs))
            time.sleep(options.get("poll", 0.5))
        if on_progress is not None:
            on_progress(watcher.read(procs))
    except BaseException:
        stop_workers(procs)
        raise
    finally:
        for log in files:
            log.close()
    failed = [
        WorkerExit(i, p.returncode, logs / f"worker-{i}.log", _tail(logs / f"worker-{i}.log"))
        for i, p in enumerate(procs)
        if p.returncode != 0
    ]
    return LaunchOutcome(failed=failed, seconds=time.monotonic() - started, logs=logs)


def stop_workers(procs: Sequence[subprocess.Popen[bytes]], timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM each live worker (it returns its claimed trials and exits), then wait;
    kill those still running after `timeout` seconds."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class _Watcher:
    def __init__(
        self, name: str, storage: optuna.storages.BaseStorage, status: LaunchStatus, started: float
    ) -> None:
        self.name = name
        self.storage = storage
        self.status = status
        self.started = started
        self.study: optuna.Study | None = None

    def read(self, procs: Sequence[subprocess.Popen[bytes]]) -> LaunchStatus:
        s = self.status
        s.alive = sum(p.poll() is None for p in procs)
        if self.study is None:
            try:
                self.study = optuna.load_study(study_name=self.name, storage=self.storage)
            except KeyError:  # no worker has created it yet
                return s
        # Counted and ranked by the database: reading every trial each poll would keep
        # the whole study in this process's memory and cost more as it grows.
        counts = trial_counts(self.study)
        s.complete = counts["complete"]
        s.running = counts["running"]
        s.pruned = counts["pruned"]
        s.failed = counts["fail"]
        s.best = best_value(self.study)
        finished = s.complete + s.pruned + s.failed
        s.rate = finished / max(1e-9, time.monotonic() - self.started)
        return s


def _tail(path: Path, lines: int = 5) -> list[str]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]

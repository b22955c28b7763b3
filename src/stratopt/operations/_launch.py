"""`stratopt launch`: N local worker processes on one study, watched through the storage.

The workers are ordinary `stratopt worker` processes. The storage URL reaches them
through the environment ($STRATOPT_STORAGE), never their command line, so a password
in it does not show in `ps`. Progress is read from the storage itself (counts by state,
best value), the same view any other machine's workers contribute to.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import optuna
from optuna.trial import TrialState

from stratopt.config import StudyConfig
from stratopt.storage import ENV_STORAGE, open_storage

__all__ = ["LaunchOutcome", "LaunchStatus", "WorkerExit", "launch_workers"]


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


def launch_workers(
    study: StudyConfig,
    study_file: Path,
    n: int,
    *,
    url: str,
    target: int,
    worker_args: Sequence[str] = (),
    on_progress: Callable[[LaunchStatus], None] | None = None,
    poll: float = 0.5,
) -> LaunchOutcome:
    """Run `n` workers on `study_file` against `url` until they all exit."""
    open_storage(url)  # unreachable server, bad credentials: one error here, not N
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    logs = study.output_dir / study.name / "workers" / f"{stamp}-{os.getpid()}"
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, ENV_STORAGE: url}
    # Each worker's compiled engine would start a thread per core: K workers on C cores
    # share them instead of oversubscribing (unless the user chose a number).
    env.setdefault("NUMBA_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // n)))
    args = [a for a in worker_args if not a.startswith("--set=storage=")]  # env carries it
    cmd = [sys.executable, "-m", "stratopt.cli", "worker", str(study_file.resolve()), *args]
    cmd += ["--no-report", "--quiet"]
    started = time.monotonic()
    files: list[IO[bytes]] = []
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i in range(n):
            out = (logs / f"worker-{i}.log").open("wb")
            files.append(out)
            procs.append(subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT))
        watcher = _Watcher(study.name, url, LaunchStatus(target=target, workers=n), started)
        while any(p.poll() is None for p in procs):
            if on_progress is not None:
                on_progress(watcher.read(procs))
            time.sleep(poll)
        if on_progress is not None:
            on_progress(watcher.read(procs))
    except BaseException:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            p.wait()
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


class _Watcher:
    def __init__(self, name: str, url: str, status: LaunchStatus, started: float) -> None:
        self.name = name
        self.storage = open_storage(url)
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
        counts = dict.fromkeys(TrialState, 0)
        best: float | None = None
        maximize = self.study.directions[0] == optuna.study.StudyDirection.MAXIMIZE
        single = len(self.study.directions) == 1
        for t in self.study.get_trials(deepcopy=False):
            counts[t.state] += 1
            if single and t.state == TrialState.COMPLETE and t.values:
                v = t.values[0]
                if best is None or (v > best if maximize else v < best):
                    best = v
        s.complete = counts[TrialState.COMPLETE]
        s.running = counts[TrialState.RUNNING]
        s.pruned = counts[TrialState.PRUNED]
        s.failed = counts[TrialState.FAIL]
        s.best = best
        finished = s.complete + s.pruned + s.failed
        s.rate = finished / max(1e-9, time.monotonic() - self.started)
        return s


def _tail(path: Path, lines: int = 5) -> list[str]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]

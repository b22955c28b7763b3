"""The example command study (examples/external_command/) run by 4 launched workers on a
real PostgreSQL, one of them SIGKILLed while its backtester runs."""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from tests.workers.test_workers import HEARTBEAT, _cli, _env, _stop

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "external_command"


def _descendants(pid: int) -> list[int]:
    """Children of every thread of `pid` (a worker starts its command from any)."""
    out = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            out += [int(c) for c in children.read_text().split()]
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _kill_a_worker_mid_trial(launch: subprocess.Popen[bytes], runs: Path) -> int:
    """Once a dozen runs exist, SIGKILL a worker while its backtester runs; its pid."""
    deadline = time.monotonic() + 300
    while True:
        assert time.monotonic() < deadline, "no worker was seen running the backtester"
        assert launch.poll() is None, "launch exited before a worker could be killed"
        started = len(list(runs.glob("*/external/*/params.json")))
        for worker in _descendants(launch.pid) if started >= 12 else []:
            running = [c for c in _descendants(worker) if "backtester.py" in _cmdline(c)]
            if running:
                os.kill(worker, signal.SIGKILL)
                for child in running:  # its orphaned backtester: in a group of its own
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(child, signal.SIGKILL)
                return worker
        time.sleep(0.05)


def test_four_launched_workers_on_postgres_finish_exactly_100_despite_a_killed_one(
    tmp_path: Path, postgres: Any
) -> None:
    for name in ("study.yaml", "backtester.py"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    url = postgres.url()
    proc = subprocess.Popen(
        _cli("launch", "-n", "4", str(tmp_path / "study.yaml"), *HEARTBEAT),
        env=_env(None, url), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        killed = _kill_a_worker_mid_trial(proc, tmp_path / "runs")
        out, err = (b.decode() for b in proc.communicate(timeout=900))
    finally:
        _stop([proc], group=True)
    assert killed != proc.pid
    assert proc.returncode == 1, err  # the killed worker fails launch, after the others finish
    assert "Traceback" not in err and "s3cret" not in out + err
    study = optuna.load_study(study_name="external_command", storage=url)
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 100
    keys = [tuple(sorted(t.params.items())) for t in complete]
    # every completed candidate is a distinct point: a worker runs a claim only once it
    # has won its key in the storage (docs/workers.md, "claims")
    assert len(set(keys)) == 100, collections.Counter(keys).most_common(3)
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    # the killed worker's trial was failed by the others (stale heartbeat), not lost
    assert [t for t in trials if t.state == TrialState.FAIL]

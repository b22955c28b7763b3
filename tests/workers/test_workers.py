"""Several workers on one study: PostgreSQL and SQLite, a worker SIGKILLed mid-trial."""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import TrialState

from stratopt.search import DUPLICATE, record
from stratopt.storage import ENV_STORAGE

SLEEPY = Path(__file__).with_name("sleepy.py")
HANG_K = 37
# Short enough to keep the tests quick, long enough that a worker on a busy machine is
# not taken for dead (that would still be handled, but would retry other trials too).
HEARTBEAT = ["--heartbeat", "1", "--grace", "5"]


def _study_file(tmp_path: Path, name: str, **search: Any) -> Path:
    cfg = {
        "name": name,
        "data": {"synthetic": {"bars": 200, "seed": 3}},
        "strategy": f"{SLEEPY}:Sleepy",
        "params": {"delay_ms": 5},
        "space": {"k": {"low": 0, "high": 199}},
        "search": search,
        "objective": "total_return",
        "output": str(tmp_path / "runs"),
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _env(hang_dir: Path | None, url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != ENV_STORAGE}
    env["NUMBA_NUM_THREADS"] = "1"  # four workers on a small machine
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[2] / "src"), *sys.path])
    if hang_dir is not None:
        env["SLEEPY_HANG_DIR"] = str(hang_dir)
        env["SLEEPY_HANG_K"] = str(HANG_K)
    if url is not None:
        env[ENV_STORAGE] = url
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "stratopt.cli", *args]


def _kill_the_hanging_worker(hang_dir: Path, procs: list[subprocess.Popen[bytes]]) -> int:
    """SIGKILL the worker process that is running candidate k == HANG_K; its pid."""
    marker = hang_dir / "hang.pid"
    deadline = time.monotonic() + 180
    while not (marker.exists() and marker.read_text()):
        assert time.monotonic() < deadline, "no worker reached the hanging candidate"
        assert any(p.poll() is None for p in procs), "every worker exited early"
        time.sleep(0.2)
    pid = int(marker.read_text())
    os.kill(pid, signal.SIGKILL)
    return pid


def _stop(procs: list[subprocess.Popen[bytes]], *, group: bool = False) -> None:
    """Kill what a failed test leaves running (`group`: launch and its workers)."""
    for p in procs:
        if group:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
        elif p.poll() is None:
            p.kill()
        p.wait()


def _check_study(study: optuna.Study, target: int) -> None:
    trials = study.get_trials(deepcopy=False)
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == target
    params = [t.params["k"] for t in complete]
    assert len(params) == len(set(params)), collections.Counter(params).most_common(3)
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]


def _check_orphan_retried(study: optuna.Study) -> None:
    hung = [t for t in study.get_trials(deepcopy=False) if t.params.get("k") == HANG_K]
    failed = [t for t in hung if t.state == TrialState.FAIL]
    assert len(failed) == 1, [(t.number, t.state) for t in hung]
    retries = [t for t in hung if t.system_attrs.get("failed_trial") == failed[0].number]
    assert len(retries) == 1  # queued once (max_retry=1)
    # The candidate runs again exactly once: usually as the queued retry; but a grid worker
    # that looks between the FAIL and the retry's creation (two transactions in Optuna's
    # callback) may claim the freed combination first, and then the lower-numbered claim
    # wins and the retry is pruned as its duplicate.
    done = [t for t in hung if t.state == TrialState.COMPLETE]
    assert len(done) == 1
    if done != retries:
        assert retries[0].state == TrialState.PRUNED
        assert record(retries[0])["pruned"] == DUPLICATE
        assert done[0].number < retries[0].number


def test_four_workers_on_postgres_split_a_grid_and_retry_a_killed_workers_trial(
    tmp_path: Path, postgres: Any
) -> None:
    url = postgres.url()
    path = _study_file(tmp_path, "pg_grid", method="grid")
    hang = tmp_path / "hang"
    hang.mkdir()
    env = _env(hang, url)
    cmd = _cli("worker", str(path), "--quiet", "--no-report", *HEARTBEAT)
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for _ in range(4)]  # fmt: skip
    try:
        killed = _kill_the_hanging_worker(hang, procs)
        outputs = {p.pid: p.communicate(timeout=300)[0].decode() for p in procs}
    finally:
        _stop(procs)
    codes = {p.pid: p.returncode for p in procs}
    assert codes.pop(killed) == -signal.SIGKILL
    assert set(codes.values()) == {0}, outputs
    for out in outputs.values():
        assert postgres.url() not in out and "s3cret" not in out
    study = optuna.load_study(study_name="pg_grid", storage=url)
    _check_study(study, 200)
    _check_orphan_retried(study)


def test_launch_on_sqlite_splits_a_grid_and_retries_a_killed_workers_trial(
    tmp_path: Path,
) -> None:
    path = _study_file(tmp_path, "lite_grid", method="grid")
    hang = tmp_path / "hang"
    hang.mkdir()
    cmd = _cli("launch", "-n", "4", str(path), *HEARTBEAT)
    proc = subprocess.Popen(
        cmd, env=_env(hang), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        _kill_the_hanging_worker(hang, [proc])
        out, err = (b.decode() for b in proc.communicate(timeout=400))
    finally:
        _stop([proc], group=True)
    # The killed worker makes launch fail, after the others have finished the study.
    assert proc.returncode == 1, err
    assert "worker 0 failed" in err or "failed (exit code -9)" in err
    assert "Traceback" not in err
    assert "200 complete" in out
    # The same analyses as every optimize prints (issue 21 item 14).
    assert "stability of the best" in out and "look-ahead: clean" in out
    assert "overfitting: " in out
    study = optuna.load_study(
        study_name="lite_grid", storage=f"sqlite:///{tmp_path / 'runs' / 'stratopt.db'}"
    )
    _check_study(study, 200)
    _check_orphan_retried(study)


def test_random_workers_stop_at_exactly_the_target(tmp_path: Path) -> None:
    path = _study_file(tmp_path, "lite_random", method="random", trials=30, seed=3, batch=4)
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    cmd = _cli("worker", str(path), "--quiet", "--no-report", "--storage", url)
    procs = [subprocess.Popen(cmd, env=_env(None), stderr=subprocess.PIPE) for _ in range(3)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
    study = optuna.load_study(study_name="lite_random", storage=url)
    trials = study.get_trials(deepcopy=False)
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 30
    assert len({t.number for t in trials}) == len(trials)

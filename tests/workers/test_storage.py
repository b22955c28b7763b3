"""Storage for shared studies: credentials never leak, errors are one clear line, and
orphaned trials of a killed run are failed and retried through Optuna's heartbeat."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from stratopt.operations import optimize
from stratopt.search import ask, record
from stratopt.storage import Heartbeat, StorageError, open_storage, resolve_storage_url
from tests.workers.test_workers import _cli, _env, _study_file


def test_wrong_password_and_unreachable_server_exit_1_without_leaking(
    tmp_path: Path, postgres: Any
) -> None:
    path = _study_file(tmp_path, "creds", method="grid")
    secret = "Wr0ng-Secret-pw"
    bad = postgres.url(password=secret)
    down = f"postgresql://stratopt:{secret}@127.0.0.1:1/postgres"
    for url, how in ((bad, "flag"), (down, "env")):
        args = ["--storage", url] if how == "flag" else []
        env = _env(None, url if how == "env" else None)
        done = subprocess.run(
            _cli("worker", str(path), "--quiet", *args), env=env, capture_output=True,
            text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 1, done.stderr
        assert secret not in done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        assert "cannot open storage postgresql://stratopt:***@127.0.0.1" in done.stderr
    assert "password authentication failed" in _one_line_error(bad)
    assert "refused" in _one_line_error(down)


def _one_line_error(url: str) -> str:
    with pytest.raises(StorageError) as err:
        open_storage(url)
    msg = str(err.value)
    assert "Wr0ng-Secret-pw" not in msg and "\n" not in msg
    return msg


def test_password_from_pgpassword_and_url_from_the_environment(
    tmp_path: Path, postgres: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASSWORD", "s3cret-pw_for-tests")
    monkeypatch.setenv("STRATOPT_STORAGE", postgres.url(password=None))
    url = resolve_storage_url(None, "sqlite:///ignored.db", tmp_path)
    assert url == postgres.url(password=None)
    res = optimize(
        lambda p: {"sharpe": float(p["x"]), "trades": 50.0},
        {"x": [1, 2, 3]},
        method="grid",
        study_name="env_pg",
        output=tmp_path / "runs",
    )
    assert res.counts["complete"] == 3
    assert res.storage == postgres.url(password=None)


def test_launched_workers_get_the_url_through_the_environment_not_argv(
    tmp_path: Path, postgres: Any
) -> None:
    path = _study_file(tmp_path, "argv", method="grid", trials=4)
    url = postgres.url()
    env = _env(None, url)
    # workers stay alive long enough to be looked at; short, because the analyses after
    # the search re-run candidates (about 40 calls) with the same delay
    env["SLEEPY_DELAY_MS"] = "200"
    proc = subprocess.Popen(
        _cli("launch", "-n", "2", str(path)), env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    seen: dict[int, tuple[str, str]] = {}
    while proc.poll() is None:
        for child in _children(proc.pid):
            try:
                argv = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
                environ = Path(f"/proc/{child}/environ").read_bytes()
            except OSError:
                continue
            seen[child] = (argv.decode(), environ.decode(errors="replace"))
        time.sleep(0.2)
    out, err = (b.decode() for b in proc.communicate())
    assert proc.returncode == 0, err
    workers = [(argv, env) for argv, env in seen.values() if " worker " in argv]
    assert len(workers) == 2  # the others: the report's re-runs, in their own processes
    for argv, _ in seen.values():
        assert "s3cret" not in argv and "postgresql" not in argv
    for _, environ in workers:
        assert f"STRATOPT_STORAGE={url}" in environ
    assert "s3cret" not in out + err


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(c) for c in path.read_text().split()]
    except OSError:
        return []


def test_a_killed_runs_orphan_is_failed_and_retried_by_the_next_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    beat = Heartbeat(interval=1, grace=2)
    study = optuna.create_study(
        study_name="orphan", storage=open_storage(url, heartbeat=beat), direction="maximize"
    )
    orphan = ask(study)  # study.ask, without Optuna's heartbeat warning
    orphan.suggest_int("x", 0, 99)
    study._storage.record_heartbeat(orphan._trial_id)  # then the process "dies"
    # SQLite's now() has whole seconds: 3.5 s is past the 2 s grace whatever the fraction.
    time.sleep(3.5)
    res = optimize(
        lambda p: {"sharpe": float(p["x"]), "trades": 50.0},
        {"x": {"low": 0, "high": 99}},
        method="random",
        trials=5,
        batch=1,
        storage=url,
        study_name="orphan",
        output=tmp_path / "runs",
        heartbeat=beat,
    )
    assert res.counts["complete"] == 5
    trials = optuna.load_study(study_name="orphan", storage=url).trials
    assert trials[0].state == TrialState.FAIL
    assert record(trials[0])["error"].startswith("no heartbeat for ")  # issue 21 item 15
    assert record(trials[0])["error"].endswith(" s (process killed?)")
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == 0]
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE
    assert retry[0].params == trials[0].params


def test_the_storage_url_comes_from_flag_then_env_then_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STRATOPT_STORAGE", raising=False)
    assert resolve_storage_url(None, "sqlite:///f.db", tmp_path) == "sqlite:///f.db"
    assert resolve_storage_url(None, None, tmp_path).endswith("stratopt.db")
    monkeypatch.setenv("STRATOPT_STORAGE", "sqlite:///env.db")
    assert resolve_storage_url(None, "sqlite:///f.db", tmp_path) == "sqlite:///env.db"
    assert resolve_storage_url("sqlite:///x.db", "sqlite:///f.db", tmp_path) == "sqlite:///x.db"

"""A password never shows (issue 22 item 6), and a bad start creates nothing (item 7).

Real PostgreSQL: a role whose password holds '@', ':' and '/' unencoded; the password
is looked for in the output, the run folder, the study's attributes and every process's
/proc/<pid>/cmdline.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
import sqlalchemy as sa
import yaml

from tests.workers.test_faults import _children, _slow_study, _stop
from tests.workers.test_workers import _cli, _env

AT_PASSWORD = "p@ss:w/rd@42"
# What a parser that splits at the first '@' leaves of it: none may show anywhere.
FRAGMENTS = (AT_PASSWORD, "ss:w/rd", "w/rd@42", "rd@42")


@pytest.fixture(scope="module")
def at_url(postgres: Any) -> str:
    """A role whose password holds '@', ':' and '/', as a user would type its URL."""
    engine = sa.create_engine(postgres.url().replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(sa.text("DROP ROLE IF EXISTS atuser"))
        conn.execute(sa.text(f"CREATE ROLE atuser LOGIN SUPERUSER PASSWORD '{AT_PASSWORD}'"))
    engine.dispose()
    return f"postgresql://atuser:{AT_PASSWORD}@{postgres.host}:{postgres.port}/postgres"


def _leaks(*texts: str) -> list[str]:
    return [f for f in FRAGMENTS if any(f in t for t in texts)]


def _with_data_path(path: Path, data: Path) -> Path:
    cfg = yaml.safe_load(path.read_text())
    cfg["data"] = {"path": str(data)}
    path.write_text(yaml.safe_dump(cfg))
    return path


def _folder_text(root: Path) -> str:
    return "".join(
        p.read_text(errors="replace") for p in root.rglob("*") if p.is_file() and p.suffix != ".db"
    )


def test_an_unencoded_at_in_the_password_works_and_never_shows(tmp_path: Path, at_url: str) -> None:
    path = _slow_study(tmp_path, "at_pw", size=6, delay_ms=0)
    done = subprocess.run(
        _cli("optimize", str(path), "--storage", at_url), env=_env(None), capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert not _leaks(done.stdout, done.stderr, _folder_text(tmp_path / "runs"))
    storage = optuna.storages.RDBStorage(at_url.replace(AT_PASSWORD, "p%40ss%3Aw%2Frd%4042"))
    study = optuna.load_study(study_name="at_pw", storage=storage)
    system = storage.get_study_system_attrs(study._study_id)
    attrs = json.dumps([study.user_attrs, system], default=str)
    trials = json.dumps([t.user_attrs for t in study.trials], default=str)
    assert not _leaks(attrs, trials)
    storage.engine.dispose()
    wrong = at_url.replace(AT_PASSWORD, "x@wrong:pw/" + AT_PASSWORD)
    bad = subprocess.run(
        _cli("optimize", str(path), "--storage", wrong), env=_env(None), capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert bad.returncode == 1, bad.stderr
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert "wrong" not in bad.stderr and not _leaks(bad.stdout, bad.stderr)


@pytest.mark.parametrize("how", ["--storage", "--set"])
def test_the_launchers_command_line_does_not_show_the_password(
    tmp_path: Path, at_url: str, how: str
) -> None:
    path = _slow_study(tmp_path, "argv_pw", size=40, delay_ms=100)
    given = ["--storage", at_url] if how == "--storage" else ["--set", f"storage={at_url}"]
    cmd = _cli("launch", "-n", "2", str(path), "--no-report", *given)
    proc = subprocess.Popen(cmd, env=_env(None), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
    seen: dict[int, set[str]] = {}  # from the moment the launcher has started workers
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            workers = _children(proc.pid)
            for pid in [proc.pid, *workers] if workers else []:
                with contextlib.suppress(OSError):
                    line = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                    seen.setdefault(pid, set()).add(line)
            time.sleep(0.1)
        out, err = (b.decode() for b in proc.communicate(timeout=300))
    finally:
        _stop([proc], group=True)
    assert proc.returncode == 0, err
    assert len(seen) >= 3  # the launcher and its two workers
    assert not _leaks(out, err, *[line for lines in seen.values() for line in lines])


def test_a_data_file_that_is_not_bars_is_named_not_echoed(tmp_path: Path) -> None:
    secret = tmp_path / "environ"
    secret.write_bytes(b"PGPASSWORD=hunter2-very-secret\0HOME=/root\0")
    path = _with_data_path(_slow_study(tmp_path, "bad_data", size=6, delay_ms=0), secret)
    done = subprocess.run(
        _cli("optimize", str(path)), env=_env(None), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert "hunter2" not in done.stdout + done.stderr
    assert "environ" in done.stderr and "bytes" in done.stderr


@pytest.mark.parametrize("command", ["launch", "worker"])
def test_a_bad_data_path_exits_2_and_creates_nothing(tmp_path: Path, command: str) -> None:
    path = _slow_study(tmp_path, "no_data", size=6, delay_ms=0)
    _with_data_path(path, tmp_path / "missing.csv")
    args = ["-n", "2"] if command == "launch" else []
    done = subprocess.run(
        _cli(command, *args, str(path)), env=_env(None), capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "missing.csv" in done.stderr and "Traceback" not in done.stderr
    runs = tmp_path / "runs"
    assert not runs.exists() or not [p for p in runs.rglob("*") if p.suffix != ".db"]
    db = runs / "stratopt.db"
    if db.exists():  # a storage opened is fine; a study created is not
        assert optuna.get_all_study_names(f"sqlite:///{db}") == []

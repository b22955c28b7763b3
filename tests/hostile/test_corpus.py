"""The hostile-input corpus through the real CLI: refused with exit code 2, one message
naming the field or row and the value, no traceback, and nothing already stored touched.

A valid study is first optimized into a SQLite storage and output folder; every broken
input then runs against that same storage and folder, whose bytes must not change.
The corpus and the words each message must hold are listed in cases.yaml.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml

from stratopt.cli import main

HERE = Path(__file__).resolve().parent
VALID = HERE / "valid.yaml"
COMMANDS = ("backtest", "optimize")


@dataclass(frozen=True)
class Case:
    """One broken input of cases.yaml."""

    id: str
    study: str
    args: tuple[str, ...]
    commands: tuple[str, ...]
    process: tuple[str, ...]
    expect: tuple[str, ...]
    make: str | None


def _load_cases() -> list[Case]:
    raw = yaml.safe_load((HERE / "cases.yaml").read_text(encoding="utf-8"))["cases"]
    return [
        Case(
            id=c["id"],
            study=c.get("study", "valid.yaml"),
            args=tuple(c.get("args", ())),
            commands=tuple(c.get("commands", COMMANDS)),
            process=tuple(c.get("process", ())),
            expect=tuple(c["expect"]),
            make=c.get("make"),
        )
        for c in raw
    ]


CASES = _load_cases()


# --- inputs built at test time: too big, too deep or too binary to keep in git


def _deep_yaml(folder: Path) -> Path:
    path = folder / "deep.yaml"
    path.write_text(VALID.read_text() + "params: " + "[" * 1000 + "]" * 1000 + "\n")
    return path


def _deep_json(folder: Path) -> Path:
    path = folder / "deep.json"
    path.write_text('{"name": "hostile_baseline", "params": ' + "[" * 100_000 + "]" * 100_000 + "}")
    return path


def _huge_yaml(folder: Path) -> Path:
    path = folder / "huge.yaml"
    text = VALID.read_text()
    path.write_text(text + "# " + "x" * (3_000_000 - len(text) - 3) + "\n")
    assert path.stat().st_size == 3_000_000
    return path


def _good_frame() -> pd.DataFrame:
    return pd.read_csv(HERE / "data" / "good.csv")


def _parquet(name: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        change(_good_frame()).to_parquet(path)
        return path

    return make


MAKERS: dict[str, Callable[[Path], Path]] = {
    "deep_yaml": _deep_yaml,
    "deep_json": _deep_json,
    "huge_yaml": _huge_yaml,
    "parquet_bool_prices": _parquet("bool_prices.parquet", lambda f: f.assign(open=f.open > 100)),
    "parquet_datetime_prices": _parquet(
        "datetime_prices.parquet", lambda f: f.assign(high=pd.to_datetime(f.timestamp))
    ),
    "parquet_list_prices": _parquet(
        "list_prices.parquet", lambda f: f.assign(close=[[1.0, 2.0]] * len(f))
    ),
    "parquet_text_prices": _parquet(
        "text_prices.parquet",
        lambda f: f.assign(close=f.close.astype(str).where(f.index != 6, "n/a")),
    ),
}


# --- the stored study that no broken input may touch


@dataclass(frozen=True)
class Stored:
    root: Path
    url: str
    before: dict[str, str]


def _snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under `root`: the sha256 of each file, "dir" for each folder."""
    out = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        out[key] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _cli_subprocess(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stratopt.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Stored:
    """A valid study optimized into root/stratopt.db and root/hostile_baseline/<run>/."""
    root = tmp_path_factory.mktemp("stored")
    url = f"sqlite:///{root / 'stratopt.db'}"
    # A real process: its SQLite connections are closed (and the WAL checkpointed) at exit.
    proc = _cli_subprocess("optimize", VALID, "--storage", url, "--output", root, cwd=root)
    assert proc.returncode == 0, proc.stderr
    with contextlib.closing(sqlite3.connect(root / "stratopt.db")) as db:
        states = db.execute("SELECT state FROM trials").fetchall()
    assert states == [("COMPLETE",)] * 6  # the 6 grid points of valid.yaml
    runs = list((root / "hostile_baseline").iterdir())
    assert len(runs) == 1 and (runs[0] / "summary.json").is_file()
    return Stored(root, url, _snapshot(root))


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("made")


def _argv(case: Case, command: str, stored: Stored, made: Path) -> list[str]:
    made_path = str(MAKERS[case.make](made)) if case.make else ""
    study = str(HERE / case.study.replace("{made}", made_path))
    extra = [a.replace("{made}", made_path) for a in case.args]
    if command == "optimize":
        # The broken input is pointed at the stored study: same name, storage and output.
        return [command, study, "--storage", stored.url, "--output", str(stored.root), *extra]
    return [command, study, *extra]


def _run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code: int | str | None = 0
    try:
        main(argv)
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return int(code or 0), out.out, out.err


def _words(text: str) -> str:
    return " ".join(text.split())


def _assert_refused(code: int, out: str, err: str, case: Case, command: str) -> None:
    where = f"{case.id} ({command}):\n{err}{out}"
    assert code == 2, where
    assert "Traceback" not in err, where
    assert err.startswith("error:") and len(re.findall(r"^error:", err, re.M)) == 1, where
    assert out == "", where
    for fragment in case.expect:
        assert _words(fragment) in _words(err), f"{fragment!r} missing in {where}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_broken_input_is_refused_and_changes_nothing(
    case: Case,
    stored: Stored,
    made: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # nothing may be written in the working folder either
    for command in case.commands:
        code, out, err = _run_main(_argv(case, command, stored, made), capsys)
        _assert_refused(code, out, err, case, command)
    for command in case.process:
        proc = _cli_subprocess(*_argv(case, command, stored, made), cwd=tmp_path)
        _assert_refused(proc.returncode, proc.stdout, proc.stderr, case, command)
    if any(stored.root.glob("*-wal")):
        # A refused study that had to read the storage (stored_other_*) leaves an Optuna
        # storage behind; collecting it closes its SQLite connection as a process exit would.
        gc.collect()
    assert _snapshot(stored.root) == stored.before
    assert list(tmp_path.iterdir()) == []


def test_corpus_files_are_all_listed() -> None:
    """Every file of studies/ and data/ is a case (or the valid data), so none is dead."""
    listed = " ".join(f"{c.study} {' '.join(c.args)}" for c in CASES)
    for path in [*(HERE / "studies").iterdir(), *(HERE / "data").iterdir()]:
        if path.name != "good.csv":
            assert f"{path.parent.name}/{path.name}" in listed, path

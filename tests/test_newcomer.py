"""A newcomer's first hour, scripted: study files written on the fly, the CLI run as a
subprocess at 80 columns (issue 21: items 1, 4 and 9 end to end)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

STUDY = """\
name: first
data: {synthetic: {bars: 800, seed: 1, edge_period: 90}}
strategy: sma_cross
space: {fast: [3, 5, 8], slow: [20, 40]}
search: {method: grid}
output: runs
"""

BUGGY = """\
import numpy as np
from stratopt import Strategy
from stratopt.strategies import IntParam


class Buggy(Strategy):
    n = IntParam(5, low=2, high=500)

    def signals(self, bars, p, cache):
        return np.ones(len(bars), dtype=np.int8)[len(bars) + p["n"] * 0]
"""


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run(
        [sys.executable, "-m", "stratopt.cli", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_reruns_failures_and_finished_studies_are_explained(tmp_path: Path) -> None:
    (tmp_path / "study.yaml").write_text(STUDY)
    first = _cli(tmp_path, "optimize", "study.yaml", "--no-analysis")
    assert first.returncode == 0, first.stderr
    assert "nothing to run" not in first.stdout
    # Item 7: at 80 columns the best is a line to copy whole, the value column is named.
    assert "best: --set params.fast=5 --set params.slow=20" in first.stdout
    header = next(s for s in first.stdout.splitlines() if s.lstrip().startswith("rank"))
    assert "sharpe" in header and "value" not in header and "…" not in first.stdout
    # Item 9: a finished study says so instead of printing the old table as if it ran.
    again = _cli(tmp_path, "optimize", "study.yaml", "--no-analysis")
    assert again.returncode == 0, again.stderr
    assert "6 of 6 trials already complete — nothing to run (`--trials 12` to extend)" in (
        again.stdout
    )
    # Item 1: another objective under the same name is refused, with what changed.
    changed = _cli(tmp_path, "optimize", "study.yaml", "--no-analysis",
                   "--set", "objective=sortino")  # fmt: skip
    assert changed.returncode == 2 and "Traceback" not in changed.stderr
    message = " ".join(changed.stderr.split())
    assert 'objective: "sharpe" -> "sortino"' in message and "--fork NEW_NAME" in message
    fork = _cli(tmp_path, "optimize", "study.yaml", "--no-analysis",
                "--set", "objective=sortino", "--fork", "first_sortino")  # fmt: skip
    assert fork.returncode == 0, fork.stderr
    assert "trials: 6 complete" in fork.stdout
    # Item 4: unmeetable requirements name the closest candidates and what they miss.
    unmet = _cli(tmp_path, "optimize", "study.yaml", "--no-analysis", "--set", "name=strict",
                 "--set", "require={sharpe: '>= 50'}")  # fmt: skip
    assert unmet.returncode == 1
    assert "no candidate met the requirements; the 5 closest:" in unmet.stdout
    lines = [s for s in unmet.stdout.splitlines() if s.startswith("  trial ")]
    assert len(lines) == 5 and all("sharpe" in s and "< 50.0" in s for s in lines)
    # Item 4: a deterministic strategy bug stops the study early, its error counted.
    (tmp_path / "buggy.py").write_text(BUGGY)
    buggy = _cli(tmp_path, "optimize", "study.yaml", "--no-analysis", "--set", "name=buggy",
                 "--set", "strategy=buggy.py:Buggy", "--set", "space={n: {low: 2, high: 500}}",
                 "--set", "search={method: random, trials: 200, batch: 4}")  # fmt: skip
    assert buggy.returncode == 1
    out = " ".join(buggy.stdout.split())
    assert "stopped by the first 12 candidates failed with the same error (IndexError)" in out
    assert "failed 12 x: IndexError: index 800 is out of bounds" in out


def test_storage_is_found_from_the_study_file_and_reading_creates_nothing(
    tmp_path: Path,
) -> None:
    (tmp_path / "study.yaml").write_text(STUDY + "storage: sqlite:///db/studies.db\n")
    (tmp_path / "db").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # Item 8: a relative SQLite URL is relative to the study file, as `output:` is.
    run = _cli(elsewhere, "optimize", "../study.yaml", "--no-analysis")
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "db" / "studies.db").is_file()
    assert not (elsewhere / "db").exists()
    listed = _cli(elsewhere, "studies", "../study.yaml")
    assert listed.returncode == 0, listed.stderr
    assert f"storage read: sqlite:///{tmp_path / 'db' / 'studies.db'}" in listed.stdout
    assert "first" in listed.stdout
    shown = _cli(elsewhere, "show", "../study.yaml", "--top", "3")
    assert shown.returncode == 0 and "storage read: " in shown.stdout
    # Read-only commands never create a database where they look.
    for args in (["studies"], ["show", "first"], ["cleanup", "first", "--keep-top", "1"]):
        proc = _cli(elsewhere, *args)
        assert proc.returncode == 2 and "no study database at" in proc.stderr, args
    assert sorted(p.name for p in elsewhere.iterdir()) == []

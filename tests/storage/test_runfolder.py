"""Provenance in the run folder: the git state of the user's working directory, versions."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from stratopt.storage import git_commit, versions

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=t@example.org", "-c", "user.name=t", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@needs_git
def test_git_state_of_the_working_directory(tmp_path: Path) -> None:
    assert git_commit(tmp_path) is None  # not a repository
    _git(tmp_path, "init", "-q")
    assert git_commit(tmp_path) is None  # no commit yet
    (tmp_path / "strategy.py").write_text("x = 1\n")
    _git(tmp_path, "add", "strategy.py")
    _git(tmp_path, "commit", "-qm", "first")
    head = _git(tmp_path, "rev-parse", "HEAD")
    assert git_commit(tmp_path) == {"commit": head, "dirty": False}
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "summary.json").write_text("{}")
    assert git_commit(tmp_path) == {"commit": head, "dirty": False}  # untracked: not dirty
    (tmp_path / "strategy.py").write_text("x = 2\n")
    assert git_commit(tmp_path) == {"commit": head, "dirty": True}
    _git(tmp_path, "add", "strategy.py")
    assert git_commit(tmp_path) == {"commit": head, "dirty": True}  # staged counts too


def test_versions_are_a_fresh_copy_each_time() -> None:
    first = versions()
    first["numpy"] = "changed"
    assert versions()["numpy"] != "changed"
    assert set(versions()) == {"python", "stratopt", "numpy", "numba", "pandas", "optuna"}

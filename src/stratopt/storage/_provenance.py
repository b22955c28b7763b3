"""Where a result came from: the git commit, the package versions, the data files' hashes."""

from __future__ import annotations

import functools
import hashlib
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["git_commit", "sha256", "versions"]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def git_commit(cwd: Path) -> dict[str, Any] | None:
    """HEAD of the git repository containing `cwd`, and whether tracked files have changed.

    One `git status` gives both. Untracked files do not make the tree dirty (as with
    `git describe --dirty`): a research repository fills up with run folders, and
    listing them would cost more than a fast search.
    """
    try:
        status = subprocess.run(
            ["git", "status", "--porcelain=v2", "--branch", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if status.returncode != 0:
        return None
    commit, changes = None, False
    for line in status.stdout.splitlines():
        if line.startswith("# branch.oid "):
            commit = line.removeprefix("# branch.oid ").strip()
        elif not line.startswith("#"):
            changes = True
    if commit is None or commit == "(initial)":
        return None
    return {"commit": commit, "dirty": changes}


def versions() -> dict[str, str]:
    """The versions of Python and of the packages a result depends on."""
    return dict(_versions())


@functools.cache  # fixed for the life of the process; importlib.metadata is slow
def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("stratopt", "numpy", "numba", "pandas", "optuna"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out

"""scripts/debian.py: the suite's installs of its components (PostgreSQL, Chromium)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"

# An apt-get that fails as the real one does when another holds apt's lock.
FAKE_APT = """#!/bin/sh
mkdir "$APT_HELD" 2>/dev/null || { echo "E: Could not get lock $APT_HELD" >&2; exit 100; }
sleep 1
rmdir "$APT_HELD"
"""

INSTALL = "import sys; sys.path.insert(0, sys.argv[1]); import debian; debian.apt_install('x')"


@pytest.mark.skipif(os.geteuid() != 0, reason="apt_install runs apt-get only as root")
def test_two_processes_installing_at_once_take_turns(tmp_path: Path) -> None:
    """Two pytest workers finding a component missing at once: neither fails on apt's
    lock (which made every test of that worker needing the component skip)."""
    fake = tmp_path / "bin" / "apt-get"
    fake.parent.mkdir()
    fake.write_text(FAKE_APT)
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}",
           "APT_HELD": str(tmp_path / "held")}  # fmt: skip
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", INSTALL, str(SCRIPTS)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    errors = [run.communicate(timeout=60)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], errors

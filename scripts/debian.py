"""Installing a Debian package for the test suite's own components (PostgreSQL, Chromium)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path


class Unavailable(RuntimeError):
    """The component is not installed and cannot be installed here."""


def apt_install(*packages: str, recommends: bool = False) -> None:
    """`apt-get update` then `apt-get install` (as root, on Debian or Ubuntu).

    Raises:
        Unavailable: not root, no apt-get, or apt-get failed (its last words quoted).
    """
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        names = " ".join(packages)
        raise Unavailable(f"{names} is not installed and apt-get as root is not available")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    extra = [] if recommends else ["--no-install-recommends"]
    wait = ["-o", "DPkg::Lock::Timeout=600"]  # another apt user (outside the suite)
    commands = (
        ["apt-get", *wait, "update", "-q"],
        ["apt-get", *wait, "install", "-y", "-q", *extra, *packages],
    )
    # The suite's workers (pytest-xdist) may each find a component missing at once: the
    # second apt-get would fail on apt's lock and its worker skip every test needing it.
    # They take turns instead (the later one's install is then a quick no-op).
    with (Path(tempfile.gettempdir()) / "stratopt-apt.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for cmd in commands:
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200)
            if done.returncode != 0:
                raise Unavailable(f"{' '.join(cmd)} failed: {done.stderr.strip()[-500:]}")

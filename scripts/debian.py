"""Installing a Debian package for the test suite's own components (PostgreSQL, Chromium)."""

from __future__ import annotations

import os
import shutil
import subprocess


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
    commands = (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", *extra, *packages],
    )
    for cmd in commands:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200)
        if done.returncode != 0:
            raise Unavailable(f"{' '.join(cmd)} failed: {done.stderr.strip()[-500:]}")

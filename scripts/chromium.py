"""Debian's Chromium, for the report's browser tests.

    python scripts/chromium.py        # install it if missing, print its path

The browser tests drive Chromium through playwright (from PyPI) with `executable_path`;
they never run `playwright install`, which downloads a browser build of its own. This
script finds the system's Chromium, installing Debian's `chromium` package with apt-get
when it is missing (as root, on Debian or Ubuntu).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

NAMES = ("chromium", "chromium-browser")
_DEBIAN_BINARY = Path("/usr/lib/chromium/chromium")


class Unavailable(RuntimeError):
    """Chromium is not installed and cannot be installed here."""


def find() -> Path | None:
    """The Chromium executable, or None."""
    # The real binary, not Debian's /usr/bin/chromium wrapper script: the wrapper reads
    # /etc/chromium.d and adds flags playwright does not expect.
    if _DEBIAN_BINARY.is_file():
        return _DEBIAN_BINARY
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def install() -> Path:
    """The Chromium executable, installing Debian's `chromium` with apt-get if needed."""
    found = find()
    if found is not None:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise Unavailable("Chromium is not installed and apt-get as root is not available")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    commands = (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"],
    )
    for cmd in commands:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200)
        if done.returncode != 0:
            raise Unavailable(f"{' '.join(cmd)} failed: {done.stderr.strip()[-500:]}")
    found = find()
    if found is None:
        raise Unavailable("apt-get installed chromium but its executable was not found")
    return found


if __name__ == "__main__":
    print(install())

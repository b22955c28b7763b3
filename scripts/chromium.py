"""Debian's Chromium, for the report's browser tests.

    python scripts/chromium.py        # install it if missing, print its path

The browser tests drive Chromium through playwright (from PyPI) with `executable_path`;
they never run `playwright install`, which downloads a browser build of its own. This
script finds the system's Chromium, installing Debian's `chromium` package with apt-get
when it is missing (as root, on Debian or Ubuntu).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/ is not a package
from debian import Unavailable, apt_install

__all__ = ["Unavailable", "find", "install"]

NAMES = ("chromium", "chromium-browser")
_DEBIAN_BINARY = Path("/usr/lib/chromium/chromium")


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
    apt_install("chromium")
    found = find()
    if found is None:
        raise Unavailable("apt-get installed chromium but its executable was not found")
    return found


if __name__ == "__main__":
    print(install())

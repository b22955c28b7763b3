"""An in-memory study never imports SQLAlchemy: the storage modules import it where
they use it (~0.1 s of every command's start, cold or warm)."""

from __future__ import annotations

import subprocess
import sys


def test_storage_and_the_cli_commands_load_no_sqlalchemy() -> None:
    code = (
        "import sys, stratopt.storage, stratopt.cli._commands; print('sqlalchemy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"]


def test_a_memory_storage_opens_without_sqlalchemy() -> None:
    code = (
        "import sys; from stratopt.storage import open_storage; "
        "open_storage('memory'); print('sqlalchemy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"]

"""`stratopt mcp`'s own checks, before any server starts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from stratopt.cli import main


def test_without_the_extra_it_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "mcp.server.mcpserver", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "stratopt.mcp_server._server", raising=False)
    with pytest.raises(SystemExit) as exit_:
        main(["mcp", "--root", str(tmp_path)])
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert "pip install 'stratopt[mcp]'" in err and "Traceback" not in err


def test_a_root_that_is_no_folder_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["mcp", "--root", str(tmp_path / "none")])
    assert exit_.value.code == 2
    assert "--root" in capsys.readouterr().err

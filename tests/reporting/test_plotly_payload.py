"""plotly.js compressed for the page once, kept on disk, the same bytes every time."""

from __future__ import annotations

import base64
import gzip
from pathlib import Path

import pytest

import stratopt.reporting._plotly_payload as payload_module
from stratopt.reporting._plotly_payload import plotly_gzip_b64, plotly_js

pytest.importorskip("plotly")


def _fresh() -> str:
    return base64.b64encode(gzip.compress(plotly_js(), compresslevel=9, mtime=0)).decode()


def test_kept_after_the_first_report_and_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(payload_module, "_FOLDER", tmp_path / "__pycache__")
    first = plotly_gzip_b64()
    assert first == _fresh()
    (kept,) = (tmp_path / "__pycache__").iterdir()
    assert kept.read_text("ascii") == first and kept.name.startswith("plotly-")

    def no_compress(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("compressed again")

    monkeypatch.setattr(payload_module.gzip, "compress", no_compress)
    assert plotly_gzip_b64() == first  # read from the kept file


def test_an_unwritable_folder_compresses_each_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")  # a file where the folder would be: mkdir fails
    monkeypatch.setattr(payload_module, "_FOLDER", blocker / "__pycache__")
    assert plotly_gzip_b64() == _fresh()
    assert plotly_gzip_b64() == _fresh()
    assert list(tmp_path.iterdir()) == [blocker]


def test_another_plotly_file_is_another_kept_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(payload_module, "_FOLDER", tmp_path / "__pycache__")
    plotly_gzip_b64()
    other = tmp_path / "plotly.min.js"
    other.write_bytes(b"/* another plotly */")
    monkeypatch.setattr(payload_module, "_source", lambda: other)
    assert (
        plotly_gzip_b64()
        == base64.b64encode(gzip.compress(other.read_bytes(), compresslevel=9, mtime=0)).decode()
    )
    assert len(list((tmp_path / "__pycache__").iterdir())) == 2


def test_a_kept_file_cut_short_is_not_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash or a full disk can leave a cut file: it is compressed again, not embedded."""
    monkeypatch.setattr(payload_module, "_FOLDER", tmp_path / "__pycache__")
    first = plotly_gzip_b64()
    (kept,) = (tmp_path / "__pycache__").iterdir()
    for cut in (first[:1000], first[:-4], first[:-12] + "A" * 12):
        kept.write_text(cut, "ascii")
        assert plotly_gzip_b64() == first
        assert kept.read_text("ascii") == first  # saved whole again

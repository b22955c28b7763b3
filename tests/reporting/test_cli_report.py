"""The report from the command line: written by default, skipped on request, and one
clear line (exit 2) when the report extra is missing."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from stratopt.cli import main
from tests.reporting.conftest import Runs
from tests.reporting.studies import study_file

GRID = {"method": "grid"}
SPACE = {"fast": [3, 5, 8], "slow": [30, 60]}


def _run(capsys: pytest.CaptureFixture[str], *args: Any) -> tuple[int, str, str]:
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _without_plotly(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name.split(".")[0] == "plotly" else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_optimize_writes_the_report_unless_told_not_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = study_file(tmp_path, "cli_report", search=GRID, space=SPACE, validation={})
    code, out, _ = _run(capsys, "optimize", study)
    assert code == 0
    last = out.strip().splitlines()[-1]
    assert last.startswith("report: ") and last.endswith("report.html")
    report = Path(last.removeprefix("report: "))
    assert report.is_file() and (report.parent / "summary.json").is_file()
    assert "window.__STRATOPT_REPORT__" in report.read_text()
    code, out, _ = _run(capsys, "optimize", study, "--no-report")
    assert code == 0 and not any(line.startswith("report: ") for line in out.splitlines())
    folder = Path(out.split("run folder:")[1].split()[0])
    assert not (folder / "report.html").exists()


def test_without_the_extra_one_line_and_exit_2(
    runs: Runs, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_plotly(monkeypatch)
    code, _, err = _run(capsys, "report", runs.tpe, "--out", tmp_path / "r.html")
    assert code == 2
    assert err.strip().count("\n") == 0 and "Traceback" not in err
    assert "plotly" in err and "pip install 'stratopt[report]'" in err
    assert not (tmp_path / "r.html").exists()
    study = study_file(tmp_path, "no_extra", search=GRID, space=SPACE, validation={})
    code, _, err = _run(capsys, "optimize", study)
    assert code == 0 and "report.html skipped: the report needs plotly" in err


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--plotlyjs", "webgl"], "--plotlyjs: 'webgl'"),
        (["--max-trials", "0"], "--max-trials"),
    ],
)
def test_bad_options_exit_2(
    runs: Runs, capsys: pytest.CaptureFixture[str], args: list[str], fragment: str
) -> None:
    code, _, err = _run(capsys, "report", runs.tpe, *args)
    assert code == 2 and fragment in err


def test_not_a_run_folder_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "report", tmp_path)
    assert code == 2 and "not a run folder" in err


def test_plotlyjs_modes(runs: Runs, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sizes = {}
    for mode in ("gzip", "inline", "directory", "cdn"):
        out = tmp_path / mode / "report.html"
        code, _, err = _run(capsys, "report", runs.tpe, "--out", out, "--plotlyjs", mode)
        assert code == 0, err
        sizes[mode] = out.stat().st_size
        html = out.read_text()
        assert html.count("plotly.js v") <= 1  # embedded once at most
    assert (tmp_path / "directory" / "plotly.min.js").is_file()
    assert 'src="plotly.min.js"' in (tmp_path / "directory" / "report.html").read_text()
    assert "cdn.plot.ly/plotly-" in (tmp_path / "cdn" / "report.html").read_text()
    assert sizes["inline"] > sizes["gzip"] + 2_000_000 > sizes["directory"] + 2_000_000


def test_a_study_file_is_reported_from_its_newest_run(
    runs: Runs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "from_study.html"
    code, printed, err = _run(capsys, "report", runs.tpe_study, "--out", out)
    assert code == 0, err
    assert printed.strip() == f"report: {out.resolve()}"
    assert str(runs.tpe) in out.read_text()  # the manifest names the run folder it read

"""The report of a two-stage (`stratopt ml`) run folder, opened in a real headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import stratopt
from stratopt import ml
from stratopt.cli import main
from stratopt.reporting import number
from tests.reporting.page import assert_rendered, open_report

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ml_two_stage_synthetic.yaml"
SMALL = ["data.synthetic.assets=8", "stage1.trials=3", "stage2.trials=16"]
# The stage-2 space has three parameters: three pairs drawn as heatmaps.
TWO_STAGE_FIGURES = [
    "fig-ml-stage1",
    "fig-ml-folds",
    "fig-ml-sharpe",
    "fig-history",
    "fig-parallel",
    "fig-heatmap-0",
    "fig-heatmap-1",
    "fig-heatmap-2",
]


def _tune(root: Path, **options: Any) -> Path:
    overrides = [*SMALL, f"output={root}"]
    run = ml.tune(EXAMPLE, ml.TuneOptions(storage="memory", overrides=overrides, **options))
    return Path(run.run_folder)


def _report(capsys: pytest.CaptureFixture[str], folder: Path) -> Path:
    try:
        main(["report", str(folder)])
    except SystemExit as exit_:
        assert exit_.code in (0, None), capsys.readouterr().err
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("report: ")]
    assert lines, out
    return Path(lines[-1].removeprefix("report: ").strip())


def _plotted(page: Any, fig_id: str) -> list[dict[str, Any]]:
    """The traces plotly drew in a figure div (x, y and error bars as the page has them)."""
    return list(
        page.evaluate(
            """id => document.getElementById(id).data.map(t => ({
                name: t.name, x: Array.from(t.x), y: Array.from(t.y),
                err: t.error_y ? Array.from(t.error_y.array) : null}))""",
            fig_id,
        )
    )


def test_two_stage_run(browser: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _tune(tmp_path / "runs")
    path = _report(capsys, folder)
    assert path == (folder / "report.html").resolve()
    opened = open_report(browser, path, tmp_path / "ml.png", TWO_STAGE_FIGURES)
    assert_rendered(opened, TWO_STAGE_FIGURES)
    summary = json.loads((folder / "summary.json").read_text())
    best, over = summary["stage2"]["best"], summary["overfitting"]
    # The verdict shows the run's own numbers: both Sharpes, both DSRs, the PBO.
    for value in (
        best["development_sharpe"],
        best["holdout_sharpe"],
        over["dsr_development"]["n2"],
        over["dsr_development"]["n1xn2"],
        over["dsr_holdout"]["n1xn2"],
        over["pbo"]["value"],
        summary["stage1"]["models"][0]["holdout"]["rank_ic"],
    ):
        assert number(value) in opened.text
    assert summary["data"]["sha256"] in opened.text
    # The folds figure: each fold's stored rank IC and ± 2 SE, then the holdout's.
    model = summary["stage1"]["models"][0]
    (drawn,) = _plotted(opened.page, "fig-ml-folds")
    points = [*model["folds"], model["holdout"]]
    assert drawn["y"] == [p["rank_ic"] for p in points]
    assert drawn["err"] == [2 * p["rank_ic_se"] for p in points]
    assert drawn["x"][-1] == "holdout" and len(drawn["x"]) == len(model["folds"]) + 1
    # Development vs holdout Sharpe of every candidate holdout.csv re-ran.
    dev, hold = _plotted(opened.page, "fig-ml-sharpe")
    assert dev["y"][0] == best["development_sharpe"] and hold["y"][0] == best["holdout_sharpe"]
    # The study file is reported from its newest run folder.
    study = tmp_path / "study.yaml"
    study.write_text(EXAMPLE.read_text().replace("output: runs", f"output: {tmp_path / 'runs'}"))
    assert stratopt.report(study) == folder / "report.html"


def test_a_two_stage_study_file_without_runs_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = tmp_path / "study.yaml"
    study.write_text(EXAMPLE.read_text())
    with pytest.raises(SystemExit) as exit_:
        main(["report", str(study)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "two-stage study with no run folder" in err and "Traceback" not in err


def test_stage1_only_run(browser: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _tune(tmp_path / "runs", stages="stage1")
    path = _report(capsys, folder)
    expected = ["fig-ml-stage1", "fig-ml-folds", "fig-history", "fig-parallel",
                "fig-heatmap-0", "fig-heatmap-1", "fig-heatmap-2"]  # fmt: skip
    opened = open_report(browser, path, tmp_path / "ml_stage1.png", expected)
    assert_rendered(opened, expected)
    assert "stage 1 only" in opened.text
    stored = json.loads((folder / "summary.json").read_text())["stage1"]["models"][0]
    (drawn,) = _plotted(opened.page, "fig-ml-folds")
    assert drawn["y"] == [f["rank_ic"] for f in stored["folds"]]  # no holdout: not touched

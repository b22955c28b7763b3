"""The report in a real headless Chromium, offline: every figure drawn, no request made.

One browser for the module; each test opens one report of a real run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import stratopt
from stratopt.cli import main
from stratopt.reporting import number
from tests.reporting.conftest import Runs
from tests.reporting.page import assert_rendered, open_report
from tests.reporting.studies import study_file

STUDY_FIGURES = [
    "fig-history",
    "fig-importance",
    "fig-parallel",
    "fig-sensitivity-0",
    "fig-sensitivity-1",
    "fig-sensitivity-2",
    "fig-heatmap-0",
    "fig-heatmap-1",
    "fig-heatmap-2",
    "fig-equity-0",
    "fig-pbo-logits",
    "fig-pbo-scatter",
    "fig-mc-fan",
    "fig-mc-drawdown",
]


def _cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> str:
    try:
        main([str(a) for a in args])
    except SystemExit as exit_:
        assert exit_.code in (0, None), capsys.readouterr().err
    return capsys.readouterr().out


def _printed_report(out: str) -> Path:
    lines = [line for line in out.splitlines() if line.startswith("report: ")]
    assert lines, out
    return Path(lines[-1].removeprefix("report: ").strip())


def test_tpe_study_with_holdout(browser: Any, runs: Runs, tmp_path: Path) -> None:
    path = stratopt.report(runs.tpe)
    assert path == runs.tpe / "report.html"
    opened = open_report(browser, path, tmp_path / "tpe.png", STUDY_FIGURES)
    assert_rendered(opened, STUDY_FIGURES)
    summary = json.loads((runs.tpe / "summary.json").read_text())
    stats = summary["statistics"]
    # The verdict shows the stored statistics, formatted, not numbers made in the page.
    for value in (stats["dsr"]["value"], stats["pbo"]["pbo"], stats["spa"]["pvalue_consistent"]):
        assert number(value) in opened.text
    assert "holdout" in opened.text and summary["data"][0]["symbol"] in opened.text
    page = opened.page
    trials = sum(v for v in summary["counts"].values())
    assert page.locator("#trials-table tbody tr").count() == min(trials, 200)
    page.fill("[data-table=trials-table] .filter", "pruned")
    shown = page.locator("[data-table=trials-table] .shown").inner_text()
    href = page.get_attribute("[data-table=trials-table] .download", "href")
    assert href is not None and href.startswith("data:text/csv")
    assert shown.split()[0] == str(page.locator("#trials-table tbody tr").count())


def test_walk_forward_run(
    browser: Any, runs: Runs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wf = {"holdout": 0.2, "walk_forward": {"train": 400, "test": 150}}
    study = study_file(
        tmp_path, "wf_report", validation=wf, search={"method": "random", "trials": 8, "seed": 2}
    )
    path = _printed_report(_cli(capsys, "walk-forward", study, "--storage", "memory"))
    assert path.parent.parent.name == "walk-forward" and path.name == "report.html"
    expected = ["fig-wf-timeline", "fig-wf-windows", "fig-wf-drift", "fig-wf-stitched"]
    opened = open_report(browser, path, tmp_path / "walk_forward.png", expected)
    assert_rendered(opened, expected)
    stored = json.loads((path.parent / "walk_forward.json").read_text())
    assert number(stored["efficiency"]["sharpe"]) in opened.text


def test_validate_run(
    browser: Any, runs: Runs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _printed_report(_cli(capsys, "validate", runs.tpe))
    assert path.parent.parent.name == "validate"
    expected = [*STUDY_FIGURES, "fig-cpcv-paths"]
    opened = open_report(browser, path, tmp_path / "validate.png", expected)
    assert_rendered(opened, expected)
    validation = json.loads((path.parent / "validation.json").read_text())
    mdd = validation["monte_carlo"]["symbols"]["SYN"]["bootstrap"]["percentiles"]["max_drawdown"]
    # The fan and drawdown figures re-draw validate's own paths: the same percentiles.
    caption = opened.page.locator("#fig-mc-drawdown + figcaption").inner_text()
    assert f"{mdd['p50'] * 100:.1f}%" in caption


def test_multi_objective_study(browser: Any, runs: Runs, tmp_path: Path) -> None:
    path = stratopt.report(runs.multi, out=tmp_path / "multi.html")
    expected = [
        "fig-pareto",
        "fig-importance",
        "fig-parallel",
        "fig-equity-0",
        "fig-pbo-logits",
        "fig-pbo-scatter",
        "fig-mc-fan",
        "fig-mc-drawdown",
    ]
    opened = open_report(browser, path, tmp_path / "multi.png", expected)
    assert_rendered(opened, expected)
    assert "Pareto front" in opened.page.locator("#fig-pareto").inner_text()


def test_two_study_comparison(
    browser: Any, runs: Runs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "compare.html"
    path = _printed_report(_cli(capsys, "report", runs.tpe, runs.random, "--out", out))
    assert path == out.resolve()
    expected = ["fig-compare-history", *STUDY_FIGURES]
    opened = open_report(browser, path, tmp_path / "compare.png", expected)
    assert_rendered(opened, expected)
    legend = opened.page.locator("#fig-compare-history").inner_text()
    assert "tpe_holdout" in legend and "random_search" in legend

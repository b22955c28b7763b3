"""The shipped two-stage examples run and write the full honesty report."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from stratopt.ml import TuneOptions, tune
from tests.conftest import ROOT

REPORT_FILES = {
    "summary.json",
    "report.md",
    "stage1_trials.csv",
    "stage1_folds.csv",
    "stage2_trials.csv",
    "holdout.csv",
    "ranked_results.csv",
    "best_config.yaml",
    "best_config.json",
    "timings.json",
}


def check_report(folder: Path, *, ic: str) -> dict[str, object]:
    assert {p.name for p in folder.iterdir()} >= REPORT_FILES
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["config"]["ic"] == ic
    model = summary["stage1"]["models"][0]
    assert model["folds"] and all("rank_ic_se" in f for f in model["folds"])
    assert "rank_ic" in model["holdout"]
    best = summary["stage2"]["best"]
    for key in ("development_sharpe", "holdout_sharpe", "degradation"):
        assert key in best
    stats = summary["overfitting"]
    assert {"n2", "n1xn2"} <= set(stats["dsr_development"])
    assert "value" in stats["pbo"]
    assert summary["stage2"]["robust"]["trial"] >= 0
    holdout = pd.read_csv(folder / "holdout.csv")
    assert len(holdout) >= 1 and "holdout_sharpe" in holdout
    assert "Deflated Sharpe ratio" in (folder / "report.md").read_text()
    return summary


def test_btc_4h_example_on_real_data(tmp_path: Path, shared_data: Path) -> None:
    assert (shared_data / "BTCUSD_1h.csv.gz").is_file()
    result = tune(
        ROOT / "examples" / "ml_two_stage_btc.yaml",
        TuneOptions(
            storage="memory",
            overrides=[f"output={tmp_path}", "stage1.trials=4", "stage2.trials=40"],
        ),
    )
    summary = check_report(result.run_folder, ic="time_series")
    assert summary["data"]["symbols"] == ["BTCUSD"]
    assert summary["data"]["start"].startswith("2017-07-01")
    bars = summary["data"]["bars"]
    assert summary["holdout"]["bars"] == round(0.25 * bars)
    assert summary["lookahead"]["clean"] is True


def test_synthetic_example(tmp_path: Path) -> None:
    result = tune(
        ROOT / "examples" / "ml_two_stage_synthetic.yaml",
        TuneOptions(
            storage="memory",
            overrides=[f"output={tmp_path}", "stage1.trials=3", "stage2.trials=30"],
        ),
    )
    check_report(result.run_folder, ic="cross_sectional")

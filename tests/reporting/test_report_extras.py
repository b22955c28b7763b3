"""What the report computes with stratopt's functions agrees with what the run stored."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from stratopt.config import load_study
from stratopt.grid import backtest_grid_study
from stratopt.operations import load_target, optimize_study, study_report
from tests.reporting.conftest import Runs

ROOT = Path(__file__).resolve().parents[2]


def test_extras_reproduce_the_stored_statistics(runs: Runs) -> None:
    report = study_report(load_target(runs.tpe))
    summary = json.loads((runs.tpe / "summary.json").read_text())
    extras = report.extras
    assert extras.notes == ()
    pbo = summary["statistics"]["pbo"]
    assert extras.pbo is not None
    assert extras.pbo.pbo == pbo["pbo"] and extras.pbo.logits.size == pbo["combinations"]
    assert extras.pbo.candidates == pbo["strategies"]
    (curves,) = extras.curves
    holdout = summary["holdout"]
    assert curves.holdout_start == pd.Timestamp(holdout["start"])
    assert len(curves.best.index) == holdout["in_sample_bars"] + holdout["holdout_bars"]
    assert curves.best.trial == summary["best"]["trial"]
    assert extras.monte_carlo is not None and extras.monte_carlo.n_sims == 1000
    assert extras.monte_carlo.max_drawdown.size == 1000


def test_a_grid_studys_curves_and_fan_come_from_the_grid_engine(tmp_path: Path) -> None:
    study = tmp_path / "grid.yaml"
    text = (ROOT / "examples" / "hedge_grid_synthetic.yaml").read_text()
    study.write_text(text.replace("trials: 60", "trials: 6").replace("../runs", "runs"))
    res = optimize_study(load_study(study), report=False)
    report = study_report(load_target(res.run_folder.path))
    extras = report.extras
    assert extras.notes == ()
    (curves,) = extras.curves
    best = json.loads((res.run_folder.path / "summary.json").read_text())["best"]
    (full,) = backtest_grid_study(
        load_study(study, [f"params.{k}={json.dumps(v)}" for k, v in best["params"].items()])
    )
    np.testing.assert_allclose(curves.best.equity, full.sim.equity, rtol=1e-12)
    assert extras.monte_carlo is not None and extras.monte_carlo.n_sims == 1000

"""What the report computes with stratopt's functions agrees with what the run stored."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import stratopt.operations._report as report_module
import stratopt.operations._report_extras as extras_module
from stratopt.config import load_study
from stratopt.grid import backtest_grid_study
from stratopt.operations import load_target, optimize_study, study_report
from stratopt.reporting import Extras
from tests.reporting.conftest import Runs
from tests.reporting.studies import study_file

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


def test_the_report_of_a_run_takes_the_pbo_its_statistics_computed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # optimize's report draws the PBO figures from the statistics' own result (the same
    # candidates, bins and partitions): no second CSCV, the same numbers as a report made
    # later from the run folder alone, which computes it again.
    calls: list[int] = []
    cscv = extras_module.probability_of_backtest_overfitting
    monkeypatch.setattr(
        extras_module,
        "probability_of_backtest_overfitting",
        lambda *a, **k: calls.append(1) or cscv(*a, **k),
    )
    made: list[Extras] = []
    compute = report_module.compute_extras
    monkeypatch.setattr(
        report_module, "compute_extras", lambda *a, **k: made.append(compute(*a, **k)) or made[-1]
    )
    # a requirement prunes trials after their backtest: the statistics count them too
    study = study_file(tmp_path, "kept_pbo", require={"trades": ">= 25"})
    res = optimize_study(load_study(study), report=True)
    assert res.report_file is not None and res.report_file.path is not None
    (extras,) = made
    assert calls == [] and extras.pbo is not None and extras.notes == ()
    stored = json.loads((res.run_folder.path / "summary.json").read_text())["statistics"]
    assert stored["pbo"]["strategies"] > stored["trials"]["completed"]
    later = study_report(load_target(res.run_folder.path)).extras
    assert calls == [1] and later.pbo is not None and later.notes == ()
    assert later.pbo.candidates == stored["pbo"]["strategies"]
    for name in ("logits", "is_sharpe", "oos_sharpe"):
        assert np.array_equal(getattr(extras.pbo, name), getattr(later.pbo, name)), name
    for name in ("pbo", "slope", "intercept", "candidates", "periods"):
        assert getattr(extras.pbo, name) == getattr(later.pbo, name), name

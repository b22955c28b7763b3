"""What the report computes with stratopt's functions agrees with what the run stored."""

from __future__ import annotations

import json

import pandas as pd

from stratopt.operations import load_target, study_report
from tests.reporting.conftest import Runs


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

"""Pareto fronts: a front column, float noise ignored, pareto_front.csv (issue 21 item 7)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pandas as pd

from stratopt.operations import optimize
from stratopt.storage import ranked_frame


def test_twins_that_differ_in_the_last_bit_share_a_front() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    for values in ([1.0, 0.2], [0.1 + 0.2, 0.2], [0.30000000000000004 - 1e-17, 0.2], [0.5, 0.5]):
        study.add_trial(optuna.trial.create_trial(values=values))
    # 0.1 + 0.2 and 0.3 differ in the last bit: neither dominates the other.
    twin = optuna.create_study(directions=["maximize", "minimize"])
    for values in ([0.1 + 0.2, 0.2], [0.3, 0.2]):
        twin.add_trial(optuna.trial.create_trial(values=values))
    fronts = ranked_frame(twin, ["maximize", "minimize"])["front"].tolist()
    assert fronts == [1, 1]
    ranked = ranked_frame(study, ["maximize", "minimize"])
    assert ranked.loc[ranked["trial"] == 0, "front"].item() == 1
    assert ranked.loc[ranked["trial"] == 3, "front"].item() == 2


def test_a_pareto_study_writes_its_front(tmp_path: Path) -> None:
    res = optimize(
        lambda p: {"sharpe": float(p["x"]), "max_drawdown": float(p["x"]) ** 2 / 10},
        {"x": [0, 1, 2, 3]},
        method="grid",
        score={"maximize": ["sharpe"], "minimize": ["max_drawdown"]},
        output=tmp_path,
        analyze=False,
    )
    front = pd.read_csv(res.run_folder.path / "pareto_front.csv")
    assert sorted(front["params.x"]) == [0, 1, 2, 3] and (front["front"] == 1).all()
    assert res.value_names == ("sharpe", "max_drawdown")

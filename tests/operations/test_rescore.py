"""One scale for ranking: trials of a drifting (adaptive) weighted score re-scored."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import yaml

from stratopt.config import load_study
from stratopt.operations import optimize_study
from stratopt.search import ATTR_NORMALIZER, parse_objective

WEIGHTS = {"sharpe": 1.0, "max_drawdown": -1.0}


def test_trials_are_ranked_on_the_final_bounds(tmp_path: Path) -> None:
    # Bounds refreshed every 5 of 40 grid trials: the early trials were scored on the
    # wide default bounds, the later ones on the percentiles seen so far.
    cfg = {
        "name": "drift",
        "data": {"synthetic": {"bars": 1500, "seed": 0}},
        "strategy": "sma_cross",
        "space": {"fast": {"low": 2, "high": 20, "step": 2}, "slow": [25, 40, 60, 90]},
        "objective": {"weights": WEIGHTS, "normalize": "adaptive", "refresh": 5},
        "search": {"method": "grid"},
        "validation": {"holdout": 0.2, "top": 3},
        "storage": f"sqlite:///{tmp_path}/drift.db",
        "output": str(tmp_path / "runs"),
    }
    path = tmp_path / "drift.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = optimize_study(load_study(path))
    stored = optuna.load_study(study_name="drift", storage=cfg["storage"])
    final = stored.user_attrs[ATTR_NORMALIZER]["bounds"]
    fixed = parse_objective({"weights": WEIGHTS, "normalize": "fixed", "bounds": final})

    ranked = pd.read_csv(res.run_folder.path / "ranked_results.csv")
    done = ranked[ranked["state"] == "complete"]
    assert len(done) == 40
    for _, row in done.iterrows():  # the final score, computed on the final bounds
        metrics = {m: float(row[f"metrics.{m}"]) for m in WEIGHTS}
        values = fixed.values(metrics).values
        assert values is not None and np.isclose(row["score_final"], values[0], rtol=1e-12)
    # Ranked by it; `value` (what Optuna saw) is kept and would have ranked otherwise.
    assert list(done["score_final"]) == sorted(done["score_final"], reverse=True)
    assert list(ranked["rank"]) == list(range(1, len(ranked) + 1))
    by_value = int(done.sort_values(["value", "trial"], ascending=[False, True]).iloc[0]["trial"])
    best = int(done.iloc[0]["trial"])
    assert best != by_value  # the drift matters here
    assert res.best_trial == best
    config = json.loads((res.run_folder.path / "best_config.json").read_text())
    assert res.best_params is not None and config["params"] == res.best_params
    assert res.statistics is not None and res.statistics["best"]["trial"] == best
    holdout = pd.read_csv(res.run_folder.path / "holdout.csv")
    assert list(holdout["trial"]) == list(done["trial"].head(3))

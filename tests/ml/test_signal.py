"""Signal recovery on a planted nonlinear signal, and nothing found once it is destroyed."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from stratopt.ml import (
    MlStudy,
    PanelSpec,
    TuneOptions,
    forward_returns,
    parse_ml_study,
    per_date_ic,
    planted_signal,
    prepare,
    summarize,
    synthetic_panel,
    tune,
)
from stratopt.ml._stages import RunContext, run_stage1

RAW: dict[str, Any] = {
    "name": "planted",
    "data": {"synthetic": {"assets": 50, "bars": 2000, "features": 10, "strength": 0.3, "seed": 5}},
    "features": {"set": "columns"},
    "label": {"horizon": 1, "lag": 1},
    "ic": "cross_sectional",
    "model": {
        "params": {"max_bin": 63, "bagging_fraction": 0.7, "bagging_freq": 1},
        "space": {
            "num_leaves": {"low": 7, "high": 48},
            "min_data_in_leaf": {"low": 50, "high": 400},
            "learning_rate": {"low": 0.05, "high": 0.3, "log": True},
        },
        "rounds": 60,
        "early_stopping": {"rounds": 10, "fraction": 0.2},
    },
    "folds": {"test": 300},
    "holdout": 0.2,
    "stage1": {"trials": 6, "seed": 0},
    "stage2": {
        "params": {"window": 60},
        "space": {"entry": {"low": 0.6, "high": 0.95}},
        "trials": 30,
        "backtest": {"commission": 0.0005},
    },
    "storage": "memory",
}


def study(tmp_path: Path) -> MlStudy:
    return parse_ml_study({**RAW, "output": str(tmp_path)}, source="planted", base_dir=tmp_path)


def test_stage1_recovers_the_planted_signal(tmp_path: Path) -> None:
    prepared = prepare(study(tmp_path))
    s1 = run_stage1(prepared, RunContext("memory"))
    best = s1.trials.iloc[0]
    x = np.stack([prepared.panel.columns[f"f{k}"] for k in range(10)], axis=-1)
    rows = np.concatenate([f.test for f in prepared.plan.folds])
    oracle = summarize(per_date_ic(planted_signal(x)[rows], prepared.label[rows], rank=True))
    assert best["metrics.rank_ic"] >= 0.8 * oracle.mean
    assert best["metrics.rank_ic"] >= 5 * best["metrics.rank_ic_se"]


def test_permuted_labels_show_no_skill(tmp_path: Path) -> None:
    cfg = study(tmp_path)
    panel = synthetic_panel(
        PanelSpec(assets=50, bars=2000, features=10, strength=0.3, seed=5, lead=2)
    )
    perm = np.random.default_rng(0).permutation(panel.n_bars)
    # Features moved in time against the prices: labels permuted relative to features.
    shuffled = dataclasses.replace(panel, columns={k: v[perm] for k, v in panel.columns.items()})
    prepared = prepare(cfg, panel=shuffled)
    s1 = run_stage1(prepared, RunContext("memory"))
    best = s1.trials.iloc[0]
    assert abs(best["metrics.rank_ic"]) <= 3 * best["metrics.rank_ic_se"]
    result = tune(cfg.model_copy(update={"name": "permuted"}), TuneOptions(panel=shuffled))
    dsr = result.summary["overfitting"]["dsr_holdout"]
    assert dsr.get("n2", 0.0) < 0.95


@pytest.mark.parametrize("lag", [0, 1, 3])
def test_the_oracle_aligns_with_the_label_lag(lag: int) -> None:
    panel = synthetic_panel(
        PanelSpec(assets=30, bars=800, features=5, strength=1.0, seed=2, lead=lag + 1)
    )
    label = forward_returns(panel.close, lag=lag, horizon=1)
    x = np.stack([panel.columns[f"f{k}"] for k in range(5)], axis=-1)
    ic = summarize(per_date_ic(planted_signal(x)[:-5], label[:-5], rank=True))
    assert ic.mean > 10 * ic.se

"""Leakage: on pure noise, unpurged folds find an IC; purged and embargoed folds do not.

The panel is noise (no feature predicts anything) with one slow, time-like feature per
asset and a 20-bar label. Without a purge, the last training labels overlap the first
test labels, and a model that memorises the recent past "predicts" them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stratopt.ml import FoldSettings, Panel, evaluate_model, parse_ml_study, prepare
from stratopt.ml._prepare import replan

T, N, HORIZON = 3000, 20, 20


@pytest.fixture(scope="module")
def noise_panel() -> Panel:
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(0.01 * rng.standard_normal((T, N)), axis=0))
    clock = np.arange(T, dtype=float)[:, None] + T * np.arange(N)[None, :]  # slow, per asset
    return Panel(
        time=np.arange(T).astype("datetime64[D]").astype("datetime64[ns]"),
        symbols=tuple(f"S{i}" for i in range(N)),
        open=close,
        high=close * 1.001,
        low=close * 0.999,
        close=close,
        volume=np.zeros((T, N)),
        columns={"clock": clock},
    )


def study(tmp_path: Path, folds: dict[str, object]) -> object:
    raw = {
        "name": "noise",
        "data": {"synthetic": {}},  # replaced by the panel
        "features": {"set": "columns"},
        "label": {"horizon": HORIZON, "lag": 0},
        "model": {
            "params": {
                "learning_rate": 0.3,
                "num_leaves": 63,
                "min_data_in_leaf": 3,
                "max_bin": 1023,
                "min_data_in_bin": 1,
                "lambda_l2": 0.0,
            },
            "rounds": 20,
            "early_stopping": None,
        },
        "folds": folds,
        "holdout": 0.02,
        "cache": str(tmp_path / "cache"),
    }
    return parse_ml_study(raw, source="noise.yaml", base_dir=tmp_path)


def rank_ic(prepared: object) -> float:
    return float(evaluate_model(prepared, {}).metrics["rank_ic"])  # type: ignore[arg-type]


def test_unpurged_folds_leak_and_purged_ones_do_not(tmp_path: Path, noise_panel: Panel) -> None:
    wf = {"scheme": "walk_forward", "mode": "rolling", "train": 200, "test": 30}
    purged = prepare(study(tmp_path, {**wf, "purge": "auto", "embargo": 10}), panel=noise_panel)
    assert purged.plan.purge == HORIZON
    unpurged = replan(purged, FoldSettings(mode="rolling", train=200, test=30, purge=0))
    assert rank_ic(unpurged) >= 0.10
    assert abs(rank_ic(purged)) <= 0.05


def test_cpcv_with_purge_and_embargo_does_not_leak(tmp_path: Path, noise_panel: Panel) -> None:
    folds = {"scheme": "cpcv", "groups": 5, "test_groups": 1, "purge": "auto", "embargo": 10}
    assert abs(rank_ic(prepare(study(tmp_path, folds), panel=noise_panel))) <= 0.05

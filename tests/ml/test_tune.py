"""Both stages end to end: no refit in stage 2 or on a rerun, byte-identical outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from stratopt.ml import (
    TuneOptions,
    fold_predictions,
    model_params,
    parse_ml_study,
    prepare,
    tune,
)
from stratopt.ml._stages import RunContext, TrainingLog, run_stage1, run_stage2, select_models

from .conftest import FitCounter, small_study


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_stage2_with_500_trials_fits_no_model(tmp_path: Path, fits: FitCounter) -> None:
    study = small_study(
        tmp_path,
        stage2__method="random",
        stage2__trials=500,
        stage2__space={
            "entry": {"low": 0.6, "high": 0.95},
            "exit": {"low": 0.4, "high": 0.6},
            "hold": {"low": 0, "high": 8},
            "window": [20, 30, 40],
        },
    )
    prepared = prepare(study)
    stage1 = run_stage1(prepared, RunContext("memory"))
    assert fits.calls > 0
    models = select_models(stage1, ("top", 2))
    fits.calls = 0
    log = TrainingLog()
    stage2 = run_stage2(prepared, stage1, models, RunContext("memory", log))
    assert fits.calls == 0  # 500 rule trials on the cached predictions
    assert (stage2.trials["state"] == "complete").sum() == 500
    assert log.cached == 2 and log.trained == 0
    assert set(stage2.trials["params.model_trial"]) == set(models)


def test_a_rerun_fits_nothing_and_writes_the_same_bytes(tmp_path: Path, fits: FitCounter) -> None:
    study = small_study(tmp_path, storage=f"sqlite:///{tmp_path}/s.db")
    first = tune(study)
    assert fits.calls > 0 and first.training.trained > 0
    fits.calls = 0
    second = tune(study)  # the stored studies are complete; predictions cached
    assert fits.calls == 0 and second.training.trained == 0
    a, b = files(first.run_folder), files(second.run_folder)
    assert (
        set(a)
        == set(b)
        >= {
            "summary.json",
            "stage1_trials.csv",
            "stage2_trials.csv",
            "holdout.csv",
            "stage1_folds.csv",
            "report.md",
        }
    )
    for name in a:
        if name != "timings.json":
            assert a[name] == b[name], name
    summary = first.summary
    assert summary["stage2"]["best"]["holdout_sharpe"] is not None
    assert 0 <= summary["overfitting"]["pbo"]["value"] <= 1
    dsr = summary["overfitting"]["dsr_development"]
    assert dsr["n1xn2"] <= dsr["n2"]  # more trials behind the pick deflate more


def test_same_seed_same_values_and_prediction_files(tmp_path: Path) -> None:
    runs = []
    for k in range(2):
        study = small_study(tmp_path / str(k), storage="memory")  # a fresh cache each
        runs.append(tune(study, TuneOptions(stages="stage1")))
    a, b = (r.stage1.trials for r in runs)
    assert a["value"].tolist() == b["value"].tolist()
    cache = [sorted((tmp_path / str(k) / "runs" / "ml_cache").rglob("*.pred")) for k in (0, 1)]
    assert [p.name for p in cache[0]] == [p.name for p in cache[1]] and cache[0]
    for p, q in zip(*cache, strict=True):
        assert p.read_bytes() == q.read_bytes()


def test_one_and_two_threads_predict_bit_identically(tmp_path: Path) -> None:
    prepared = prepare(small_study(tmp_path))
    preds = [
        fold_predictions(prepared, model_params(prepared, {"num_leaves": 15, "num_threads": n}))
        for n in (1, 2)
    ]
    assert preds[0].key != preds[1].key
    for a, b in zip(preds[0].folds, preds[1].folds, strict=True):
        np.testing.assert_array_equal(a, b)


def test_stage2_from_trial_uses_that_model(tmp_path: Path) -> None:
    study = small_study(tmp_path, storage=f"sqlite:///{tmp_path}/s.db")
    tune(study, TuneOptions(stages="stage1"))
    result = tune(study, TuneOptions(stages="stage2", from_trial=1))
    assert result.stage2 is not None and result.stage2.models == (1,)
    assert [m["trial"] for m in result.summary["stage1"]["models"]] == [1]
    with pytest.raises(Exception, match="trial 9 is not a completed trial"):
        tune(study, TuneOptions(stages="stage2", from_trial=9))


def test_top_k_searches_the_model_in_stage2_and_fixes_it_in_best_config(tmp_path: Path) -> None:
    study = small_study(tmp_path, storage="memory", stage2__trials=12, **{"stage2__from": "top2"})
    result = tune(study)
    assert result.stage2 is not None and len(result.stage2.models) == 2
    best = result.stage2.trials.iloc[0]
    chosen = int(best["params.model_trial"])
    assert chosen in result.stage2.models
    config = yaml.safe_load((result.run_folder / "best_config.yaml").read_text())
    params = result.stage1.study.trials[chosen].params
    assert config["model"]["params"]["num_leaves"] == params["num_leaves"]
    assert config["model"]["space"] == {} and config["stage2"]["space"] == {}
    assert "model_trial" not in config["stage2"]["params"]
    rerun = tune(parse_ml_study(config, source="best", base_dir=tmp_path))
    assert rerun.stage1.trials["value"].iloc[0] == pytest.approx(
        result.stage1.trials.set_index("trial").loc[chosen, "value"]
    )


def test_a_failing_model_candidate_does_not_stop_the_search(tmp_path: Path) -> None:
    # num_leaves = 1 is refused by LightGBM: that trial fails, with its message, and the
    # search still reaches its target of completed trials.
    study = small_study(
        tmp_path,
        storage="memory",
        model__space={"num_leaves": [1, 8, 12]},
        stage1__method="random",
        stage1__trials=2,
        stage1__seed=4,
    )
    result = tune(study, TuneOptions(stages="stage1"))
    table = result.stage1.trials
    assert (table["state"] == "complete").sum() == 2
    failed = table[table["state"] == "fail"]
    assert len(failed) >= 1 and failed["error"].str.contains("num_leaves").all()

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest

from stratopt.config import load_study
from stratopt.evaluation import CallableEvaluator, Outcome
from stratopt.operations import optimize, optimize_study
from stratopt.search import FloatRange, IntRange, SearchSpace
from stratopt.search._objective import parse_objective
from stratopt.validation import assess_robustness, slice_values

ROOT = Path(__file__).resolve().parents[2]

SPIKE = (3, 3)
PLATEAU = (9, 9)


def landscape(p: Mapping[str, Any]) -> dict[str, float]:
    """A lone spike of 10 at (3, 3); a plateau peaking at 8 around (9, 9); 0 elsewhere."""
    x, y = p["x"], p["y"]
    if (x, y) == SPIKE:
        return {"sharpe": 10.0}
    d = abs(x - PLATEAU[0]) + abs(y - PLATEAU[1])
    if abs(x - PLATEAU[0]) <= 2 and abs(y - PLATEAU[1]) <= 2:
        return {"sharpe": 8.0 - 0.1 * d}
    return {"sharpe": 0.0}


SPACE = {"x": {"low": 0, "high": 12}, "y": {"low": 0, "high": 12}}


@pytest.fixture(scope="module")
def grid_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("grid")
    result = optimize(landscape, SPACE, method="grid", study_name="land", output=out)
    summary = json.loads(result.run_folder.summary.read_text())
    return {"summary": summary, "folder": result.run_folder.path, "out": out}


def test_spike_is_told_from_the_plateau(grid_run: dict[str, Any]) -> None:
    rob = grid_run["summary"]["robustness"]
    stab = rob["stability"]
    assert stab["params"] == {"x": 3, "y": 3} and stab["mode"] == "full"
    assert (stab["neighbours"], stab["reused"], stab["evaluated"]) == (8, 8, 0)
    (o,) = stab["objectives"]
    assert (o["best"], o["mean"], o["worst"], o["within"]) == (10.0, 0.0, 0.0, 0.0)
    assert o["verdict"] == stab["verdict"] == "spike"
    assert rob["best"]["params"] == {"x": 3, "y": 3}
    assert rob["best"]["smoothed"] == pytest.approx(10 / 9)
    robust = rob["robust"]
    assert robust["params"] == {"x": 9, "y": 9} and robust["rank"] == 2
    assert robust["value"] == 8.0 and robust["neighbours"] == 8
    assert robust["smoothed"] == pytest.approx((8.0 + 4 * 7.9 + 4 * 7.8) / 9)
    assert robust["neighbour_mean"] == pytest.approx((4 * 7.9 + 4 * 7.8) / 8)
    assert robust["worst"] == pytest.approx(7.8)
    assert not rob["robust_is_best"] and len(rob["region"]) == 10
    # every neighbour and slice point was a grid trial already: nothing re-run
    assert rob["evaluated"] == 0


def test_sensitivity_slices_through_the_best(grid_run: dict[str, Any]) -> None:
    rob = grid_run["summary"]["robustness"]
    sens = rob["sensitivity"]
    assert sens["x"]["values"] == list(range(13))
    assert sens["x"]["objective"] == [10.0 if x == 3 else 0.0 for x in range(13)]
    assert sens["x"]["range"] == 10.0
    frame = pd.read_csv(grid_run["folder"] / "sensitivity.csv")
    assert len(frame) == 26 and frame["is_best"].sum() == 2
    assert set(frame["status"]) == {"ok"}
    stab = pd.read_csv(grid_run["folder"] / "stability.csv")
    assert len(stab) == 8 and not stab["within"].any()
    assert set(stab["value.sharpe"]) == {0.0}


def test_importance_per_objective(grid_run: dict[str, Any]) -> None:
    imp = grid_run["summary"]["robustness"]["importance"]
    assert imp["trials"] == 169
    (entry,) = imp["per_objective"]
    assert set(entry["importances"]) == {"x", "y"}
    assert sum(entry["importances"].values()) == pytest.approx(1.0)


class CountingEvaluator:
    """The real CallableEvaluator, counting its batches and candidates."""

    def __init__(self) -> None:
        self.inner = CallableEvaluator(landscape, jobs=1, timeout=None)
        self.batches: list[int] = []

    def evaluate(self, params: Sequence[Mapping[str, Any]]) -> list[Outcome]:
        self.batches.append(len(params))
        return self.inner.evaluate(params)


def _random_study(out: Path) -> optuna.Study:
    optimize(
        landscape, SPACE, method="random", trials=40, seed=1, study_name="rnd", output=out,
        analyze=False,
    )  # fmt: skip
    url = f"sqlite:///{out / 'stratopt.db'}"
    return optuna.load_study(study_name="rnd", storage=url)


def test_missing_points_run_in_one_batch_and_results_are_deterministic(tmp_path: Path) -> None:
    study = _random_study(tmp_path)
    space = SearchSpace.from_config(SPACE)
    reports = []
    for _ in range(2):
        ev = CountingEvaluator()
        report = assess_robustness(
            study, space=space, objective=parse_objective("sharpe"), evaluator=ev
        )
        assert len(ev.batches) == 1 and ev.batches[0] == report.evaluated > 0
        reports.append(report)
    a, b = (r.to_dict() for r in reports)
    a.pop("seconds"), b.pop("seconds")
    assert a == b
    stab = reports[0].stability
    assert stab is not None
    assert stab.n_reused + stab.n_evaluated == len(stab.neighbours)
    # a value recomputed through the evaluator is the landscape's own
    for r in stab.neighbours:
        assert r.values == (landscape(r.params)["sharpe"],)


def test_several_objectives_give_per_objective_stability_and_no_robust(tmp_path: Path) -> None:
    def two(p: Mapping[str, Any]) -> dict[str, float]:
        return {"sharpe": landscape(p)["sharpe"], "max_drawdown": 0.1 + 0.01 * p["x"]}

    result = optimize(
        two, {"x": {"low": 0, "high": 6}, "y": {"low": 0, "high": 6}}, method="grid",
        score={"maximize": ["sharpe"], "minimize": ["max_drawdown"]}, output=tmp_path,
    )  # fmt: skip
    rob = json.loads(result.run_folder.summary.read_text())["robustness"]
    assert rob["robust"] is None and "Pareto front" in rob["notes"][0]
    assert [o["label"] for o in rob["stability"]["objectives"]] == ["sharpe", "max_drawdown"]
    assert [e["objective"] for e in rob["importance"]["per_objective"]] == [
        "sharpe",
        "max_drawdown",
    ]


def test_slice_values() -> None:
    assert slice_values(IntRange("n", 1, 100), 40, slice_points=5) == (1, 26, 40, 51, 75, 100)
    assert slice_values(IntRange("n", 1, 9, 2), 5) == (1, 3, 5, 7, 9)
    assert slice_values(FloatRange("f", 0.0, 1.0), 0.37, slice_points=5) == (
        0.0, 0.25, 0.37, 0.5, 0.75, 1.0,
    )  # fmt: skip
    logs = slice_values(FloatRange("l", 0.001, 0.1, log=True), 0.001, slice_points=3)
    assert logs == pytest.approx((0.001, 0.01, 0.1))


def test_engine_study_gets_robustness_and_lookahead(tmp_path: Path) -> None:
    study = load_study(
        ROOT / "examples" / "sma_cross_synthetic.yaml",
        [
            "search.trials=12",
            "data.synthetic.bars=1500",
            f"output={json.dumps(str(tmp_path))}",
        ],
    )
    result = optimize_study(study, storage=f"sqlite:///{tmp_path / 's.db'}")
    summary = json.loads(result.run_folder.summary.read_text())
    rob, look = summary["robustness"], summary["lookahead"]
    assert "error" not in rob and rob["stability"]["verdict"] in ("plateau", "spike")
    assert rob["settings"]["mode"] == "full" and rob["evaluated"] > 0
    assert rob["best"]["trial"] == summary["best"]["trial"]
    assert rob["robust"]["smoothed"] >= rob["best"]["smoothed"]
    assert look["clean"] is True and look["parameter_sets"] == 3 and look["points"] == 5
    assert (result.run_folder.path / "stability.csv").is_file()


def test_new_backtests_beyond_the_budget_shrink_the_region(tmp_path: Path) -> None:
    study = _random_study(tmp_path)
    space = SearchSpace.from_config(SPACE)
    full = assess_robustness(
        study, space=space, objective=parse_objective("sharpe"), evaluator=CountingEvaluator()
    )
    ev = CountingEvaluator()
    small = assess_robustness(
        study,
        space=space,
        objective=parse_objective("sharpe"),
        evaluator=ev,
        max_evaluations=0,
        importance=False,
    )
    assert len(full.region) == 10 and len(small.region) < 10
    assert "max_evaluations=0" in small.notes[0]
    assert small.stability == full.stability  # the best's neighbourhood always runs
    assert ev.batches == [small.evaluated] and small.evaluated < full.evaluated

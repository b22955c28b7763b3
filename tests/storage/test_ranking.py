"""The ranking: every trial's cells (issue 17); Pareto fronts: a front column, float noise
ignored, pareto_front.csv (issue 21 item 7)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.trial import TrialState

from stratopt.operations import optimize
from stratopt.storage import ATTR, order_trials, ranked_frame


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


def _rows_as_before(study: optuna.Study, directions: list[str]) -> pd.DataFrame:
    """The ranking built row by row, as `ranked_frame` did before it gathered columns."""
    rows = []
    for rank, t in enumerate(order_trials(study.get_trials(), directions), start=1):
        rec = t.user_attrs.get(ATTR, {})
        done = t.state == TrialState.COMPLETE
        row = {"rank": rank, "trial": t.number, "state": t.state.name.lower(),
               "value": t.values[0] if done else math.nan}  # fmt: skip
        row.update({f"params.{k}": v for k, v in t.params.items()})
        row.update({f"metrics.{k}": float(v) for k, v in (rec.get("metrics") or {}).items()})
        comps = rec.get("components") or {}
        row.update({f"components.{k}": float(v) for k, v in comps.items()})
        row["violations"] = "; ".join(rec.get("violations") or [])
        row.update(pruned=rec.get("pruned", ""), error=rec.get("error", ""))
        row["runtime_s"] = rec.get("runtime_s", math.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def test_the_ranking_has_every_cell_of_trials_with_different_records() -> None:
    study = optuna.create_study(direction="maximize")
    dist = {"x": optuna.distributions.IntDistribution(0, 9),
            "kind": optuna.distributions.CategoricalDistribution(["a", "b"])}  # fmt: skip
    records: list[tuple[Any, dict[str, Any]]] = [
        (0.5, {"metrics": {"sharpe": 0.5, "trades": 3}, "runtime_s": 0.1}),
        (None, {"pruned": "duplicate of an earlier candidate"}),
        (0.9, {"metrics": {"trades": 7, "sharpe": 0.9}, "components": {"a": 1}}),
        (2.0, {"metrics": {"sharpe": 2.0, "trades": 1, "omega": "inf", "skew": "nan"}}),
        (
            None,
            {
                "metrics": {"sharpe": -1.0, "late": 1.5},
                "violations": ["trades >= 5"],
                "shortfall": 2.0,
                "pruned": "requirements: trades >= 5",
            },
        ),
        (None, {"error": "boom, a failure", "runtime_s": 0.2}),
    ]
    for i, (value, rec) in enumerate(records):
        state = (TrialState.COMPLETE if value is not None
                 else TrialState.FAIL if "error" in rec else TrialState.PRUNED)  # fmt: skip
        params = {"x": i} if i != 3 else {"x": i, "kind": "b"}
        study.add_trial(optuna.trial.create_trial(
            state=state, value=value, params=params,
            distributions={k: dist[k] for k in params}, user_attrs={ATTR: rec},
        ))  # fmt: skip
    study.add_trial(optuna.trial.create_trial(state=TrialState.RUNNING))  # not ranked
    ours = ranked_frame(study, ["maximize"])
    pd.testing.assert_frame_equal(ours, _rows_as_before(study, ["maximize"]), check_exact=True)
    assert list(ours.columns).index("metrics.omega") < list(ours.columns).index("violations")
    assert list(ours.columns)[-1] == "metrics.late"  # first seen on the pruned trial


def test_rows_of_the_same_names_make_the_frame_rows_of_dicts_made() -> None:
    """Every trial with the same parameters and metrics (a grid): its cells go to pandas
    as tuples, with the same columns, types and cells as rows of dicts."""
    study = optuna.create_study(direction="minimize")
    dist = {"x": optuna.distributions.IntDistribution(0, 99),
            "kind": optuna.distributions.CategoricalDistribution(["a", "b"])}  # fmt: skip
    for i in range(60):
        rec: dict[str, Any] = {"metrics": {"sharpe": i / 7, "trades": i, "omega": "inf"},
                               "runtime_s": i * 1e-5}  # fmt: skip
        state, value = TrialState.COMPLETE, float(i % 9)
        if i % 10 == 3:
            state, value = TrialState.PRUNED, None
            rec.update(violations=["trades >= 5", "x"], pruned="requirements", shortfall=i)
        elif i % 10 == 7:
            state, value, rec = TrialState.FAIL, None, {"error": "boom", "runtime_s": 0.5}
        study.add_trial(optuna.trial.create_trial(
            state=state, value=value, params={"x": i, "kind": "ab"[i % 2]},
            distributions=dist, user_attrs={ATTR: rec},
        ))  # fmt: skip
    ours = ranked_frame(study, ["minimize"])
    pd.testing.assert_frame_equal(ours, _rows_as_before(study, ["minimize"]), check_exact=True)
    no_metrics = optuna.create_study()
    for i in range(3):
        no_metrics.add_trial(optuna.trial.create_trial(value=float(i), params={"x": i},
                                                       distributions={"x": dist["x"]}))  # fmt: skip
    before = _rows_as_before(no_metrics, ["minimize"])
    pd.testing.assert_frame_equal(ranked_frame(no_metrics, ["minimize"]), before, check_exact=True)


def _grid_study(metrics_of: Any, n: int = 40) -> optuna.Study:
    """A finished grid-like study: trial i COMPLETE with `metrics_of(i)` as its metrics."""
    study = optuna.create_study(direction="maximize")
    dist = {"x": optuna.distributions.IntDistribution(0, 99)}
    for i in range(n):
        rec = {"metrics": metrics_of(i), "runtime_s": i * 1e-4}
        study.add_trial(optuna.trial.create_trial(
            value=float((i * 7) % 11), params={"x": i}, distributions=dist,
            user_attrs={ATTR: rec},
        ))  # fmt: skip
    return study


def test_rows_of_the_same_metric_names_gathered_at_once_make_the_same_frame(
    monkeypatch: Any,
) -> None:
    """Every row with the same metric names in the same order: the metrics are gathered
    at once (`_uniform_blocks`); any row that differs (order, one name more or less,
    components, a cell that is not a float) gives the frame built row by row."""
    from stratopt.storage import _ranking

    taken: list[bool] = []
    uniform = _ranking._uniform_blocks

    def spy(*args: Any) -> Any:
        out = uniform(*args)
        taken.append(out is not None)
        return out

    monkeypatch.setattr(_ranking, "_uniform_blocks", spy)

    def same(i: int) -> dict[str, Any]:
        return {"sharpe": i / 7, "trades": i, "omega": math.inf, "flag": i % 2 == 0}

    variants: dict[str, tuple[Any, bool]] = {
        "same names": (same, True),
        "text cells": (lambda i: {**same(i), "skew": "nan" if i == 5 else 0.5}, True),
        "another order": (lambda i: dict(reversed(same(i).items())) if i == 9 else same(i), False),
        "a name more": (lambda i: {**same(i), "late": 1.0} if i == 30 else same(i), False),
        "a name less": (lambda i: {"sharpe": 1.0} if i == 2 else same(i), False),
        "names shifted": (lambda i: {"trades": 1, "omega": 2.0} if i in (3, 4) else same(i), False),
        "no metrics": (lambda i: None if i == 0 else same(i), False),
    }
    for name, (metrics_of, gathered) in variants.items():
        study = _grid_study(metrics_of)
        taken.clear()
        ours = ranked_frame(study, ["maximize"])
        before = _rows_as_before(study, ["maximize"])
        pd.testing.assert_frame_equal(ours, before, check_exact=True, obj=name)
        assert taken == [gathered], name
    with_components = _grid_study(same)
    t = with_components.get_trials(deepcopy=False)[3]
    t.user_attrs[ATTR]["components"] = {"sharpe.norm": 0.5}
    taken.clear()
    ours = ranked_frame(with_components, ["maximize"])
    pd.testing.assert_frame_equal(ours, _rows_as_before(with_components, ["maximize"]),
                                  check_exact=True)  # fmt: skip
    assert taken == [False]


def _frozen(number: int, value: float) -> optuna.trial.FrozenTrial:
    trial = optuna.trial.create_trial(value=value)
    trial.number = number
    return trial


def test_equal_values_rank_by_number_whatever_order_the_trials_come_in() -> None:
    values = [0.5, -0.0, 2.0, 0.0, 0.5, 2.0, 0.5, -1.0]
    in_order = [_frozen(n, v) for n, v in enumerate(values)]
    for directions, want in ((["maximize"], [2, 5, 0, 4, 6, 1, 3, 7]),
                             (["minimize"], [7, 1, 3, 0, 4, 6, 2, 5])):  # fmt: skip
        assert [t.number for t in order_trials(in_order, directions)] == want
        shuffled = [in_order[i] for i in (6, 2, 0, 7, 5, 1, 4, 3)]  # another storage's order
        assert [t.number for t in order_trials(shuffled, directions)] == want

"""`tell_all`: a batch told at once gives the trials, counts and answers `tell` gives each."""

from __future__ import annotations

import datetime
import math
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml

from stratopt.config import load_study
from stratopt.evaluation import Outcome
from stratopt.search import BatchTrial, Progress, SearchPlan, compile_search, tell
from stratopt.search._tell_batch import tell_all
from stratopt.storage import ATTR


def _plan(tmp_path: Path, **extra: Any) -> SearchPlan:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({
        "name": "t", "data": {"synthetic": {"bars": 300, "seed": 2}}, "strategy": "sma_cross",
        "space": {"fast": [5, 10, 15], "slow": [20, 30]}, "search": {"method": "grid"},
        "output": str(tmp_path / "runs"), **extra,
    }))  # fmt: skip
    return compile_search(load_study(path))


def _metrics(sharpe: float, **more: float) -> dict[str, float]:
    return {"sharpe": sharpe, "trades": 25.0, "max_drawdown": 0.2, **more}


def _outcomes() -> list[Outcome]:
    """Every kind `tell` tells apart, the usual kind between them."""
    _OUTCOMES[:] = [
        Outcome(_metrics(1.5), {"X": _metrics(1.5)}, None, 0.01, json_safe=True),
        Outcome(_metrics(0.5), {"X": _metrics(0.5)}, None, 0.02, json_safe=True),
        Outcome(None, {"X": _metrics(0.1)}, "ValueError: boom", 0.03),
        Outcome(None, {"X": _metrics(0.2)}, None, 0.04, infeasible="fast >= slow"),
        Outcome(_metrics(math.nan), {"X": _metrics(math.nan)}, None, 0.05),  # NaN: FAIL
        Outcome({"trades": 3.0}, {"X": {"trades": 3.0}}, None, 0.06, json_safe=True),  # missing
        Outcome(_metrics(2.5), {"X": _metrics(2.5)}, None, 0.07),  # not checked finite
        Outcome(
            _metrics(0.7), {"X": _metrics(0.7), "Y": _metrics(0.9)}, None, 0.08, json_safe=True
        ),
        Outcome(
            _metrics(0.8), {"X": _metrics(0.8)}, None, 0.09, extra={"run": "r1"}, json_safe=True
        ),
        Outcome(_metrics(-1.0), {"X": _metrics(-1.0)}, None, 0.10, json_safe=True),
        Outcome(_metrics(3.0, sortino=math.inf), {"X": {}}, None, 0.11),  # inf: not json_safe
    ]
    return list(_OUTCOMES)


_OUTCOMES: list[Outcome] = []  # the last `_outcomes`


def _told(plan: SearchPlan, batch: bool) -> tuple[list[Any], list[bool], Progress]:
    study = optuna.create_study(directions=list(plan.objective.directions))
    finished: dict[int, Any] = {}
    started = datetime.datetime(2026, 1, 2, 3, 4, 5)
    dists = plan.space.distributions()
    outcomes = _outcomes()
    runnable = [
        (BatchTrial({"fast": 5 + i, "slow": 30}, dists, finished, started, i, f"k{i}"), None,
         f"k{i}")
        for i in range(len(outcomes))
    ]  # fmt: skip
    progress = Progress(target=100, direction=plan.objective.directions[0])
    if batch:
        answers = tell_all(study, runnable, outcomes, plan=plan, progress=progress)
    else:
        answers = [
            tell(study, trial, outcome, key=key, plan=plan, progress=progress)
            for (trial, _, key), outcome in zip(runnable, outcomes, strict=True)
        ]
    return [finished[slot] for slot in sorted(finished)], answers, progress


def _fields(trial: Any) -> dict[str, Any]:
    fields = dict(trial.__dict__)
    assert fields.pop("datetime_complete") is not None
    return {"type": type(trial), "order": list(trial.__dict__), **fields}


@pytest.mark.parametrize(
    "extra",
    [
        {},  # the batch path: one metric, no requirements
        {"objective": {"minimize": "max_drawdown"}},
        {"require": {"trades": ">= 20"}},  # `tell` alone
        {"objective": {"weights": {"sharpe": 0.5, "max_drawdown": -0.5}}},
    ],
)
def test_a_batch_told_at_once_is_told_as_each_trial_in_turn(
    tmp_path: Path, extra: dict[str, Any]
) -> None:
    plan = _plan(tmp_path, **extra)
    one_by_one, answers, progress = _told(plan, batch=False)
    at_once, answers_at_once, progress_at_once = _told(_plan(tmp_path, **extra), batch=True)
    assert answers_at_once == answers
    assert [_fields(t) for t in at_once] == [_fields(t) for t in one_by_one]
    for trial in at_once:  # dicts of its own, as `tell` makes: not the outcome's row
        kept = trial.user_attrs[ATTR].get("metrics")
        assert kept is None or all(kept is not o.metrics for o in _OUTCOMES)
    same = ("complete", "pruned", "failed", "best")
    assert [getattr(progress_at_once, k) for k in same] == [getattr(progress, k) for k in same]
    assert progress.complete >= 3 and progress.failed >= 2 and progress.pruned == 1

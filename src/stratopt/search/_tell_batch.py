"""Telling a batch's outcomes in order, the usual ones without `tell`'s general path.

A grid or random search written in bulk (`BatchTrial`s) on one metric, without
requirements, completes nearly every candidate the same way: its record is the key, the
runtime, the metrics (finite floats, checked by the evaluator) and a zero shortfall, its
one value the metric's. `tell_all` builds those trials here, in the order `tell` builds
them and with the same fields, and hands every other outcome to `tell` itself, in turn:
the same trials, counts and records, ~2 µs a trial less (S1's 10,000: ~0.02 s).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.trial import TrialState

from stratopt.evaluation import Outcome
from stratopt.search._objective import MetricObjective
from stratopt.search._plan import SearchPlan
from stratopt.search._progress import Progress
from stratopt.search._tell import BatchTrial, Pending, tell
from stratopt.storage import ATTR, MetricRows, OwnedTrial

__all__ = ["tell_all"]


def tell_all(
    study: optuna.Study,
    runnable: Sequence[tuple[Pending, Any, str]],
    outcomes: Sequence[Outcome],
    *,
    plan: SearchPlan,
    progress: Progress,
    rows: MetricRows | None = None,
) -> list[bool]:
    """`tell(study, trial, outcome, key=key, ...)` of each `(trial, _, key)` of `runnable`
    with its outcome, in order; what each returned (False: it FAILED). `rows`: where the
    metrics dicts recorded here are noted with the evaluator's row they were made of."""
    metric = _plain_metric(plan)
    if metric is None:
        return [
            tell(study, trial, outcome, key=key, plan=plan, progress=progress)
            for (trial, _, key), outcome in zip(runnable, outcomes, strict=True)
        ]
    # `tell`'s record without requirements: the verdict is one constant
    shortfall = float(plan.requirements.check({}).shortfall)
    complete = TrialState.COMPLETE
    finished_now = OwnedTrial.finished_now
    consider = progress.consider
    told: list[bool] = []
    for (trial, _, key), outcome in zip(runnable, outcomes, strict=True):
        metrics = outcome.metrics
        value = metrics.get(metric) if metrics is not None else None
        if (
            type(trial) is not BatchTrial
            or not outcome.json_safe
            or value is None
            or math.isnan(value)
            or outcome.error is not None
            or outcome.infeasible is not None
            or outcome.extra
            or len(outcome.per_symbol) > 1
        ):
            told.append(tell(study, trial, outcome, key=key, plan=plan, progress=progress))
            continue
        assert metrics is not None  # json_safe: a dict of finite floats made for it
        # `tell`'s record, its keys in `tell`'s order, and `_told`'s trial
        kept = metrics.copy()
        rec = {"key": key, "runtime_s": outcome.runtime, "metrics": kept, "shortfall": shortfall}
        if rows is not None and outcome.row is not None:
            rows.add(kept, outcome.row)
        values = [float(value)]
        trial.finished[trial.slot] = finished_now(
            complete, values, trial.started, dict(trial.params), dict(trial.distributions),
            {ATTR: rec},
        )  # fmt: skip
        progress.complete += 1
        consider(values)
        told.append(True)
    return told


def _plain_metric(plan: SearchPlan) -> str | None:
    """The one metric a study without requirements is scored by (None: another kind of
    study, told by `tell` alone).

    `MetricObjective` itself (not a subclass): its `values` is the metric as a float, it
    observes nothing and gives no components; without requirements every verdict is
    feasible, with nothing violated and no constraint set.
    """
    objective = plan.objective
    if type(objective) is not MetricObjective or len(objective.targets) != 1:
        return None
    if plan.requirements.requirements:
        return None
    verdict = plan.requirements.check({})
    if not verdict.feasible or verdict.violations:
        return None
    return objective.targets[0][0]

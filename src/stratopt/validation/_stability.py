"""Stability of a candidate: the objective over its parameter neighbourhood.

A *neighbour* moves one or more parameters by one unit of their dimension:

* an integer range or a stepped float range: one step down and one step up (grid index
  -1 and +1, dropped beyond the ends);
* a list of numbers (``stop_loss: [0.03, 0.05, 0.08]``): the adjacent values in numeric
  order;
* a continuous float range: ``step_fraction`` (10%) of the range's width down and up,
  clipped to the bounds; on a log scale the move is multiplicative, by the factor
  ``(high / low) ** step_fraction`` (10% of the width on the log scale);
* an integer range on a log scale: the same multiplicative move, rounded, and at least 1;
* a list holding text or booleans (``mode: [reversal, long_only]``): a categorical choice.
  By default it is held at the candidate's value (``categorical="exclude"``): switching a
  category is a different strategy, not a small move, and would mix "is this a plateau"
  with "is this the right category". ``categorical="other"`` adds every other value.

The neighbourhood is the full product of the per-dimension moves (every combination,
``3^d - 1`` points for ``d`` stepped dimensions) while that product holds at most
``max_points`` points including the centre (default ``3^6 = 729``); beyond, only the
axis-aligned neighbours (one parameter moved at a time). Neighbours breaking a constraint
are skipped and counted.

"Within 10% of the best": with ``b`` the best value and ``v`` a neighbour's, the
shortfall is ``b - v`` when maximizing and ``v - b`` when minimizing; the neighbour is
within when ``shortfall <= 0.10 * |b|``. This holds for negative values (maximizing,
``b = -1``: ``v >= -1.1``); at ``b = 0`` only neighbours at least as good count; an
infinite ``b`` counts only neighbours with the same value. A better neighbour is always
within. The verdict is ``plateau`` when at least ``plateau_fraction`` (half) of the
evaluable neighbours are within, ``spike`` otherwise, ``undetermined`` without any.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import optuna
from optuna.trial import TrialState

from stratopt.evaluation import Evaluator
from stratopt.search import (
    Choice,
    Constraint,
    Dimension,
    Direction,
    FloatRange,
    IntRange,
    Objective,
    Requirements,
    SearchSpace,
    is_number,
    record,
)

__all__ = [
    "Categorical",
    "Evaluations",
    "Neighbourhood",
    "ObjectiveStability",
    "PointResult",
    "Stability",
    "axis_moves",
    "is_within",
    "neighbourhood",
    "param_importances",
    "stability_of",
]

Categorical = Literal["exclude", "other"]
Mode = Literal["full", "axis"]
Verdict = Literal["plateau", "spike", "undetermined"]

MAX_FULL_POINTS = 3**6
"""Largest full neighbourhood (centre included) before falling back to axis moves."""


# ---- neighbourhoods -----------------------------------------------------------------


def _numeric_choice(dim: Choice) -> bool:
    return all(is_number(v) for v in dim.values)


def _clip(dim: IntRange | FloatRange, value: float) -> float:
    top = dim.grid_value(dim.grid_size() - 1) if dim.is_discrete else dim.high
    return min(max(value, dim.low), top)


def _scaled_moves(dim: IntRange | FloatRange, value: Any, fraction: float) -> list[Any]:
    """Continuous or log moves: `fraction` of the width on the dimension's own scale."""
    if dim.log:
        factor = (dim.high / dim.low) ** fraction
        down, up = value / factor, value * factor
    else:
        delta = fraction * (dim.high - dim.low)
        down, up = value - delta, value + delta
    if isinstance(dim, IntRange):
        lo, hi = round(down), round(up)
        down, up = min(lo, value - 1), max(hi, value + 1)  # at least one unit
        return [int(_clip(dim, down)), int(_clip(dim, up))]
    return [_clip(dim, down), _clip(dim, up)]


def axis_moves(
    dim: Dimension, value: Any, *, step_fraction: float = 0.10, categorical: Categorical = "exclude"
) -> tuple[Any, ...]:
    """The values a neighbour may take along `dim`, `value` excluded (see module docs).

    Raises:
        ValueError: `value` is not one of a list dimension's values.
    """
    if isinstance(dim, Choice):
        if not _numeric_choice(dim):
            if value not in dim.values:
                raise ValueError(f"{dim.name}: {value!r} is not one of {list(dim.values)}")
            return tuple(v for v in dim.values if v != value) if categorical == "other" else ()
        ordered = sorted(dim.values)
        matches = [i for i, v in enumerate(ordered) if math.isclose(v, value, rel_tol=1e-12)]
        if not matches:
            raise ValueError(f"{dim.name}: {value!r} is not one of {list(dim.values)}")
        i = matches[0]
        return tuple(ordered[j] for j in (i - 1, i + 1) if 0 <= j < len(ordered))
    if dim.is_discrete and not dim.log:
        step = dim.step
        assert step is not None
        index = round((value - dim.low) / step)
        size = dim.grid_size()
        return tuple(dim.grid_value(j) for j in (index - 1, index + 1) if 0 <= j < size)
    moves = _scaled_moves(dim, value, step_fraction)
    out: list[Any] = []
    for v in moves:
        if not math.isclose(v, value, rel_tol=1e-12, abs_tol=0.0) and v not in out:
            out.append(v)
    return tuple(out)


@dataclass(frozen=True)
class Neighbourhood:
    """The neighbours of one candidate.

    Attributes:
        centre: The candidate's parameters (flat).
        mode: ``full`` (every combination of moves) or ``axis`` (one parameter at a time).
        points: Neighbours that satisfy the constraints, in a fixed order.
        n_infeasible: Neighbours skipped because they break a constraint.
    """

    centre: dict[str, Any]
    mode: Mode
    points: tuple[dict[str, Any], ...]
    n_infeasible: int


def full_size(moves: Mapping[str, Sequence[Any]]) -> int:
    """Points of the full product neighbourhood, centre included."""
    return math.prod(1 + len(m) for m in moves.values())


def neighbourhood(
    space: SearchSpace,
    params: Mapping[str, Any],
    *,
    constraints: Sequence[Constraint] = (),
    fixed: Mapping[str, Any] | None = None,
    step_fraction: float = 0.10,
    categorical: Categorical = "exclude",
    max_points: int = MAX_FULL_POINTS,
    mode: Mode | None = None,
) -> Neighbourhood:
    """The neighbours of `params` in `space` (see the module docs).

    Args:
        space: The study's search space.
        params: The candidate, flat, one value per dimension (extra keys are kept).
        constraints: Neighbours breaking any of them are skipped and counted.
        fixed: The study's fixed parameters, which constraints may read.
        step_fraction: The move of a continuous dimension, as a fraction of its width.
        categorical: ``exclude`` (hold categorical lists) or ``other`` (all other values).
        max_points: Largest full product (centre included) before axis moves are used.
        mode: Force ``full`` or ``axis``; None chooses by `max_points`.
    """
    centre = dict(params)
    moves = {
        d.name: axis_moves(d, centre[d.name], step_fraction=step_fraction, categorical=categorical)
        for d in space.dimensions
    }
    if mode is None:
        mode = "full" if full_size(moves) <= max_points else "axis"
    names = list(moves)
    raw: list[dict[str, Any]] = []
    if mode == "full":
        options = [(centre[n], *moves[n]) for n in names]
        for combo in itertools.product(*options):
            if all(c is o[0] for c, o in zip(combo, options, strict=True)):
                continue  # the centre itself
            raw.append({**centre, **dict(zip(names, combo, strict=True))})
    else:
        for n in names:
            raw.extend({**centre, n: v} for v in moves[n])
    kept = [p for p in raw if _holds(constraints, fixed, p)]
    return Neighbourhood(centre, mode, tuple(kept), len(raw) - len(kept))


def _holds(
    constraints: Sequence[Constraint], fixed: Mapping[str, Any] | None, params: Mapping[str, Any]
) -> bool:
    merged = {**(fixed or {}), **params}
    return all(c.holds(merged) for c in constraints)


# ---- results by parameter key -----------------------------------------------------


@dataclass(frozen=True)
class PointResult:
    """The objective at one parameter set.

    Attributes:
        params: The parameters (flat).
        values: One value per objective, None when the point could not be scored.
        source: ``study`` (a trial already held its metrics) or ``evaluated`` (run now).
        error: Why `values` is None.
        meets_requirements: False when the point's metrics fail the study's requirements
            (its value still counts in the landscape).
    """

    params: dict[str, Any]
    values: tuple[float, ...] | None
    source: Literal["study", "evaluated"]
    error: str | None = None
    meets_requirements: bool = True


class Evaluations:
    """Objective values by parameter key: reused from trials, the rest run in one batch.

    Every point is scored from its metrics with the objective as it stands now (for an
    adaptive weighted score: the final normalization bounds), so reused and new points
    are compared on one scale.
    """

    def __init__(
        self,
        space: SearchSpace,
        objective: Objective,
        requirements: Requirements | None = None,
    ) -> None:
        self.space = space
        self.objective = objective
        self.requirements = requirements
        self._metrics: dict[str, dict[str, float]] = {}
        self._results: dict[str, PointResult] = {}
        self.n_evaluated = 0

    def key(self, params: Mapping[str, Any]) -> str:
        """The key the trial runner stores with each trial."""
        return repr(self.space.key(params))

    def add_trials(self, study: optuna.Study) -> None:
        """Remember the metrics of every trial that ran (any state)."""
        for t in study.get_trials(deepcopy=False):
            rec = record(t)
            key, metrics = rec.get("key"), rec.get("metrics")
            if isinstance(key, str) and isinstance(metrics, dict) and metrics:
                self._metrics[key] = {str(k): float(v) for k, v in metrics.items()}

    def add_metrics(self, params: Mapping[str, Any], metrics: Mapping[str, float]) -> None:
        """Remember one point's metrics (as if a trial held them)."""
        self._metrics[self.key(params)] = dict(metrics)

    def add_values(self, params: Mapping[str, Any], values: tuple[float, ...]) -> None:
        """Known objective values for a point without recorded metrics (kept otherwise)."""
        k = self.key(params)
        if k not in self._metrics and k not in self._results:
            self._results[k] = PointResult(dict(params), values, "study")

    def missing(self, points: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The points without known metrics, each once, in order."""
        out: dict[str, dict[str, Any]] = {}
        for p in points:
            k = self.key(p)
            if k not in self._metrics and k not in self._results and k not in out:
                out[k] = dict(p)
        return list(out.values())

    def run(self, evaluator: Evaluator, points: Sequence[Mapping[str, Any]]) -> int:
        """Evaluate the missing points in one `evaluator.evaluate` call; how many ran."""
        todo = self.missing(points)
        if not todo:
            return 0
        for p, outcome in zip(todo, evaluator.evaluate(todo), strict=True):
            k = self.key(p)
            if outcome.error is not None or outcome.metrics is None:
                self._results[k] = PointResult(p, None, "evaluated", outcome.error or "no metrics")
            else:
                self._results[k] = self._score(p, outcome.metrics, "evaluated")
        self.n_evaluated += len(todo)
        return len(todo)

    def result(self, params: Mapping[str, Any]) -> PointResult:
        """The result at `params` (KeyError when neither known nor evaluated)."""
        k = self.key(params)
        if k in self._results:
            return self._results[k]
        metrics = self._metrics.get(k)
        if metrics is None:
            raise KeyError(f"no result for {dict(params)!r}")
        res = self._score(params, metrics, "study")
        self._results[k] = res
        return res

    def _score(
        self, params: Mapping[str, Any], metrics: Mapping[str, float], source: Any
    ) -> PointResult:
        scored = self.objective.values(metrics)
        meets = self.requirements is None or self.requirements.check(metrics).feasible
        if scored.values is None:
            return PointResult(dict(params), None, source, scored.reason, meets)
        return PointResult(dict(params), tuple(scored.values), source, None, meets)


# ---- stability statistics ---------------------------------------------------------


def is_within(best: float, value: float, direction: Direction, fraction: float = 0.10) -> bool:
    """Whether `value` is within `fraction` of `best` (see the module docs)."""
    if math.isnan(value):
        return False
    if not math.isfinite(best):
        return value == best
    shortfall = best - value if direction == "maximize" else value - best
    limit = fraction * abs(best)
    # Inclusive, and exactly 10% worse counts although -1 - (-1.1) is 0.10000000000000009.
    return bool(shortfall <= limit or math.isclose(shortfall, limit, rel_tol=1e-9))


def _worst(values: Sequence[float], direction: Direction) -> float:
    return min(values) if direction == "maximize" else max(values)


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(np.asarray(values, dtype=np.float64)))


@dataclass(frozen=True)
class ObjectiveStability:
    """The neighbourhood of a candidate, seen through one objective value.

    Attributes:
        label: The objective (metric id, or ``score`` for a weighted score).
        direction: ``maximize`` or ``minimize``.
        best: The candidate's own value.
        mean: Mean over the evaluable neighbours (None without any).
        worst: The worst neighbour value.
        within: Fraction of evaluable neighbours within tolerance of `best`.
        verdict: ``plateau``, ``spike`` or ``undetermined``.
    """

    label: str
    direction: Direction
    best: float
    mean: float | None
    worst: float | None
    within: float | None
    verdict: Verdict


@dataclass(frozen=True)
class Stability:
    """How the objective behaves around one candidate.

    Attributes:
        params: The candidate.
        mode: ``full`` or ``axis`` neighbourhood.
        neighbours: One result per feasible neighbour, in neighbourhood order.
        n_infeasible: Neighbours skipped for breaking a constraint.
        objectives: One entry per objective value.
        verdict: ``plateau`` when every objective is a plateau, ``undetermined`` without
            evaluable neighbours, else ``spike``.
        tolerance: The "within" fraction used (0.10).
    """

    params: dict[str, Any]
    mode: Mode
    neighbours: tuple[PointResult, ...]
    n_infeasible: int
    objectives: tuple[ObjectiveStability, ...]
    verdict: Verdict
    tolerance: float = 0.10

    @property
    def n_failed(self) -> int:
        """Neighbours that could not be scored (an error or a NaN objective)."""
        return sum(r.values is None for r in self.neighbours)

    @property
    def n_reused(self) -> int:
        return sum(r.source == "study" for r in self.neighbours)

    @property
    def n_evaluated(self) -> int:
        return sum(r.source == "evaluated" for r in self.neighbours)

    @property
    def n_violating(self) -> int:
        """Neighbours whose metrics fail the study's requirements (their values count)."""
        return sum(not r.meets_requirements for r in self.neighbours)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for summary.json."""
        return {
            "params": self.params,
            "mode": self.mode,
            "verdict": self.verdict,
            "tolerance": self.tolerance,
            "neighbours": len(self.neighbours),
            "infeasible": self.n_infeasible,
            "failed": self.n_failed,
            "reused": self.n_reused,
            "evaluated": self.n_evaluated,
            "violating_requirements": self.n_violating,
            "objectives": [o.__dict__ for o in self.objectives],
        }


def objective_labels(objective: Objective) -> tuple[str, ...]:
    """One label per objective value: the metric id, or ``score`` for a weighted score."""
    if len(objective.directions) == len(objective.metric_ids):
        return objective.metric_ids
    return ("score",)


def stability_of(
    centre: PointResult,
    neighbours: Sequence[PointResult],
    *,
    directions: Sequence[Direction],
    labels: Sequence[str],
    mode: Mode = "full",
    n_infeasible: int = 0,
    tolerance: float = 0.10,
    plateau_fraction: float = 0.5,
) -> Stability:
    """The stability statistics of `centre` given its neighbours' results.

    Raises:
        ValueError: the centre has no objective values.
    """
    if centre.values is None:
        raise ValueError(f"the centre {centre.params!r} has no objective value")
    scored = [r.values for r in neighbours if r.values is not None]
    per: list[ObjectiveStability] = []
    for i, (direction, label) in enumerate(zip(directions, labels, strict=True)):
        best = centre.values[i]
        vals = [v[i] for v in scored]
        if not vals:
            per.append(ObjectiveStability(label, direction, best, None, None, None, "undetermined"))
            continue
        share = sum(is_within(best, v, direction, tolerance) for v in vals) / len(vals)
        verdict: Verdict = "plateau" if share >= plateau_fraction else "spike"
        per.append(
            ObjectiveStability(
                label, direction, best, _mean(vals), _worst(vals, direction), share, verdict
            )
        )
    verdicts = {o.verdict for o in per}
    overall: Verdict = (
        "undetermined"
        if "undetermined" in verdicts
        else "plateau"
        if verdicts == {"plateau"}
        else "spike"
    )
    return Stability(
        dict(centre.params), mode, tuple(neighbours), n_infeasible, tuple(per), overall, tolerance
    )


# ---- parameter importance -----------------------------------------------------------


def param_importances(
    study: optuna.Study, directions: Sequence[Direction], labels: Sequence[str]
) -> dict[str, Any]:
    """Parameter importance per objective, by Optuna's default evaluator (PED-ANOVA).

    PED-ANOVA (Watanabe et al., IJCAI 2023) needs no extra package and is deterministic
    (no random forest, so no seed); fANOVA would need scikit-learn. Each objective is
    assessed on its own through ``target`` (negated when maximized: PED-ANOVA treats
    lower as better). Fewer than two finite completed trials: an ``error`` entry.
    """
    done = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.values and all(math.isfinite(v) for v in t.values)
    ]
    evaluator = optuna.importance.PedAnovaImportanceEvaluator()
    out: dict[str, Any] = {"evaluator": "PED-ANOVA (optuna default)", "trials": len(done)}
    if len(done) < 2:
        out["error"] = f"needs at least 2 completed trials with finite values, got {len(done)}"
        return out
    per: list[dict[str, Any]] = []
    for i, (direction, label) in enumerate(zip(directions, labels, strict=True)):
        sign = -1.0 if direction == "maximize" else 1.0

        def target(t: optuna.trial.FrozenTrial, i: int = i, sign: float = sign) -> float:
            return sign * t.values[i] if math.isfinite(t.values[i]) else math.inf

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "computes importances of low target values"
            try:
                values = optuna.importance.get_param_importances(
                    study, evaluator=evaluator, target=target
                )
            except (ValueError, RuntimeError) as exc:
                per.append({"objective": label, "error": str(exc)})
                continue
        per.append({"objective": label, "importances": {k: float(v) for k, v in values.items()}})
    out["per_objective"] = per
    return out

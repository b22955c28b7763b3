"""The robust region: the candidate at the centre of the best plateau, and sensitivity slices.

Robust candidate. Among the `top_k` best completed candidates, the one whose *smoothed*
objective is best: the mean of the objective over its closed neighbourhood (the
candidate and its feasible, scorable neighbours; neighbourhoods as in `_stability`).
This is the objective seen through a box filter one step wide, so a lone spike loses to
a slightly lower value surrounded by equally good ones. Ties go to the better-ranked
candidate. We chose it over "the centroid of the top cluster" because it is always a
real, evaluated, feasible candidate (a centroid may fall between clusters, off the
grid, or on a constraint's wrong side, and has no meaning for a categorical
dimension), it needs no clustering settings (number of clusters, scaling of mixed
dimensions), and it uses the very neighbourhood the stability statistics use.

Sensitivity slice. For each parameter, the objective as that parameter moves across its
range with the others held at the best candidate's values: every value of a list or of a
discrete range with at most `max_discrete` values, else `slice_points` points evenly
spaced on the dimension's scale (snapped to its grid), always with the best's own value.
Points breaking a constraint are listed as infeasible and not run.

Several objectives (a Pareto front): the stability of the first-ranked candidate and the
slices are reported for every objective, but no robust candidate is chosen (a front has
no single order to smooth); `robust` is None with that reason.

All missing points (every neighbourhood of the top candidates and every slice) are
evaluated in one call of the study's evaluator: one compiled engine batch per data
series for built-in strategies. Points a trial already ran are reused.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, Unpack

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState

from stratopt.evaluation import Evaluator
from stratopt.search import (
    Choice,
    Constraint,
    Dimension,
    FloatRange,
    IntRange,
    Objective,
    Requirements,
    SearchSpace,
)
from stratopt.storage import order_trials
from stratopt.validation._stability import (
    MAX_FULL_POINTS,
    Categorical,
    Evaluations,
    Mode,
    Neighbourhood,
    PointResult,
    Stability,
    axis_moves,
    full_size,
    is_within,
    neighbourhood,
    objective_labels,
    param_importances,
    stability_of,
)

__all__ = [
    "RegionCandidate",
    "RobustnessReport",
    "RobustnessSettings",
    "SliceRow",
    "assess_robustness",
    "choose_robust",
    "robust_order",
    "slice_values",
]

log = logging.getLogger("stratopt.validation")

MAX_NEIGHBOUR_POINTS = 5000
"""Budget of full-neighbourhood points over all top candidates before axis moves."""


@dataclass(frozen=True)
class RegionCandidate:
    """One of the top candidates, with its neighbourhood summarized (first objective).

    Attributes:
        rank: Its rank in the study (1 = best).
        trial: The Optuna trial number.
        params: Its parameters.
        value: Its own objective value.
        neighbour_mean: Mean over its scorable neighbours (None without any).
        smoothed: Mean over the candidate and its scorable neighbours.
        worst: Worst value in the closed neighbourhood.
        neighbours: Scorable neighbours.
    """

    rank: int
    trial: int
    params: dict[str, Any]
    value: float
    neighbour_mean: float | None
    smoothed: float
    worst: float
    neighbours: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def choose_robust(candidates: Sequence[RegionCandidate], direction: str) -> int:
    """Index of the candidate with the best smoothed value (ties: the better rank)."""
    if not candidates:
        raise ValueError("no candidate to choose from")
    return robust_order(candidates, direction)[0]


def robust_order(candidates: Sequence[RegionCandidate], direction: str) -> list[int]:
    """Indices of the candidates, most robust first: best smoothed value, ties by rank."""
    sign = 1.0 if direction == "maximize" else -1.0
    return sorted(range(len(candidates)), key=lambda i: (-sign * candidates[i].smoothed, i))


@dataclass(frozen=True)
class SliceRow:
    """One point of a sensitivity slice.

    Attributes:
        param: The parameter that moves.
        value: Its value at this point.
        is_best: The point is the best candidate itself.
        values: Objective values (None when infeasible or failed).
        status: ``ok``, ``infeasible`` (a constraint), ``failed: <why>``.
        source: ``study``, ``evaluated`` or empty when not run.
    """

    param: str
    value: Any
    is_best: bool
    values: tuple[float, ...] | None
    status: str
    source: str = ""


def _snap(dim: IntRange | FloatRange, x: float) -> Any:
    if isinstance(dim, IntRange):
        index = round((x - dim.low) / dim.step)
        return dim.grid_value(min(max(index, 0), dim.grid_size() - 1))
    if dim.step is not None:
        index = round((x - dim.low) / dim.step)
        return dim.grid_value(min(max(index, 0), dim.grid_size() - 1))
    return float(x)


def slice_values(
    dim: Dimension, best: Any, *, slice_points: int = 11, max_discrete: int = 25
) -> tuple[Any, ...]:
    """The values a sensitivity slice visits along `dim` (see the module docs), ascending
    for numbers, in list order for a categorical list; the best's value always included."""
    if isinstance(dim, Choice):
        values = list(dim.values)
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        return tuple(sorted(values)) if numeric else tuple(values)
    if dim.is_discrete and dim.grid_size() <= max_discrete:
        return dim.grid_values()
    top = dim.grid_value(dim.grid_size() - 1) if dim.is_discrete else dim.high
    if dim.log:
        raw = np.geomspace(dim.low, top, slice_points)
    else:
        raw = np.linspace(dim.low, top, slice_points)
    out = {_snap(dim, float(x)) for x in raw}
    out.add(best)
    return tuple(sorted(out))


@dataclass
class RobustnessReport:
    """Stability of the best, the robust candidate, slices and importance of one study.

    `to_dict` is the ``robustness`` section of summary.json; `write_csv` writes
    ``stability.csv`` and ``sensitivity.csv``.
    """

    objective: str
    labels: tuple[str, ...]
    directions: tuple[str, ...]
    settings: dict[str, Any]
    stability: Stability | None
    best: RegionCandidate | None
    robust: RegionCandidate | None
    region: list[RegionCandidate]
    sensitivity: list[SliceRow]
    importance: dict[str, Any]
    evaluated: int
    seconds: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for summary.json."""
        out: dict[str, Any] = {
            "objective": self.objective,
            "settings": self.settings,
            "stability": None if self.stability is None else self.stability.to_dict(),
            "best": None if self.best is None else self.best.to_dict(),
            "robust": None if self.robust is None else self.robust.to_dict(),
            "robust_is_best": (
                self.best is not None
                and self.robust is not None
                and self.best.trial == self.robust.trial
            ),
            "region": [c.to_dict() for c in self.region],
            "sensitivity": self._sensitivity_summary(),
            "importance": self.importance,
            "evaluated": self.evaluated,
            "seconds": round(self.seconds, 3),
        }
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    def _sensitivity_summary(self) -> dict[str, Any]:
        """Per parameter: the first objective's values along the slice and their range."""
        out: dict[str, Any] = {}
        for row in self.sensitivity:
            entry = out.setdefault(row.param, {"values": [], "objective": []})
            entry["values"].append(row.value)
            entry["objective"].append(None if row.values is None else row.values[0])
        for entry in out.values():
            finite = [v for v in entry["objective"] if v is not None and math.isfinite(v)]
            entry["range"] = (max(finite) - min(finite)) if finite else None
        return out

    def stability_frame(self) -> pd.DataFrame:
        """One row per neighbour of the best: params, objective values, source, within."""
        rows: list[dict[str, Any]] = []
        if self.stability is None:
            return pd.DataFrame(rows)
        tol = self.stability.tolerance
        best = self.stability.objectives
        for r in self.stability.neighbours:
            row: dict[str, Any] = {f"params.{k}": v for k, v in r.params.items()}
            for i, label in enumerate(self.labels):
                row[f"value.{label}"] = math.nan if r.values is None else r.values[i]
            row["within"] = r.values is not None and all(
                is_within(o.best, r.values[i], o.direction, tol) for i, o in enumerate(best)
            )
            row["source"] = r.source
            row["meets_requirements"] = r.meets_requirements
            row["error"] = r.error or ""
            rows.append(row)
        return pd.DataFrame(rows)

    def sensitivity_frame(self) -> pd.DataFrame:
        """One row per slice point."""
        rows: list[dict[str, Any]] = []
        for s in self.sensitivity:
            row: dict[str, Any] = {"param": s.param, "value": s.value, "is_best": s.is_best}
            for i, label in enumerate(self.labels):
                row[f"value.{label}"] = math.nan if s.values is None else s.values[i]
            row["status"] = s.status
            row["source"] = s.source
            rows.append(row)
        return pd.DataFrame(rows)

    def write_csv(self, folder: Path) -> list[Path]:
        """Write ``stability.csv`` and ``sensitivity.csv`` into `folder`; their paths."""
        written = []
        for name, frame in (
            ("stability.csv", self.stability_frame()),
            ("sensitivity.csv", self.sensitivity_frame()),
        ):
            if not frame.empty:
                path = folder / name
                frame.to_csv(path, index=False)
                written.append(path)
        return written


def _top_trials(
    study: optuna.Study, directions: Sequence[str], names: Sequence[str], top_k: int
) -> list[optuna.trial.FrozenTrial]:
    """The best completed trials, as `ranked_frame` orders them (first objective for a
    Pareto front after the front rank)."""
    done = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.values and all(n in t.params for n in names)  # not from an earlier, smaller space
    ]
    return order_trials(done, directions)[:top_k]


def _choose_mode(
    space: SearchSpace,
    centres: Sequence[Mapping[str, Any]],
    step_fraction: float,
    categorical: Categorical,
    max_points: int,
    budget: int,
) -> Mode:
    sizes = [
        full_size(
            {
                d.name: axis_moves(
                    d, c[d.name], step_fraction=step_fraction, categorical=categorical
                )
                for d in space.dimensions
            }
        )
        for c in centres
    ]
    return "full" if max(sizes) <= max_points and sum(sizes) <= budget else "axis"


class RobustnessSettings(TypedDict, total=False):
    """How `assess_robustness` looks around the best (defaults in brackets).

    Attributes:
        top_k: Candidates considered for the robust region [10].
        step_fraction: Move of a continuous dimension (fraction of its width) [0.10].
        categorical: ``exclude`` or ``other`` (see `_stability`) [exclude].
        max_points: Largest full neighbourhood per candidate, centre included [729].
        budget: Largest total of full-neighbourhood points over the top candidates;
            beyond either limit every neighbourhood uses axis moves [5000].
        tolerance: The "within" fraction of the stability statistics [0.10].
        plateau_fraction: Share of neighbours within tolerance for a plateau [0.5].
        slice_points: Points of a slice along a continuous or large dimension [11].
        max_discrete: Discrete dimensions up to this size are sliced at every value [25].
        importance: Compute parameter importance (PED-ANOVA) [True].
        max_evaluations: New backtests allowed for the other top candidates'
            neighbourhoods; the best's neighbourhood and the slices always run, then
            candidates are added in rank order while the total stays within it [1000].
    """

    top_k: int
    step_fraction: float
    categorical: Categorical
    max_points: int
    budget: int
    tolerance: float
    plateau_fraction: float
    slice_points: int
    max_discrete: int
    importance: bool
    max_evaluations: int


_ROBUSTNESS_DEFAULTS: RobustnessSettings = {
    "top_k": 10,
    "step_fraction": 0.10,
    "categorical": "exclude",
    "max_points": MAX_FULL_POINTS,
    "budget": MAX_NEIGHBOUR_POINTS,
    "tolerance": 0.10,
    "plateau_fraction": 0.5,
    "slice_points": 11,
    "max_discrete": 25,
    "importance": True,
    "max_evaluations": 1000,
}
# The settings summary.json records (the budgets that decide the mode are implied by it).
_RECORDED = ("top_k", "step_fraction", "categorical", "max_points", "tolerance",
             "plateau_fraction", "slice_points", "max_evaluations")  # fmt: skip


def assess_robustness(
    study: optuna.Study,
    *,
    space: SearchSpace,
    objective: Objective,
    evaluator: Evaluator,
    constraints: Sequence[Constraint] = (),
    fixed: Mapping[str, Any] | None = None,
    requirements: Requirements | None = None,
    **settings: Unpack[RobustnessSettings],
) -> RobustnessReport:
    """Stability of the best candidate, the robust candidate, slices and importance.

    Args:
        study: The Optuna study (its trials' recorded metrics are reused).
        space: The study's search space.
        objective: The objective, in its final state (adaptive bounds included).
        evaluator: Runs missing points (`StudyEvaluator` or `CallableEvaluator`).
        constraints: Neighbours and slice points breaking them are skipped.
        fixed: The study's fixed parameters, which constraints may read.
        requirements: Counts neighbours whose metrics fail them.
        settings: `RobustnessSettings`.
    """
    start = time.perf_counter()
    s: RobustnessSettings = {**_ROBUSTNESS_DEFAULTS, **settings}
    recorded: dict[str, Any] = {k: v for k, v in s.items() if k in _RECORDED}
    report = RobustnessReport(objective.describe(), objective_labels(objective),
                              objective.directions, recorded, None, None, None, [], [], {},
                              0, 0.0)  # fmt: skip
    top = _top_trials(study, objective.directions, space.names, s["top_k"])
    if s["importance"]:
        report.importance = param_importances(study, objective.directions, report.labels)
    if not top:
        report.notes.append("no completed candidate: nothing to assess")
    else:
        evals = Evaluations(space, objective, requirements)
        evals.add_trials(study)
        for t in top:  # trials stratopt did not run carry no metrics: use their values
            evals.add_values({n: t.params[n] for n in space.names}, tuple(t.values))
        _assess(report, evals, top, evaluator, _Region(space, constraints, fixed, s))
    report.seconds = time.perf_counter() - start
    return report


@dataclass(frozen=True)
class _Region:
    """Where to look: the space, what a point must keep, and the settings."""

    space: SearchSpace
    constraints: Sequence[Constraint]
    fixed: Mapping[str, Any] | None
    settings: RobustnessSettings


def _assess(
    report: RobustnessReport,
    evals: Evaluations,
    top: list[optuna.trial.FrozenTrial],
    evaluator: Evaluator,
    region: _Region,
) -> None:
    """Neighbourhoods and slices of the top candidates, all run in one batch."""
    space, s, objective = region.space, region.settings, evals.objective
    centres = [{n: t.params[n] for n in space.names} for t in top]
    candidates = centres[:1] if objective.is_multi else centres
    if objective.is_multi:
        report.notes.append(
            "several objectives: no robust candidate (a Pareto front has no single order); "
            "stability and slices of the first-ranked candidate are given per objective"
        )
    mode = _choose_mode(space, candidates, s["step_fraction"], s["categorical"],
                        s["max_points"], s["budget"])  # fmt: skip
    report.settings["mode"] = mode
    hoods = [
        neighbourhood(space, c, constraints=region.constraints, fixed=region.fixed,
                      step_fraction=s["step_fraction"], categorical=s["categorical"], mode=mode)
        for c in candidates
    ]  # fmt: skip
    slices = _slice_plan(space, centres[0], region.constraints, region.fixed,
                         s["slice_points"], s["max_discrete"])  # fmt: skip
    todo = [*hoods[0].points, *(p for _, _, p in slices if p is not None)]
    hoods = hoods[:1] + _within_budget(evals, hoods[1:], todo, s["max_evaluations"])
    if len(hoods) < len(candidates):
        report.notes.append(
            f"robust region limited to the best {len(hoods)} candidates: the others' "
            f"neighbourhoods would exceed max_evaluations={s['max_evaluations']} new backtests"
        )
    report.evaluated = evals.run(evaluator, todo)  # one batch
    report.stability = _best_stability(evals, hoods[0], report.labels, s["tolerance"],
                                       s["plateau_fraction"])  # fmt: skip
    report.sensitivity = _slice_rows(evals, slices, centres[0])
    if not objective.is_multi:
        report.region = [
            _region_candidate(evals, h, rank, t)
            for rank, (h, t) in enumerate(zip(hoods, top[: len(hoods)], strict=True), start=1)
        ]
        report.best = report.region[0]
        report.robust = report.region[choose_robust(report.region, objective.directions[0])]


def _within_budget(
    evals: Evaluations, hoods: Sequence[Neighbourhood], todo: list[dict[str, Any]], limit: int
) -> list[Neighbourhood]:
    """The leading `hoods` whose missing points keep `todo` within `limit` (extends `todo`)."""
    kept: list[Neighbourhood] = []
    for hood in hoods:
        extended = todo + list(hood.points)
        if len(evals.missing(extended)) > max(limit, len(evals.missing(todo))):
            break
        todo[:] = extended
        kept.append(hood)
    return kept


def _best_stability(
    evals: Evaluations, hood: Neighbourhood, labels: Sequence[str], tol: float, frac: float
) -> Stability:
    centre = evals.result(hood.centre)
    results = [evals.result(p) for p in hood.points]
    directions = evals.objective.directions
    return stability_of(
        centre,
        results,
        directions=directions,
        labels=labels,
        mode=hood.mode,
        n_infeasible=hood.n_infeasible,
        tolerance=tol,
        plateau_fraction=frac,
    )


def _region_candidate(
    evals: Evaluations, hood: Neighbourhood, rank: int, trial: optuna.trial.FrozenTrial
) -> RegionCandidate:
    direction = evals.objective.directions[0]
    centre = evals.result(hood.centre)
    own = centre.values[0] if centre.values is not None else trial.values[0]
    around = [r.values[0] for r in (evals.result(p) for p in hood.points) if r.values is not None]
    closed = [own, *around]
    worst = min(closed) if direction == "maximize" else max(closed)
    return RegionCandidate(
        rank=rank,
        trial=trial.number,
        params=dict(hood.centre),
        value=own,
        neighbour_mean=float(np.mean(around)) if around else None,
        smoothed=float(np.mean(closed)),
        worst=worst,
        neighbours=len(around),
    )


_Slice = tuple[str, Any, dict[str, Any] | None]  # (param, value, params or None: infeasible)


def _slice_plan(
    space: SearchSpace,
    best: Mapping[str, Any],
    constraints: Sequence[Constraint],
    fixed: Mapping[str, Any] | None,
    slice_points: int,
    max_discrete: int,
) -> list[_Slice]:
    plan: list[_Slice] = []
    for dim in space.dimensions:
        for value in slice_values(
            dim, best[dim.name], slice_points=slice_points, max_discrete=max_discrete
        ):
            params = {**best, dim.name: value}
            merged = {**(fixed or {}), **params}
            ok = all(c.holds(merged) for c in constraints)
            plan.append((dim.name, value, params if ok else None))
    return plan


def _slice_rows(
    evals: Evaluations, plan: Sequence[_Slice], best: Mapping[str, Any]
) -> list[SliceRow]:
    best_key = evals.key(best)
    rows: list[SliceRow] = []
    for name, value, params in plan:
        if params is None:
            rows.append(SliceRow(name, value, False, None, "infeasible"))
            continue
        res: PointResult = evals.result(params)
        status = "ok" if res.values is not None else f"failed: {res.error}"
        is_best = evals.key(params) == best_key
        rows.append(SliceRow(name, value, is_best, res.values, status, res.source))
    return rows

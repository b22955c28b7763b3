"""Ranking a study's trials: best first, a Pareto front by its fronts, the rest after."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from stratopt.storage._attrs import ATTR
from stratopt.storage._resilient import resilient_backend

__all__ = [
    "best_trial",
    "best_value",
    "order_trials",
    "pareto_fronts",
    "per_symbol_frame",
    "ranked_frame",
    "trial_counts",
]

_STATE_ORDER = {TrialState.COMPLETE: 0, TrialState.PRUNED: 1, TrialState.FAIL: 2}
_STATE_NAME = {s: s.name.lower() for s in TrialState}


# Values this close (relative) are equal when fronts are compared: a float's last bits
# (a sum in another order) must not make one candidate dominate its twin.
_REL_TOL = 1e-9


def _pareto_ranks(values: list[tuple[float, ...]], directions: Sequence[str]) -> list[int]:
    sign = [1.0 if d == "maximize" else -1.0 for d in directions]
    pts = [tuple(s * v for s, v in zip(sign, vals, strict=True)) for vals in values]
    ranks = [0] * len(pts)
    remaining = set(range(len(pts)))
    front = 1
    while remaining:
        layer = {i for i in remaining if not any(_dominates(pts[j], pts[i]) for j in remaining)}
        for i in layer:
            ranks[i] = front
        remaining -= layer
        front += 1
    return ranks


def _dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """`a` at least as good everywhere and better somewhere, beyond float noise."""
    tol = [_REL_TOL * max(1.0, abs(x), abs(y)) for x, y in zip(a, b, strict=True)]
    no_worse = all(x >= y - t for x, y, t in zip(a, b, tol, strict=True))
    return no_worse and any(x > y + t for x, y, t in zip(a, b, tol, strict=True))


def pareto_fronts(trials: Sequence[FrozenTrial], directions: Sequence[str]) -> dict[int, int]:
    """Trial number -> Pareto front (1 = not dominated) of the COMPLETE trials."""
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.values]
    ranks = _pareto_ranks([tuple(t.values) for t in done], directions)
    return {t.number: r for t, r in zip(done, ranks, strict=True)}


def order_trials(trials: list[FrozenTrial], directions: Sequence[str]) -> list[FrozenTrial]:
    """Finished trials in rank order: completed ones best first (one objective: by value,
    then number; several: by Pareto front, then number), then pruned (the closest to the
    requirements first: smallest shortfall), then failed."""
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.values]
    done_numbers = {t.number for t in done}
    rest = [t for t in trials if t.number not in done_numbers and t.state in _STATE_ORDER]
    if len(directions) == 1:
        sign = -1.0 if directions[0] == "maximize" else 1.0
        done.sort(key=lambda t: (sign * t.values[0], t.number))
    else:
        ranks = _pareto_ranks([tuple(t.values) for t in done], directions)
        keyed = sorted(zip(ranks, done, strict=True), key=lambda rt: (rt[0], rt[1].number))
        done = [t for _, t in keyed]
    rest.sort(key=lambda t: (_STATE_ORDER[t.state], _shortfall(t), t.number))
    return done + rest


def _shortfall(trial: FrozenTrial) -> float:
    """How far a pruned trial is from the requirements (inf: it did not run)."""
    rec = trial.user_attrs.get(ATTR)
    if not isinstance(rec, dict) or not rec.get("violations"):
        return math.inf
    value = rec.get("shortfall")
    return float(value) if isinstance(value, int | float) else math.inf


def ranked_frame(study: optuna.Study, directions: Sequence[str]) -> pd.DataFrame:
    """Every finished trial, best first; pruned then failed ones ranked last.

    One row per trial: `rank`, `trial`, `state`, the value(s) (with several objectives
    the Pareto `front` first), `params.*`, `metrics.*`, `components.*`, `violations`,
    `pruned`, `error`, `runtime_s`; columns in the order they first appear, a cell a
    trial has not NaN. The metrics and components (floats, most of the cells) are
    gathered by column, the rest as rows (pandas infers their types as ever).
    """
    trials = study.get_trials(deepcopy=False)
    ordered = order_trials(trials, directions)
    fronts = pareto_fronts(trials, directions) if len(directions) > 1 else {}
    # Read in the storage's order, each row put at its rank: the trials lie in memory in
    # that order, and reading them best first (a shuffle) took a third more time.
    at = {t.number: i for i, t in enumerate(ordered)}
    rows: list[dict[str, Any]] = [{} for _ in ordered]
    blocks = _FloatBlocks(len(ordered))
    for t in trials:
        i = at.get(t.number)
        if i is None:  # running or waiting: not ranked
            continue
        state = t.state
        row = rows[i]
        row.update(rank=i + 1, trial=t.number, state=_STATE_NAME[state])
        values = (t.values or []) if state == TrialState.COMPLETE else []
        if len(directions) == 1:
            row["value"] = values[0] if values else math.nan
        else:
            row["front"] = fronts.get(t.number, math.nan)
            for k in range(len(directions)):
                row[f"value_{k}"] = values[k] if values else math.nan
        rec = t.user_attrs.get(ATTR)  # `record`, inline: once per trial
        rec = rec if isinstance(rec, dict) else {}
        params = t.params
        row.update(zip(blocks.prefixed("params.", tuple(params)), params.values(), strict=True))
        blocks.add(i, tuple(row), rec.get("metrics"), rec.get("components"))
        row["violations"] = "; ".join(rec.get("violations") or [])
        row["pruned"] = rec.get("pruned", "")
        row["error"] = rec.get("error", "")
        row["runtime_s"] = rec.get("runtime_s", math.nan)
    frame = pd.DataFrame(rows)
    columns = blocks.columns()
    if not columns:
        return frame
    data: dict[str, Any] = {name: frame[name] for name in frame.columns}
    data.update(blocks.arrays())
    return pd.DataFrame(data, columns=columns)


_TAIL = ("violations", "pruned", "error", "runtime_s")


class _FloatBlocks:
    """The `metrics.*` and `components.*` cells of a ranking, gathered by column.

    Rows whose metrics have the same names in the same order (nearly all) are converted
    together; `float(v)` of each value, as a row's cell would be. Each row's shape (its
    leading cells, its metric and component names) gives the columns' order.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.shapes: dict[tuple[Any, ...], int] = {}  # a row's shape -> its number
        self.shape_of = [0] * n  # each row's shape, by rank
        self.groups: dict[tuple[str, tuple[Any, ...]], tuple[list[int], list[list[float]]]] = {}
        self.names: dict[tuple[str, tuple[Any, ...]], tuple[str, ...]] = {}

    def prefixed(self, prefix: str, keys: tuple[Any, ...]) -> tuple[str, ...]:
        """`prefix` + each key, as f"{prefix}{key}" (made once per list of keys)."""
        names = self.names.get((prefix, keys))
        if names is None:
            names = self.names[prefix, keys] = tuple(f"{prefix}{k}" for k in keys)
        return names

    def add(self, i: int, head: tuple[str, ...], metrics: Any, components: Any) -> None:
        """The row ranked `i`: the names of its cells before the metrics, its metrics and
        components."""
        mkeys = tuple(metrics) if metrics else ()
        ckeys = tuple(components) if components else ()
        self.shape_of[i] = self.shapes.setdefault((head, mkeys, ckeys), len(self.shapes))
        for prefix, keys, cells in (
            ("metrics.", mkeys, metrics),
            ("components.", ckeys, components),
        ):
            if keys:
                rows, values = self.groups.setdefault((prefix, keys), ([], []))
                rows.append(i)
                values.append(list(map(float, cells.values())))

    def columns(self) -> list[str]:
        """Every column in order of first appearance, best first ([]: no trial had
        metrics)."""
        if not self.groups:
            return []
        shapes = {number: shape for shape, number in self.shapes.items()}
        order: dict[str, None] = {}
        for number in dict.fromkeys(self.shape_of):  # each shape where it first appears
            head, mkeys, ckeys = shapes[number]
            names = (*head, *self.prefixed("metrics.", mkeys),
                     *self.prefixed("components.", ckeys), *_TAIL)  # fmt: skip
            order.update(dict.fromkeys(names))
        return list(order)

    def arrays(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for (prefix, keys), (rows, values) in self.groups.items():
            block = np.array(values, dtype=np.float64).reshape(len(rows), len(keys))
            at = np.array(rows, dtype=np.intp)
            # a later duplicate name within a row wins, as a dict's later key does
            for j, name in enumerate(self.prefixed(prefix, keys)):
                if name not in out:
                    out[name] = np.full(self.n, math.nan)
                out[name][at] = block[:, j]
        return out


def best_trial(study: optuna.Study, ranked: pd.DataFrame) -> FrozenTrial | None:
    """The first-ranked trial of `ranked` (None when no trial completed)."""
    if ranked.empty or ranked.iloc[0]["state"] != "complete":
        return None
    number = int(ranked.iloc[0]["trial"])
    return next(t for t in study.get_trials(deepcopy=False) if t.number == number)


def trial_counts(study: optuna.Study) -> dict[str, int]:
    """The study's trials by state (every state, lower case: complete, pruned, fail, ...).

    Counted by the database on an RDB storage: reading every trial to count them would
    hold them all in memory at once (a worker's cache keeps none it need not).
    """
    counts = {s.name.lower(): 0 for s in TrialState}
    backend = resilient_backend(study._storage)
    if backend is not None:
        for state, n in backend.count_states(study._study_id).items():
            counts[state.name.lower()] = n
        return counts
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name.lower()] += 1
    return counts


def best_value(study: optuna.Study) -> float | None:
    """The best objective value of a single-objective study; None when no trial is
    complete or the study has several objectives.

    Asked of the database on an RDB storage (one row), for the same reason as
    `trial_counts`: a poll that read every trial would keep them all in memory.
    """
    if len(study.directions) != 1:
        return None
    backend = resilient_backend(study._storage)

    def read() -> float | None:
        try:
            if backend is None:
                return study.best_value
            return backend.get_best_trial(study._study_id).value
        except ValueError:  # no complete trial yet
            return None

    return read() if backend is None else backend.retried(read)


def per_symbol_frame(study: optuna.Study, ranked: pd.DataFrame) -> pd.DataFrame:
    """With several data series: one row per trial and series (`rank`, `trial`, `symbol`,
    then every metric), in `ranked`'s order; empty with one series."""
    rank = dict(zip(ranked["trial"], ranked["rank"], strict=True)) if not ranked.empty else {}
    rows = []
    for t in study.get_trials(deepcopy=False):
        rec = t.user_attrs.get(ATTR)
        per = rec.get("per_symbol") if isinstance(rec, dict) else None
        for symbol, metrics in (per or {}).items():
            rows.append({"rank": rank.get(t.number), "trial": t.number, "symbol": symbol,
                         **metrics})  # fmt: skip
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).sort_values(["rank", "trial"], kind="stable", ignore_index=True)

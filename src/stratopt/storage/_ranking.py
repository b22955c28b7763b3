"""Ranking a study's trials: best first, a Pareto front by its fronts, the rest after."""

from __future__ import annotations

import itertools
import math
import operator
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from stratopt.storage._attrs import ATTR
from stratopt.storage._metric_rows import MetricRows
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
    rest: list[FrozenTrial] = []
    if len(done) < len(trials):  # else every trial's number is a done one's: no rest
        done_numbers = {t.number for t in done}
        rest = [t for t in trials if t.number not in done_numbers and t.state in _STATE_ORDER]
    if len(directions) == 1:
        sign = -1.0 if directions[0] == "maximize" else 1.0
        numbers = [t.number for t in done]
        if all(map(operator.lt, numbers, itertools.islice(numbers, 1, None))):
            # already in number order: sorted stably by value alone, ties stay in it
            done.sort(key=lambda t: sign * t.values[0])
        else:
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


def ranked_frame(
    study: optuna.Study, directions: Sequence[str], rows: MetricRows | None = None
) -> pd.DataFrame:
    """Every finished trial, best first; pruned then failed ones ranked last.

    One row per trial: `rank`, `trial`, `state`, the value(s) (with several objectives
    the Pareto `front` first), `params.*`, `metrics.*`, `components.*`, `violations`,
    `pruned`, `error`, `runtime_s`; columns in the order they first appear, a cell a
    trial has not NaN. The metrics and components (floats, most of the cells) are
    gathered by column, the rest as rows (pandas infers their types as ever). `rows`: the
    run's metrics by the evaluator's rows, taken from there when they are every trial's.
    """
    trials = study.get_trials(deepcopy=False)
    ordered = order_trials(trials, directions)
    fronts = pareto_fronts(trials, directions) if len(directions) > 1 else {}
    # Read in the storage's order, each row put at its rank: the trials lie in memory in
    # that order, and reading them best first (a shuffle) took a third more time.
    at = {t.number: i for i, t in enumerate(ordered)}
    n = len(ordered)
    # Each row as its names and its cells (not a dict): nearly every row has the same
    # names, and pandas makes the same columns of tuples as of dicts (both through an
    # object array per column).
    names: list[tuple[str, ...]] = [()] * n
    cells: list[tuple[Any, ...]] = [()] * n
    value_names = ("value",) if len(directions) == 1 else (
        "front", *(f"value_{k}" for k in range(len(directions))))  # fmt: skip
    blocks = _FloatBlocks(n)
    # each row's metrics and components by rank, and the ranks in the storage's order:
    # gathered by column at once (`_uniform_blocks`) when every row has the same names
    metrics: list[Any] = [None] * n
    components: list[Any] = [None] * n
    read: list[int] = []
    objectives = len(directions)
    last: tuple[Any, ...] = (None, ())  # the last row's params (None: no row yet), its names
    for t in trials:
        i = at.get(t.number)
        if i is None:  # running or waiting: not ranked
            continue
        state = t.state
        values = (t.values or []) if state == TrialState.COMPLETE else []
        if objectives == 1:
            value_cells: tuple[Any, ...] = (values[0] if values else math.nan,)
        else:
            front = fronts.get(t.number, math.nan)
            value_cells = (front, *(values[k] if values else math.nan for k in range(objectives)))
        rec = t.user_attrs.get(ATTR)  # `record`, inline: once per trial
        rec = rec if isinstance(rec, dict) else {}
        params = t.params
        keys = tuple(params)
        if keys != last[0]:
            head = ("rank", "trial", "state", *value_names, *blocks.prefixed("params.", keys))
            last = (keys, head)
        names[i] = last[1]
        metrics[i] = rec.get("metrics")
        components[i] = rec.get("components")
        read.append(i)
        cells[i] = (i + 1, t.number, _STATE_NAME[state], *value_cells, *params.values(),
                    "; ".join(rec.get("violations") or []), rec.get("pruned", ""),
                    rec.get("error", ""), rec.get("runtime_s", math.nan))  # fmt: skip
    frame = _rows_frame(names, cells)
    columns, arrays = _float_columns(blocks, names, metrics, components, read, rows)
    if not columns:
        return frame
    data: dict[str, Any] = {name: frame[name] for name in frame.columns}
    data.update(arrays)
    return pd.DataFrame(data, columns=columns)


_TAIL = ("violations", "pruned", "error", "runtime_s")


def _rows_frame(names: list[tuple[str, ...]], cells: list[tuple[Any, ...]]) -> pd.DataFrame:
    """The frame of rows given as their names (before `_TAIL`) and cells, a name a row
    has not NaN: one list of tuples when every row has the same names, else dicts."""
    first = names[0] if names else ()
    if all(row is first for row in names):  # the names of a shape are one tuple
        return pd.DataFrame(cells, columns=[*first, *_TAIL]) if cells else pd.DataFrame([])
    return pd.DataFrame(
        [dict(zip((*row, *_TAIL), c, strict=True)) for row, c in zip(names, cells, strict=True)]
    )


def _float_columns(
    blocks: _FloatBlocks,
    names: list[tuple[str, ...]],
    metrics: list[Any],
    components: list[Any],
    read: list[int],
    rows: MetricRows | None,
) -> tuple[list[str], dict[str, np.ndarray]]:
    """Every column of the ranking in order, and its `metrics.*`/`components.*` arrays:
    at once when every row has the same names, else row by row in the storage's order."""
    uniform = _uniform_blocks(names, metrics, components, rows)
    if uniform is not None:
        return uniform
    for i in read:
        blocks.add(i, names[i], metrics[i], components[i])
    columns = blocks.columns()
    return columns, (blocks.arrays() if columns else {})


def _uniform_blocks(
    names: list[tuple[str, ...]],
    metrics: list[Any],
    components: list[Any],
    rows: MetricRows | None = None,
) -> tuple[list[str], dict[str, np.ndarray]] | None:
    """The columns and the `metrics.*` arrays of a ranking whose rows all have the same
    names (the same leading cells, the same metric names in the same order, no
    components): what `_FloatBlocks` gives for one shape, gathered at once instead of a
    row at a time (a grid's 10,000 rows: ~30 ms less). None: not such a ranking.

    The rows' metric names, chained, equal the first row's repeated once per row, and
    there are as many of them: then every row's names are the first row's, in its order
    (a row with another number of names would, within `k` names of the chain, repeat one,
    and a dict's names are distinct).
    """
    n = len(names)
    first, keys = (names[0], metrics[0]) if n else ((), None)
    if not keys or type(keys) is not dict or any(row is not first for row in names):
        return None
    try:
        if any(components) or not all(type(m) is dict for m in metrics):
            return None
    except Exception:  # a cell with no truth value: row by row, as ever
        return None
    # the evaluator's rows the dicts were made of (the same floats), when all were
    block = rows.gather(metrics, tuple(keys)) if rows is not None else None
    if block is None:
        k = len(keys)
        chained = list(itertools.chain.from_iterable(metrics))
        if len(chained) != n * k or chained != list(keys) * n:
            return None
        cells = list(itertools.chain.from_iterable(map(dict.values, metrics)))
        # `_floats` of the rows (NumPy infers one type from the same cells), row i ranked i
        block = _floats([cells]).reshape(n, k)
    arrays: dict[str, np.ndarray] = {}
    for j, key in enumerate(keys):
        arrays[f"metrics.{key}"] = block[:, j].copy()  # a later equal name wins, as ever
    return list(dict.fromkeys((*first, *arrays, *_TAIL))), arrays


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
        self.groups: dict[tuple[str, tuple[Any, ...]], tuple[list[int], list[list[Any]]]] = {}
        self.names: dict[tuple[str, tuple[Any, ...]], tuple[str, ...]] = {}
        self.last: tuple[Any, ...] = ()  # the shape of the row added last, its number, groups
        self.last_number = 0
        self.last_groups: list[tuple[list[int], list[list[Any]]]] = []

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
        shape = (head, mkeys, ckeys)
        if shape == self.last:  # nearly every row: compared (same strings), not hashed
            self.shape_of[i] = self.last_number
            groups = self.last_groups
        else:
            number = self.shapes.setdefault(shape, len(self.shapes))
            groups = [
                self.groups.setdefault((prefix, keys), ([], [])) if keys else ([], [])
                for prefix, keys in (("metrics.", mkeys), ("components.", ckeys))
            ]
            self.shape_of[i], self.last, self.last_number = number, shape, number
            self.last_groups = groups
        for (rows, values), keys, cells in zip(groups, (mkeys, ckeys), (metrics, components),
                                               strict=True):  # fmt: skip
            if keys:
                rows.append(i)
                values.append(list(cells.values()))  # `float`ed in `arrays`

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
            block = _floats(values).reshape(len(rows), len(keys))
            at = np.array(rows, dtype=np.intp)
            # a later duplicate name within a row wins, as a dict's later key does
            for j, name in enumerate(self.prefixed(prefix, keys)):
                if name not in out:
                    out[name] = np.full(self.n, math.nan)
                out[name][at] = block[:, j]
        return out


def _floats(values: list[list[Any]]) -> np.ndarray:
    """`[[float(v) for v in row] for row in values]` as a float64 array: NumPy converts
    Python floats, ints and bools as `float` does; any other cell (text such as "nan",
    None, a large int) goes through `float` itself."""
    try:
        block = np.array(values)
    except (ValueError, TypeError, OverflowError):
        block = None
    if block is None or block.ndim != 2 or block.dtype.kind not in "fib" or block.itemsize > 8:
        block = np.array([list(map(float, row)) for row in values], dtype=np.float64)
    return block.astype(np.float64, copy=False)


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
    # counted by state, each named once (an enum's name is a property: 0.3 µs a trial)
    for state, n in Counter(t.state for t in study.get_trials(deepcopy=False)).items():
        counts[state.name.lower()] += n
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
    found = []
    for t in study.get_trials(deepcopy=False):
        rec = t.user_attrs.get(ATTR)
        per = rec.get("per_symbol") if isinstance(rec, dict) else None
        if per:
            found.append((t.number, per))
    if not found:
        return pd.DataFrame()
    # the ranks looked up only when some trial has series (~5 ms for 10,000 trials)
    rank = dict(zip(ranked["trial"], ranked["rank"], strict=True)) if not ranked.empty else {}
    rows = [{"rank": rank.get(number), "trial": number, "symbol": symbol, **metrics}
            for number, per in found for symbol, metrics in per.items()]  # fmt: skip
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).sort_values(["rank", "trial"], kind="stable", ignore_index=True)

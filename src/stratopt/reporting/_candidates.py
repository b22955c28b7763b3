"""The best and robust candidates as a stored run names them, with their stored metrics."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from stratopt.reporting._format import to_float
from stratopt.reporting._inputs import StoredRun

__all__ = [
    "Pick",
    "best_and_robust",
    "completed_trials",
    "objective_labels",
    "objective_metric",
    "value_columns",
]


@dataclass(frozen=True)
class Pick:
    """A candidate: its trial, params, objective value(s) and metrics as stored."""

    role: str
    trial: int
    params: Mapping[str, Any]
    values: tuple[float, ...]
    metrics: Mapping[str, float] = field(default_factory=dict)
    neighbour_mean: float = math.nan


def value_columns(run: StoredRun) -> list[str]:
    """The ranked frame's objective columns: `value`, or `value_0`, `value_1`, ..."""
    if len(run.directions) == 1:
        return ["value"]
    return [f"value_{i}" for i in range(len(run.directions))]


def completed_trials(run: StoredRun) -> pd.DataFrame:
    """Completed trials with finite objective values, in the stored ranking's order."""
    ranked = run.ranked
    if ranked.empty or "state" not in ranked:
        return ranked
    cols = [c for c in value_columns(run) if c in ranked]
    if not cols:
        return ranked.iloc[0:0]
    ok = ranked["state"] == "complete"
    for c in cols:
        ok &= pd.to_numeric(ranked[c], errors="coerce").notna()
    return ranked[ok]


def objective_metric(run: StoredRun) -> str | None:
    """The metric a single-metric objective optimizes (None for a weighted score)."""
    config = run.summary.get("config")
    objective = config.get("objective") if isinstance(config, Mapping) else None
    if isinstance(objective, str):
        return objective
    if isinstance(objective, Mapping) and isinstance(objective.get("metric"), str):
        return str(objective["metric"])
    return None


def objective_labels(run: StoredRun) -> list[str]:
    """How each objective value is named: `maximize sharpe`, ..."""
    config = run.summary.get("config")
    objective = config.get("objective") if isinstance(config, Mapping) else None
    if isinstance(objective, Mapping):
        names = [f"maximize {m}" for m in objective.get("maximize") or []]
        names += [f"minimize {m}" for m in objective.get("minimize") or []]
        if len(names) == len(run.directions):
            return names
    if len(run.directions) == 1 and run.summary.get("objective"):
        return [str(run.summary["objective"])]
    return [f"{d} objective {i}" for i, d in enumerate(run.directions)]


def _row_params(row: pd.Series) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        name = str(key)
        if name.startswith("params.") and not (isinstance(value, float) and math.isnan(value)):
            out[name.removeprefix("params.")] = value.item() if hasattr(value, "item") else value
    return out


def _row_metrics(row: pd.Series) -> dict[str, float]:
    return {
        str(k).removeprefix("metrics."): to_float(v)
        for k, v in row.items()
        if str(k).startswith("metrics.")
    }


def _pick(role: str, row: pd.Series, run: StoredRun, nbhd: float = math.nan) -> Pick:
    values = tuple(to_float(row.get(c)) for c in value_columns(run))
    return Pick(role, int(row["trial"]), _row_params(row), values, _row_metrics(row), nbhd)


def best_and_robust(run: StoredRun) -> tuple[Pick | None, Pick | None]:
    """Rank 1 of the stored ranking, and the robustness section's robust candidate."""
    done = completed_trials(run)
    if done.empty:
        return None, None
    robustness = run.section("robustness") or {}
    best_info = robustness.get("best")
    best_nbhd = to_float(best_info.get("smoothed")) if isinstance(best_info, Mapping) else math.nan
    best = _pick("best", done.iloc[0], run, best_nbhd)
    info = robustness.get("robust")
    if not isinstance(info, Mapping) or info.get("trial") is None:
        return best, None
    match = done[done["trial"] == int(info["trial"])]
    if match.empty:
        return best, None
    return best, _pick("robust", match.iloc[0], run, to_float(info.get("smoothed")))

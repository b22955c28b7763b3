"""The Optuna loop of both stages: ask, evaluate one candidate, tell; resumable.

Trials are recorded as every stratopt study records them (user attribute ``stratopt``:
metrics, error, runtime), so `stratopt studies`, `show` and `export` read them too. A
study remembers the fingerprint of what it searched (data, features, folds, model or
rule settings); resuming it with other inputs is refused instead of mixing results.
A candidate that raises is marked failed with its message and the search goes on.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState

from stratopt.config import SearchConfig
from stratopt.errors import ConfigError, UserInputError
from stratopt.ml._cache import cache_key
from stratopt.search import SearchSpace, make_sampler
from stratopt.storage import open_storage

__all__ = ["ATTR", "ATTR_INPUTS", "Outcome", "SearchSettings", "completed_trials", "run_search"]

ATTR = "stratopt"
ATTR_INPUTS = "stratopt:ml_inputs"


@dataclass(frozen=True)
class Outcome:
    """What evaluating one candidate gave: its objective value (None: failed) and metrics."""

    value: float | None
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchSettings:
    """One stage's search: study name, storage, method, seed, target and direction."""

    name: str
    url: str
    method: str
    seed: int
    trials: int
    direction: str = "maximize"
    inputs: Mapping[str, Any] = field(default_factory=dict)


def _jsonable(metrics: Mapping[str, float]) -> dict[str, Any]:
    return {k: (v if math.isfinite(v) else str(v)) for k, v in metrics.items()}


def completed_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The COMPLETE trials with a finite value, by trial number."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return [t for t in done if t.values and math.isfinite(t.values[0])]


def open_search(settings: SearchSettings) -> optuna.Study:
    """Create or load the study; refuse one made from other inputs or directions."""
    study = optuna.create_study(
        study_name=settings.name,
        storage=open_storage(settings.url),
        direction="maximize" if settings.direction == "maximize" else "minimize",
        load_if_exists=True,
    )
    if study.direction.name.lower() != settings.direction:
        raise ConfigError(
            f"name: study {settings.name!r} already exists with another direction; use "
            "another name or storage"
        )
    fingerprint = cache_key(settings.inputs)
    stored = study.user_attrs.get(ATTR_INPUTS)
    if stored is None:
        study.set_user_attr(ATTR_INPUTS, fingerprint)
    elif stored != fingerprint:
        raise UserInputError(
            f"name: study {settings.name!r} in this storage was run with other data, "
            "features, folds or settings; give the study another name (--set name=...) or "
            "use another storage"
        )
    return study


def run_search(
    settings: SearchSettings,
    space: SearchSpace | None,
    evaluate: Callable[[dict[str, Any]], Outcome],
    *,
    on_trial: Callable[[int, int], None] | None = None,
) -> optuna.Study:
    """Run trials until `settings.trials` are complete (earlier runs count).

    Without a space, there is one candidate (no parameters): one trial at most.
    """
    study = open_search(settings)
    target = settings.trials if space is not None else 1
    done = len(completed_trials(study))
    earlier = len(study.get_trials(deepcopy=False))
    study.sampler = make_sampler(
        SearchConfig(method=settings.method), seed=settings.seed + earlier, n_objectives=1
    )
    attempts, max_attempts = 0, 10 * target + 100
    while done < target and attempts < max_attempts:
        attempts += 1
        with warnings.catch_warnings():
            # Optuna's heartbeat thread belongs to `optimize`; a killed run leaves a
            # RUNNING trial, which is not counted: resuming runs another one instead.
            warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed")
            trial = study.ask()
        params = space.suggest(trial) if space is not None else {}
        started = time.perf_counter()
        try:
            outcome = evaluate(params)
        except Exception as exc:  # one candidate's failure never aborts the study
            outcome = Outcome(None, error=f"{type(exc).__name__}: {exc}")
        record: dict[str, Any] = {
            "metrics": _jsonable(outcome.metrics),
            "runtime_s": round(time.perf_counter() - started, 6),
            **outcome.extra,
        }
        if outcome.value is None or not math.isfinite(outcome.value):
            record["error"] = outcome.error or "the objective is not finite"
            trial.set_user_attr(ATTR, record)
            study.tell(trial, state=TrialState.FAIL)
        else:
            trial.set_user_attr(ATTR, record)
            study.tell(trial, outcome.value)
            done += 1
        if on_trial is not None:
            on_trial(done, target)
    return study

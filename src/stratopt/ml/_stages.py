"""Both stages' searches on a prepared study, with what each leaves behind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
import pandas as pd

from stratopt.errors import UserInputError
from stratopt.metrics import get_metric
from stratopt.ml._config import optional_space
from stratopt.ml._predict import (
    fold_predictions,
    model_params,
    path_predictions,
)
from stratopt.ml._prepare import Prepared
from stratopt.ml._search import (
    ATTR,
    Outcome,
    SearchSettings,
    open_search,
    run_search,
)
from stratopt.ml._stage1 import evaluate_model, score_predictions
from stratopt.ml._stage2 import (
    MODEL_TRIAL,
    PredictionSet,
    RuleBacktester,
)
from stratopt.search import SearchSpace
from stratopt.storage import open_storage, redact, study_names

__all__ = [
    "RunContext",
    "Stage1Result",
    "Stage2Result",
    "run_stage1",
    "run_stage2",
    "select_models",
    "stage1_name",
    "stage2_name",
]

Progress = Callable[[str, int, int], None]


@dataclass
class TrainingLog:
    """Configurations this run fit models for, and those the cache already held."""

    trained: int = 0
    cached: int = 0


@dataclass(frozen=True, eq=False)
class RunContext:
    """Where studies live, the count of models fit, and who hears of progress."""

    url: str
    log: TrainingLog = field(default_factory=TrainingLog)
    progress: Progress | None = None


@dataclass(frozen=True, eq=False)
class Stage1Result:
    """The model search: its study and its trials (best first)."""

    study: optuna.Study
    trials: pd.DataFrame


@dataclass(frozen=True, eq=False)
class Stage2Result:
    """The rule search on the predictions of `models` (stage-1 trial numbers)."""

    study: optuna.Study
    trials: pd.DataFrame
    models: tuple[int, ...]
    dev: RuleBacktester
    space: SearchSpace | None
    fixed: dict[str, Any] = field(default_factory=dict)
    direction: str = "maximize"


def stage1_name(prepared: Prepared) -> str:
    return f"{prepared.study.name}.stage1"


def stage2_name(prepared: Prepared, models: tuple[int, ...]) -> str:
    return f"{prepared.study.name}.stage2.from-" + "-".join(f"t{m}" for m in models)


def _stage1_settings(prepared: Prepared, url: str, trials: int | None = None) -> SearchSettings:
    s, m = prepared.study.stage1, prepared.study.model
    inputs = {
        **prepared.fingerprint,
        "ic": prepared.study.ic,
        "objective": s.objective,
        "model": {
            "fixed": m.fixed,
            "space": m.space,
            "rounds": m.rounds,
            "early_stopping": None if m.early_stopping is None else m.early_stopping.model_dump(),
        },
    }
    return SearchSettings(
        stage1_name(prepared), url, s.method, s.seed, trials or s.trials, "maximize", inputs
    )


def run_stage1(prepared: Prepared, ctx: RunContext) -> Stage1Result:
    """Search the model space on out-of-fold IC (every configuration cached)."""
    log, progress = ctx.log, ctx.progress
    objective = prepared.study.stage1.objective

    def evaluate(params: dict[str, Any]) -> Outcome:
        score = evaluate_model(prepared, params)
        if score.predictions.trained:
            log.trained += 1
        else:
            log.cached += 1
        return Outcome(
            score.metrics[objective],
            score.metrics,
            extra={"folds": score.folds, "cache_key": score.predictions.key},
        )

    tick = (lambda done, n: progress("stage 1", done, n)) if progress else None
    study = run_search(
        _stage1_settings(prepared, ctx.url), prepared.model_space, evaluate, on_trial=tick
    )
    return Stage1Result(study, trial_table(study))


def load_stage1(prepared: Prepared, url: str) -> Stage1Result:
    """The stored stage-1 study (for `stratopt ml stage2`), checked against the inputs."""
    settings = _stage1_settings(prepared, url)
    if settings.name not in study_names(open_storage(url)):
        raise UserInputError(
            f"name: no stage-1 study {settings.name!r} in {redact(url)}; run "
            "`stratopt ml stage1` (or `ml tune`) first"
        )
    study = open_search(settings)
    return Stage1Result(study, trial_table(study))


def trial_table(study: optuna.Study) -> pd.DataFrame:
    """One row per finished trial, best first: number, state, value, params, metrics.

    No run time (it is in timings.json): the table depends on the inputs alone.
    """
    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.state not in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL):
            continue
        rec = t.user_attrs.get(ATTR) or {}
        row: dict[str, Any] = {"trial": t.number, "state": t.state.name.lower()}
        row["value"] = t.values[0] if t.values else np.nan
        row.update({f"params.{k}": v for k, v in t.params.items()})
        row.update({f"metrics.{k}": float(v) for k, v in (rec.get("metrics") or {}).items()})
        row["error"] = rec.get("error", "")
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    ascending = study.direction == optuna.study.StudyDirection.MINIMIZE
    frame["_failed"] = frame["state"] != "complete"
    frame = frame.sort_values(["_failed", "value", "trial"], ascending=[True, ascending, True])
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame.drop(columns="_failed").reset_index(drop=True)


def select_models(stage1: Stage1Result, selection: tuple[str, int]) -> tuple[int, ...]:
    """Stage-1 trial numbers stage 2 uses: the best, the top K, or one trial."""
    done = stage1.trials[stage1.trials["state"] == "complete"]
    if done.empty:
        raise UserInputError("stage1: no completed trial to take predictions from")
    how, k = selection
    if how == "trial":
        if k not in set(done["trial"].astype(int)):
            raise UserInputError(f"stage2.from: stage-1 trial {k} is not a completed trial")
        return (k,)
    return tuple(int(t) for t in done["trial"].head(k))


def _predictions(prepared: Prepared, study: optuna.Study, number: int, log: TrainingLog) -> Any:
    trial = study.trials[number]
    oof = fold_predictions(prepared, model_params(prepared, trial.params))
    if oof.trained:
        log.trained += 1
    else:
        log.cached += 1
    values, fold = path_predictions(prepared, oof)
    return PredictionSet(values, fold), oof


def dev_span(prepared: Prepared, sets: dict[int, PredictionSet]) -> tuple[int, int]:
    """Bars stage 2 trades on: from the first prediction to the holdout."""
    first = min(int(np.argmax((s.fold >= 0).any(axis=0))) for s in sets.values())
    return first, prepared.holdout_start


def _stage2_space(prepared: Prepared, models: tuple[int, ...]) -> SearchSpace | None:
    raw = dict(prepared.study.stage2.space)
    if len(models) > 1:
        raw = {MODEL_TRIAL: list(models), **raw}
    return optional_space(raw, "stage2.space")


def run_stage2(
    prepared: Prepared, stage1: Stage1Result, models: tuple[int, ...], ctx: RunContext
) -> Stage2Result:
    """Search the rule on the cached predictions of `models`; never fits a model when cached."""
    cfg = prepared.study.stage2
    sets = {m: _predictions(prepared, stage1.study, m, ctx.log)[0] for m in models}
    settings = cfg.backtest.to_settings()
    dev = RuleBacktester(prepared.panel, sets, span=dev_span(prepared, sets), settings=settings)
    space = _stage2_space(prepared, models)
    fixed = {**cfg.params, MODEL_TRIAL: models[0]} if len(models) == 1 else dict(cfg.params)
    direction = "maximize" if get_metric(cfg.objective).higher_is_better else "minimize"

    def evaluate(params: dict[str, Any]) -> Outcome:
        run = dev.run({**fixed, **params})
        return Outcome(run.metrics[cfg.objective], run.metrics)

    inputs = {
        **prepared.fingerprint,
        "models": list(models),
        "stage1": stage1.study.user_attrs.get("stratopt:ml_inputs"),
        "stage2": cfg.model_dump(mode="json", by_alias=True, exclude={"trials", "top"}),
    }
    search = SearchSettings(
        stage2_name(prepared, models), ctx.url, cfg.method, cfg.seed, cfg.trials, direction, inputs
    )
    progress = ctx.progress
    tick = (lambda done, n: progress("stage 2", done, n)) if progress else None
    study = run_search(search, space, evaluate, on_trial=tick)
    return Stage2Result(study, trial_table(study), models, dev, space, fixed, direction)


def stage1_folds(prepared: Prepared, stage1: Stage1Result, number: int) -> list[dict[str, Any]]:
    """The per-fold ICs of a stage-1 trial, as recorded (or recomputed from the cache)."""
    rec = stage1.study.trials[number].user_attrs.get(ATTR) or {}
    folds = rec.get("folds")
    if isinstance(folds, list):
        return folds
    oof = fold_predictions(prepared, model_params(prepared, stage1.study.trials[number].params))
    return score_predictions(prepared, oof)[1]

"""The entry points: both stages and the holdout (`tune`), or one stage at a time."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from stratopt.ml._config import MlStudy, load_ml_study
from stratopt.ml._honesty import honesty_report
from stratopt.ml._lookahead import check_feature_lookahead
from stratopt.ml._model import lightgbm_version
from stratopt.ml._panel import Panel
from stratopt.ml._prepare import Prepared, prepare
from stratopt.ml._runfolder import make_run_dir, write_ml_run_folder
from stratopt.ml._stage2 import MODEL_TRIAL
from stratopt.ml._stages import (
    RunContext,
    Stage1Result,
    Stage2Result,
    TrainingLog,
    load_stage1,
    run_stage1,
    run_stage2,
    select_models,
    stage1_folds,
)
from stratopt.storage import redact, resolve_storage_url

__all__ = ["TuneOptions", "TuneResult", "tune"]

Stages = Literal["both", "stage1", "stage2"]
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, eq=False)
class TuneResult:
    """What a run did and wrote.

    Attributes:
        run_folder: The folder with summary.json, the trial tables and report.md.
        summary: The contents of summary.json.
        stage1: The model search (run or loaded).
        stage2: The rule search (None for `stages="stage1"`).
        training: Configurations fit by this run and those read from the cache.
    """

    run_folder: Path
    summary: dict[str, Any]
    stage1: Stage1Result
    stage2: Stage2Result | None
    training: TrainingLog


def _lookahead(prepared: Prepared) -> dict[str, Any]:
    spec = prepared.feature_spec
    if spec.set != "alpha158" and spec.function is None:
        return {"clean": True, "note": "features are data columns; nothing computed"}
    return check_feature_lookahead(prepared.panel, spec).to_dict()


def _best_config(study: MlStudy, s1: Stage1Result, s2: Stage2Result | None) -> dict[str, Any]:
    """The study with the chosen model and rule fixed (runs one trial per stage)."""
    cfg: dict[str, Any] = json.loads(study.model_dump_json(by_alias=True))
    done = s1.trials[s1.trials["state"] == "complete"]
    model = int(done.iloc[0]["trial"]) if not done.empty else None
    if s2 is not None:
        model = s2.models[0]
        rule = s2.trials[s2.trials["state"] == "complete"]
        if not rule.empty:
            params = dict(s2.study.trials[int(rule.iloc[0]["trial"])].params)
            model = int(params.pop(MODEL_TRIAL, model))  # topK: the model is searched
            cfg["stage2"]["params"].update(params)
            cfg["stage2"]["space"] = {}
            cfg["stage2"]["from"] = "best"
    if model is not None:
        cfg["model"]["params"].update(s1.study.trials[model].params)
        cfg["model"]["space"] = {}
    if cfg["data"].get("path") is not None:
        cfg["data"]["path"] = [study.resolve_path(p) for p in study.data.paths]
    cfg["output"] = str(study.output_dir.resolve())
    cfg["name"] = f"{study.name}_best"  # its own studies: other spaces than the search's
    cfg.pop("storage", None)
    return cfg


def _base_summary(prepared: Prepared, url: str, look: dict[str, Any]) -> dict[str, Any]:
    study, panel = prepared.study, prepared.panel
    return {
        "study": study.name,
        "kind": "ml_two_stage",
        "storage": redact(url),
        "data": {
            "symbols": list(panel.symbols),
            "bars": panel.n_bars,
            "start": str(panel.index[0]),
            "end": str(panel.index[-1]),
            "sha256": prepared.fingerprint["data"],
            "periods_per_year": panel.periods_per_year,
        },
        "features": {**prepared.feature_spec.describe(), "count": len(prepared.features.names)},
        "holdout": {
            "start": str(panel.index[prepared.holdout_start]),
            "bars": panel.n_bars - prepared.holdout_start,
        },
        "folds": {
            "scheme": prepared.plan.scheme,
            "purge": prepared.plan.purge,
            "embargo": prepared.plan.embargo,
            "boundaries": prepared.plan.boundaries(),
        },
        "lightgbm": lightgbm_version(),
        "lookahead": look,
        "config": json.loads(study.model_dump_json(by_alias=True)),
    }


def _stage1_only(prepared: Prepared, s1: Stage1Result) -> dict[str, Any]:
    done = s1.trials[s1.trials["state"] == "complete"]
    out: dict[str, Any] = {
        "study": s1.study.study_name,
        "objective": prepared.study.stage1.objective,
        "trials_complete": len(done),
        "models": [],
    }
    if not done.empty:
        best = int(done.iloc[0]["trial"])
        rec = s1.study.trials[best].user_attrs.get("stratopt") or {}
        out["models"].append(
            {
                "trial": best,
                "params": dict(s1.study.trials[best].params),
                "development": rec.get("metrics", {}),
                "folds": stage1_folds(prepared, s1, best),
            }
        )
    return out


def _fold_table(summary: dict[str, Any]) -> pd.DataFrame:
    rows = [
        {"trial": m["trial"], **f}
        for m in summary.get("stage1", {}).get("models", [])
        for f in m.get("folds", [])
    ]
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class TuneOptions:
    """How to run a two-stage study (all optional).

    Attributes:
        storage: Optuna storage URL (default: the file's `storage`, then SQLite in output).
        overrides: ``dotted.key=value`` changes to a study file.
        stages: ``both`` (`stratopt ml tune`), ``stage1`` (the model search and its fold
            ICs; the holdout is not touched) or ``stage2`` (the rule search on the stored
            stage-1 study's cached predictions, the holdout and the honesty report).
        from_trial: Stage 2 on the predictions of this stage-1 trial (`--from-trial`).
        progress: Called with ``(stage, completed trials, target)`` after each trial.
        panel: Data already in memory, used instead of the study's `data:` section.
    """

    storage: str | None = None
    overrides: Sequence[str] = ()
    stages: Stages = "both"
    from_trial: int | None = None
    progress: Progress | None = None
    panel: Panel | None = None


def tune(study: MlStudy | str | Path, options: TuneOptions | None = None) -> TuneResult:
    """Run a two-stage study: stage 1, stage 2 and the holdout, or one stage.

    Args:
        study: A study file (YAML/JSON) or an already loaded `MlStudy`.
        options: Storage, overrides, which stages, progress (`TuneOptions`).

    Returns:
        The run folder, the summary and both stages' studies and tables.

    Raises:
        ConfigError: invalid study file or combination (one line naming the field).
    """
    opts = options or TuneOptions()
    started = time.perf_counter()
    cfg = study if isinstance(study, MlStudy) else load_ml_study(study, opts.overrides)
    ctx = RunContext(
        resolve_storage_url(opts.storage, cfg.storage, cfg.output_dir), progress=opts.progress
    )
    prepared = prepare(cfg, panel=opts.panel)
    run_dir = make_run_dir(cfg.output_dir, cfg.name)
    summary = _base_summary(prepared, ctx.url, _lookahead(prepared))
    timings: dict[str, Any] = {"prepare_s": round(time.perf_counter() - started, 3)}
    stored = opts.stages == "stage2"
    s1 = load_stage1(prepared, ctx.url) if stored else run_stage1(prepared, ctx)
    timings["stage1_s"] = round(time.perf_counter() - started - timings["prepare_s"], 3)
    tables = {"stage1_trials.csv": s1.trials}
    s2 = None
    if opts.stages == "stage1":
        summary["stage1"] = _stage1_only(prepared, s1)
    else:
        s2 = _stage2_and_holdout(prepared, s1, ctx, opts.from_trial, summary, tables)
    tables["stage1_folds.csv"] = _fold_table(summary)
    log = ctx.log
    timings.update(
        seconds=round(time.perf_counter() - started, 3),
        models_trained=log.trained,
        models_from_cache=log.cached,
    )
    write_ml_run_folder(
        run_dir,
        summary=summary,
        tables=tables,
        best_config=_best_config(cfg, s1, s2),
        timings=timings,
    )
    return TuneResult(run_dir, summary, s1, s2, log)


def _stage2_and_holdout(
    prepared: Prepared,
    s1: Stage1Result,
    ctx: RunContext,
    from_trial: int | None,
    summary: dict[str, Any],
    tables: dict[str, pd.DataFrame],
) -> Stage2Result:
    selection = (
        ("trial", from_trial) if from_trial is not None else prepared.study.stage2.selection()
    )
    s2 = run_stage2(prepared, s1, select_models(s1, selection), ctx)
    sections, holdout = honesty_report(prepared, s1, s2, ctx.log)
    summary.update(sections)
    tables["stage2_trials.csv"] = s2.trials
    tables["holdout.csv"] = holdout
    return s2

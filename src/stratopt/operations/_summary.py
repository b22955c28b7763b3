"""The one builder of search run folders: summary.json, ranked_results.csv, best_config.*.

Every run that searches or reports a study (`optimize_study`, `optimize`, a worker,
`launch`'s report) starts a run folder with `RunStart.begin` and finishes it with
`finish_search`, so every summary.json has the same keys: a study's run folder always
records its config, `study_dir` and data (what `stratopt validate RUN_FOLDER` reads).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from optuna.trial import FrozenTrial

from stratopt.data import Bars
from stratopt.operations._prepared import PreparedStudy
from stratopt.operations._results import LookaheadCheck, OptimizeResult, RobustnessCheck
from stratopt.operations._statistics import study_statistics
from stratopt.search import RunResult, SearchPlan, nest
from stratopt.storage import (
    best_trial,
    discard_if_empty,
    git_commit,
    new_run_dir,
    ranked_frame,
    record,
    redact,
    sha256,
    trial_counts,
    versions,
    write_run_folder,
)
from stratopt.validation import HoldoutReport, evaluate_holdout

_log = logging.getLogger(__name__)

__all__ = ["Checks", "RunStart", "SearchRun", "finish_search"]


@dataclass(frozen=True)
class RunStart:
    """A run folder made before the run (so an unwritable output fails first), when the
    run started, and its provenance, gathered in a thread while the run goes on."""

    path: Path
    started: dt.datetime
    provenance: Future[dict[str, Any]]

    @classmethod
    def begin(cls, output: Path, name: str) -> RunStart:
        return cls(new_run_dir(output, name), dt.datetime.now(dt.UTC), _provenance())

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Remove the run folder again if the run fails before writing anything."""
        try:
            yield
        except BaseException:
            discard_if_empty(self.path)
            raise


def _provenance() -> Future[dict[str, Any]]:
    """Git commit and package versions, gathered in a thread while the search runs.

    Two git subprocesses and the package metadata cost tens of milliseconds: as much as
    a thousand fast trials, so they overlap with the search instead of following it.
    """
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(lambda: {"git": git_commit(Path.cwd()), "versions": versions()})
    pool.shutdown(wait=False)
    return future


@dataclass(frozen=True)
class Checks:
    """The analyses a run made after its search (None: not run)."""

    robustness: RobustnessCheck | None = None
    lookahead: LookaheadCheck | None = None
    statistics: bool = False  # compute the overfitting statistics when writing
    jobs: int = 1  # processes re-running the statistics' candidates


@dataclass(frozen=True)
class SearchRun:
    """A finished search (or a stored study reported as it is), ready to be written."""

    name: str
    url: str
    plan: SearchPlan
    result: RunResult
    start: RunStart
    prepared: PreparedStudy | None = None  # None: optimize() on a Python function
    checks: Checks = field(default_factory=Checks)
    extra: dict[str, Any] = field(default_factory=dict)  # summary keys of this kind of run


def finish_search(run: SearchRun) -> OptimizeResult:
    """Rank the trials, add statistics and the holdout, write the run folder."""
    ranked = ranked_frame(run.result.study, run.plan.objective.directions)
    summary = _summary(run)
    statistics = _statistics(run, ranked) if run.checks.statistics else None
    if statistics is not None:
        summary["statistics"] = statistics
    best = best_trial(run.result.study, ranked)
    if best is not None:
        summary["best"] = _best_section(best)
    holdout = _holdout(run, ranked)
    if holdout is not None:
        holdout.frame.to_csv(run.start.path / "holdout.csv", index=False)
        summary["holdout"] = holdout.summary
    best_cfg = None
    if best is not None and run.prepared is not None:
        best_cfg = best_config(run.prepared, best)
    folder = write_run_folder(run.start.path, summary=summary, ranked=ranked, best_config=best_cfg)
    metrics = record(best).get("metrics") if best is not None else None
    return OptimizeResult(
        study_name=run.name,
        storage=redact(run.url),
        run_folder=folder,
        ranked=ranked,
        best_params=dict(best.params) if best is not None else None,
        best_values=list(best.values) if best is not None else None,
        best_metrics=metrics,
        counts=summary["counts"],
        stopped_by=run.result.stopped_by,
        seconds=run.result.seconds,
        holdout=holdout,
        statistics=statistics,
        robustness=run.checks.robustness,
        lookahead=run.checks.lookahead,
        best_trial=best.number if best is not None else None,
    )


def _summary(run: SearchRun) -> dict[str, Any]:
    """summary.json's keys every search run has, then its study's and its kind's."""
    p, plan = run.result.progress, run.plan
    provenance = run.start.provenance.result()
    summary: dict[str, Any] = {
        "study": run.name,
        "storage": redact(run.url),
        "objective": plan.objective.describe(),
        "directions": list(plan.objective.directions),
        "space": {
            "names": list(plan.space.names),
            "grid_size": plan.space.grid_size() if plan.space.is_discrete else None,
        },
        "counts": trial_counts(run.result.study),
        "this_run": {
            "attempts": p.attempts,
            "complete_total": p.complete,
            "pruned": p.pruned,
            "failed": p.failed,
            "stopped_by": run.result.stopped_by,
            "seconds": round(run.result.seconds, 3),
            "started_utc": run.start.started.isoformat(),
            "finished_utc": dt.datetime.now(dt.UTC).isoformat(),
        },
        "git": provenance["git"],
        "versions": provenance["versions"],
    }
    for key, check in (("robustness", run.checks.robustness), ("lookahead", run.checks.lookahead)):
        if check is not None:
            summary[key] = check.to_dict()
    if run.prepared is not None:
        summary.update(_study_sections(run.prepared, run.url))
    summary.update(run.extra)
    return summary


def _study_sections(prepared: PreparedStudy, url: str) -> dict[str, Any]:
    """What a study's run folder records of the study: enough to validate it later."""
    config = json.loads(prepared.study.model_dump_json())
    config["storage"] = redact(url)
    return {
        "strategy": prepared.strategy.name,
        "data": data_summary(prepared.bars()),
        "config": config,
        "study_dir": str(prepared.study.base_dir.resolve()),  # relative paths in config
    }


def data_summary(series: Sequence[Bars]) -> list[dict[str, Any]]:
    """Per data series: symbol, source, bars, first and last time, and the file's hash."""
    out = []
    for bars in series:
        entry: dict[str, Any] = {
            "symbol": bars.symbol,
            "source": bars.source,
            "bars": len(bars),
            "start": str(bars.index[0]),
            "end": str(bars.index[-1]),
            "periods_per_year": bars.periods_per_year,
        }
        path = Path(bars.source)
        if path.is_file():
            entry["sha256"] = sha256(path)
        out.append(entry)
    return out


def _statistics(run: SearchRun, ranked: pd.DataFrame) -> dict[str, Any]:
    """The `statistics` section, on the searched (in-sample) data only.

    A failure here never loses the run: it is recorded in the section.
    """
    prepared = run.prepared
    try:
        return study_statistics(
            ranked,
            directions=run.plan.objective.directions,
            study=prepared.searched if prepared is not None else None,
            data=prepared.data if prepared is not None else None,
            seed=run.plan.settings.seed,
            jobs=run.checks.jobs,
        )
    except Exception as exc:  # a bug in the statistics must not cost the finished search
        _log.exception("overfitting statistics failed")
        message = f"{type(exc).__name__}: {exc}"
        return {
            "available": False,
            "reason": message,
            "verdict": f"overfitting statistics failed: {message}",
        }


def _holdout(run: SearchRun, ranked: pd.DataFrame) -> HoldoutReport | None:
    """The top candidates re-run on the holdout (None without one)."""
    if run.prepared is None or run.prepared.holdout is None:
        return None
    params = {t.number: t.params for t in run.result.study.get_trials(deepcopy=False)}
    top = run.prepared.study.validation.top
    return evaluate_holdout(
        run.prepared.holdout, ranked, params, top=top, objective=run.plan.objective
    )


def _best_section(best: FrozenTrial) -> dict[str, Any]:
    return {
        "trial": best.number,
        "params": best.params,
        "values": best.values,
        "metrics": record(best).get("metrics", {}),
    }


def best_config(prepared: PreparedStudy, best: FrozenTrial) -> dict[str, Any]:
    """The study file with `best`'s parameters fixed, runnable with `stratopt backtest`."""
    study = prepared.study
    cfg: dict[str, Any] = json.loads(study.model_dump_json())
    fixed = nest(best.params)
    for section in ("backtest", "risk"):
        cfg["backtest"].update(fixed.pop(section, {}))
    cfg["data"].update({k: str(v) for k, v in fixed.pop("data", {}).items()})
    cfg["params"].update(fixed.pop("strategy", {}))
    cfg["params"].update(fixed)
    cfg["space"] = {}
    cfg["constraints"] = []
    if cfg["data"].get("path") is not None:
        paths = [study.resolve_path(p) for p in study.data.paths]
        cfg["data"]["path"] = paths[0] if isinstance(study.data.path, str) else paths
    strategy = study.strategy
    if ":" in strategy and strategy.split(":")[0].endswith(".py"):
        file, _, cls = strategy.rpartition(":")
        cfg["strategy"] = f"{(study.base_dir / file).resolve()}:{cls}"
    cfg["output"] = str(study.output_dir.resolve())
    cfg.pop("storage", None)
    return cfg

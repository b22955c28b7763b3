"""The one builder of run folders: summary.json (and ranked_results.csv, best_config.*).

Every run that writes a run folder starts it with `RunStart.begin` and builds its
summary.json with `run_summary`, so every summary.json has the same keys (`kind`,
`study`, the study's config, `study_dir` and data, `this_run`, `git`, `versions`) and
its kind's own after them. A search run (`optimize_study`, `optimize`, a worker,
`launch`'s report) finishes with `finish_search`; a batch with `finish_run`. A study's
run folder always records its config, `study_dir` and data (what `stratopt validate
RUN_FOLDER` and `stratopt analyze RUN_FOLDER` read).
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

from stratopt.config import StudyConfig
from stratopt.data import Bars
from stratopt.grid import path_band_section
from stratopt.operations._candidate_files import fixed_config, write_candidate_files
from stratopt.operations._prepared import PreparedStudy
from stratopt.operations._rescore import rescore
from stratopt.operations._results import LookaheadCheck, OptimizeResult, RobustnessCheck
from stratopt.operations._statistics import study_statistics
from stratopt.search import RunResult, SearchPlan, restore_normalizer
from stratopt.storage import (
    ATTR_SELECTION,
    best_trial,
    discard_if_empty,
    git_commit,
    new_run_dir,
    per_symbol_frame,
    ranked_frame,
    record,
    redact,
    sha256,
    trial_counts,
    versions,
    write_json,
    write_run_folder,
)
from stratopt.validation import HoldoutReport, evaluate_holdout

_log = logging.getLogger(__name__)

__all__ = [
    "Checks",
    "RunRecord",
    "RunStart",
    "SearchRun",
    "finish_run",
    "finish_search",
    "run_summary",
]


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
    restore_normalizer(run.result.study, run.plan)  # the bounds the workers saved last
    directions = run.plan.objective.directions
    ranked = rescore(ranked_frame(run.result.study, directions, run.result.metric_rows),
                     run.plan.objective)  # fmt: skip
    summary = _summary(run)
    statistics = _statistics(run, ranked) if run.checks.statistics else None
    if statistics is not None:
        summary["statistics"] = statistics
    best = best_trial(run.result.study, ranked)
    if best is not None:
        summary["best"] = _best_section(best)
        summary.update(path_band_section(summary["best"]["metrics"]))  # grid studies
    per_symbol = per_symbol_frame(run.result.study, ranked)
    if not per_symbol.empty:  # several data series: each trial's metrics on each
        per_symbol.to_csv(run.start.path / "per_symbol.csv", index=False)
    if run.prepared is not None and best is not None:  # before the holdout is touched
        robust = summary.get("robustness", {}).get("robust")
        studies = (run.prepared.study, run.prepared.searched)
        write_candidate_files(run.start.path, studies, best.params, robust)
    holdout = _holdout(run, ranked)
    if holdout is not None:
        holdout.frame.to_csv(run.start.path / "holdout.csv", index=False)
        summary["holdout"] = holdout.summary
    best_cfg = None
    if best is not None and run.prepared is not None:
        best_cfg = best_config(run.prepared, best)
    if "annualization" in summary:  # the bars per year each row's metrics are annualized with
        ranked["periods_per_year"] = summary["annualization"]["periods_per_year"]
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
        attempts=run.result.progress.attempts,
        target=run.plan.target,
        value_names=run.plan.objective.value_names,
    )


@dataclass(frozen=True)
class RunRecord:
    """What every run folder's summary.json says of its run, whatever its kind.

    Attributes:
        kind: `search`, `batch`, ...
        name: The study's name.
        start: The run folder and the run's start and provenance.
        seconds: How long the run took.
        study: The study file it ran (its config and `study_dir`); None for
            `optimize()` on a Python function.
        strategy: The name of the strategy it ran (an external evaluator's `kind:target`).
        evaluator: An external evaluator's identity (kind, target, source hash).
        data: The bars it ran on (None: the study's own, loaded by `prepared`).
        url: The storage URL, recorded redacted (None: the run used no storage).
        this_run: Counts of this run, recorded before its times in `this_run`.
    """

    kind: str
    name: str
    start: RunStart
    seconds: float
    study: StudyConfig | None = None
    strategy: str = ""
    evaluator: dict[str, str] | None = None
    data: Sequence[Bars] = ()
    url: str | None = None
    this_run: dict[str, Any] = field(default_factory=dict)


def run_summary(record: RunRecord, body: dict[str, Any]) -> dict[str, Any]:
    """summary.json: the keys every run has around `body`, the keys of its kind."""
    provenance = record.start.provenance.result()
    summary: dict[str, Any] = {"kind": record.kind, "study": record.name}
    if record.url is not None:
        summary["storage"] = redact(record.url)
    summary.update(body)
    summary["this_run"] = {
        **record.this_run,
        "seconds": round(record.seconds, 3),
        "started_utc": record.start.started.isoformat(),
        "finished_utc": dt.datetime.now(dt.UTC).isoformat(),
    }
    summary["git"] = provenance["git"]
    summary["versions"] = provenance["versions"]
    if record.study is not None:
        summary.update(_study_sections(record))
    return summary


def finish_run(
    record: RunRecord, body: dict[str, Any], tables: dict[str, pd.DataFrame]
) -> dict[str, Any]:
    """Write a run folder that is not a search's: its CSV `tables` (a named index is a
    column) and summary.json, which it returns."""
    for name, frame in tables.items():
        frame.to_csv(record.start.path / name, index=frame.index.name is not None)
    summary = run_summary(record, body)
    write_json(record.start.path / "summary.json", summary)
    return summary


def _summary(run: SearchRun) -> dict[str, Any]:
    """summary.json of a search run: its search, checks and the kind's extra keys."""
    p, plan = run.result.progress, run.plan
    counts = {"attempts": p.attempts, "complete_total": p.complete, "pruned": p.pruned,
              "failed": p.failed, "stopped_by": run.result.stopped_by}  # fmt: skip
    prepared = run.prepared
    record = RunRecord(
        "search", run.name, run.start, run.result.seconds, url=run.url, this_run=counts,
        study=prepared.study if prepared is not None else None,
        strategy=prepared.runner_name if prepared is not None else "",
        evaluator=prepared.evaluator_identity if prepared is not None else None,
        data=prepared.bars() if prepared is not None else (),
    )  # fmt: skip
    body: dict[str, Any] = {
        "objective": plan.objective.describe(),
        "directions": list(plan.objective.directions),
        "space": {
            "names": list(plan.space.names),
            "grid_size": plan.space.grid_size() if plan.space.is_discrete else None,
        },
        "counts": trial_counts(run.result.study),
    }
    for key, check in (("robustness", run.checks.robustness), ("lookahead", run.checks.lookahead)):
        if check is not None:
            body[key] = check.to_dict()
    summary = run_summary(record, body)
    summary.update(run.extra)
    return summary


def _study_sections(record: RunRecord) -> dict[str, Any]:
    """What a study's run folder records of the study: enough to validate it later."""
    study = record.study
    assert study is not None
    config = json.loads(study.model_dump_json())
    stored = record.url if record.url is not None else config.get("storage")
    config["storage"] = redact(stored) if stored else None
    sections = {
        "strategy": record.strategy,
        "data": data_summary(record.data),
        **annualization_section(record.data),
        "config": config,
        "study_dir": str(study.base_dir.resolve()),  # relative paths in config
    }
    if record.evaluator is not None:
        sections["evaluator"] = record.evaluator
    return sections


def annualization_section(series: Sequence[Bars]) -> dict[str, Any]:
    """`annualization`: the bars per year that annualize the metrics and the statistics
    (the first series'), and the rule that chose them; each series' is in `data`."""
    if not series:
        return {}
    first = series[0].annualization.to_dict()
    if any(b.periods_per_year != first["periods_per_year"] for b in series):
        first["rule"] += "; the other series have their own (data[].periods_per_year)"
    return {"annualization": first}


def data_summary(series: Sequence[Bars]) -> list[dict[str, Any]]:
    """Per data series: symbol, source, bars, first and last time, and the file's hash."""
    out = []
    hashes: dict[Path, str] = {}  # a file resampled to several timeframes is read once
    for bars in series:
        entry: dict[str, Any] = {
            "symbol": bars.symbol,
            "source": bars.source,
            "bars": len(bars),
            "start": str(bars.index[0]),
            "end": str(bars.index[-1]),
            "periods_per_year": bars.periods_per_year,
            "annualization_rule": bars.annualization_rule,
        }
        path = Path(bars.source)
        if path.is_file():
            if path not in hashes:
                hashes[path] = sha256(path)
            entry["sha256"] = hashes[path]
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
            selection=run.result.study.user_attrs.get(ATTR_SELECTION),
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
    return fixed_config(prepared.study, best.params)

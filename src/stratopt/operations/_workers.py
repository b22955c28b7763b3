"""Shared studies: a worker's share of the trials, and the report once workers are done.

Any number of workers, on any machines, run `work_study` against one storage; see
`stratopt.search.work` for how they share the trials. `launch_workers` starts local ones
and `report_study` writes the run folder of the study they made.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from stratopt._gc import with_frozen_heap
from stratopt.config import StudyConfig
from stratopt.operations._checks import analyses
from stratopt.operations._fingerprint import study_fingerprint
from stratopt.operations._optimize import announce_compiling
from stratopt.operations._prepared import PreparedStudy
from stratopt.operations._results import OptimizeResult, WorkResult
from stratopt.operations._summary import Checks, RunStart, SearchRun, finish_search
from stratopt.search import (
    Progress,
    RunResult,
    WorkerOptions,
    compile_search,
    open_study,
    work,
)
from stratopt.storage import DbRetry, Heartbeat, RunFolder, redact, trial_counts

__all__ = ["report_study", "study_target", "work_study"]


def study_target(study: StudyConfig) -> int:
    """The study's target of COMPLETE trials (grid default: every valid combination)."""
    return compile_search(study).target


@with_frozen_heap
def work_study(
    study: StudyConfig,
    *,
    storage: str | None = None,
    heartbeat: Heartbeat | None = None,
    worker: WorkerOptions | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    report: bool = True,
    retry: DbRetry | None = None,
) -> WorkResult:
    """Join (or create) the study and work on it until it has its target of COMPLETE trials.

    With `report`, a run folder of the whole study is written at the end, with the same
    summary as `optimize_study`'s (so `stratopt validate` reads it). `retry`: how long
    storage operations ride out a database outage (default 120 s; then `StorageError`).
    A bad study, data or storage fails before the run folder is made.
    """
    prepared = PreparedStudy.from_config(study, storage=storage)
    wopts = worker or WorkerOptions()
    evaluator = prepared.evaluator()  # bad data fails here, before any folder
    try:
        plan = prepared.plan
        shared = open_study(
            prepared.name, prepared.url, plan, heartbeat=heartbeat, retry=retry,
            fingerprint=study_fingerprint(prepared),
        )  # fmt: skip
        start = RunStart.begin(study.output_dir, study.name) if report else None
        with start.guard() if start is not None else contextlib.nullcontext():
            announce_compiling(on_progress, prepared.target)
            result = work(shared, plan, evaluator, worker=wopts, on_progress=on_progress)
    finally:
        evaluator.close()
    folder = _report(prepared, result, start, wopts.worker_id) if start is not None else None
    p = result.progress
    return WorkResult(
        study_name=study.name,
        storage=redact(prepared.url),
        worker_id=wopts.worker_id,
        counts=trial_counts(result.study),
        attempts=p.attempts,
        pruned=p.pruned,
        failed=p.failed,
        stopped_by=result.stopped_by,
        seconds=result.seconds,
        run_folder=folder,
    )


def _report(
    prepared: PreparedStudy, result: RunResult, start: RunStart, worker_id: str
) -> RunFolder:
    run = SearchRun(prepared.name, prepared.url, prepared.plan, result, start, prepared,
                    extra={"worker": worker_id})  # fmt: skip
    return finish_search(run).run_folder


def report_study(
    study: StudyConfig,
    *,
    storage: str | None = None,
    analyze: bool = True,
    jobs: int | None = None,
    retry: DbRetry | None = None,
) -> OptimizeResult:
    """A run folder for the stored study as it is now (after `launch`'s workers).

    With `analyze`, the same analyses as `optimize_study`'s: the robustness of the best,
    the look-ahead check and the overfitting statistics, their candidates run by `jobs`
    processes (default: the study's `search.jobs`).
    """
    prepared = PreparedStudy.from_config(study, storage=storage)
    start = RunStart.begin(study.output_dir, study.name)
    checks = Checks()
    with start.guard():
        shared = open_study(
            prepared.name, prepared.url, prepared.plan, retry=retry,
            fingerprint=study_fingerprint(prepared),
        )  # fmt: skip
        result = RunResult(shared, Progress(target=prepared.target), "workers finished", 0.0)
        if analyze:
            evaluator = prepared.evaluator(jobs=jobs)
            try:
                found = analyses(result, prepared.plan, study, evaluator, start.path)
            finally:
                evaluator.close()
            checks = Checks(*found, statistics=True, jobs=jobs or study.search.jobs)
    run = SearchRun(prepared.name, prepared.url, prepared.plan, result, start, prepared, checks)
    return finish_search(run)

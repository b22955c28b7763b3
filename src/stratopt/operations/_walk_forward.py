"""Walk-forward: the study's full search on every train window, its best tested on the next.

Each window's search is an ordinary study in the study's storage (resolved as for
`optimize`: `storage=`, $STRATOPT_STORAGE, the study file's, else SQLite), named
``<name>/wf-<k>`` (rerunning resumes it), or in memory. The best candidate of window `k`
is measured on test window `k` (see `stratopt.evaluation.SegmentRunner`); the test
returns are chained into one out-of-sample equity curve. Windows run in parallel
processes when `search.jobs` > 1; each window's search is deterministic, so the results
do not depend on `jobs`. Formulas in docs/validation.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
import optuna
import pandas as pd

from stratopt.config import StudyConfig, load_study
from stratopt.errors import ConfigError
from stratopt.evaluation import Router, SegmentRunner, time_axis
from stratopt.metrics import METRICS
from stratopt.operations._prepared import PreparedStudy
from stratopt.operations._report import run_report
from stratopt.operations._rescore import rescore
from stratopt.operations._results import WalkForwardResult
from stratopt.operations._summary import annualization_section
from stratopt.operations._walk_forward_files import summarize, write_walk_forward
from stratopt.search import Progress, open_study, run_search
from stratopt.storage import (
    ATTR_WINDOW,
    MEMORY_URLS,
    new_run_dir,
    open_storage,
    ranked_frame,
    record,
    redact,
)
from stratopt.validation import Window, WindowResult, stitch, walk_forward_windows

__all__ = ["walk_forward", "walk_forward_window_count"]

_NS = pd.Timedelta(1, unit="ns")


@dataclass(frozen=True)
class _Task:
    study: StudyConfig
    window: Window
    train: tuple[pd.Timestamp, pd.Timestamp | None]
    test: tuple[pd.Timestamp, pd.Timestamp | None]
    url: str
    name: str
    jobs: int


def walk_forward(
    study: StudyConfig | str | Path,
    *,
    overrides: Sequence[str] = (),
    storage: str | None = None,
    output: str | Path | None = None,
    jobs: int | None = None,
    on_window: Callable[[WindowResult], None] | None = None,
    report: bool = False,
    on_progress: Callable[[int, int, Progress], None] | None = None,
) -> WalkForwardResult:
    """Walk-forward optimization of a study (its `validation.walk_forward` windows).

    Args:
        study: a study file path or a loaded `StudyConfig`.
        overrides: ``dotted.key=value`` changes, as ``--set`` (with a path only).
        storage: an Optuna storage URL for the window studies (default:
            $STRATOPT_STORAGE, the study file's, else SQLite in its output);
            ``"memory"`` keeps them in memory (nothing is resumed).
        output: root of run folders (default: the study's `output`); the results go to
            ``<output>/<name>/walk-forward/<UTC timestamp>/``.
        jobs: windows run in parallel (default: `search.jobs`).
        on_window: called with each finished window (in completion order).
        report: also write report.html into the run folder (`report_file`).
        on_progress: called after each batch of a window's search with the window's
            index, the number of windows and the search's `Progress`, when the windows
            run in this process (`jobs` 1); an exception it raises stops the run (the
            window studies keep their trials, so a rerun resumes them).

    Returns:
        Per-window results, the stitched out-of-sample curve and its metrics,
        walk-forward efficiency and parameter drift.

    Raises:
        ConfigError: no `validation.walk_forward`, windows that do not fit the data, or
            any invalid study field.
    """
    if isinstance(study, StudyConfig) and overrides:
        raise TypeError("overrides apply to a study file path, not to a loaded StudyConfig")
    cfg = study if isinstance(study, StudyConfig) else load_study(study, overrides)
    setup = _setup(cfg, storage)
    url = setup.prepared.url
    out_root = Path(output) if output is not None else cfg.output_dir
    run_dir = new_run_dir(out_root / cfg.name, "walk-forward")
    workers = max(1, min(jobs or cfg.search.jobs, len(setup.windows)))
    open_storage(url)  # create the schema once, before any worker touches it
    base = setup.prepared.searched
    tasks = [_task(base, w, setup.axis, url, workers) for w in setup.windows]
    started = dt.datetime.now(dt.UTC)
    clock = time.monotonic()
    results = _run_all(tasks, workers, on_window, on_progress)
    series = setup.runner.bars()
    equity, stitched = stitch(results, cash=base.backtest.cash, ppy=series[0].periods_per_year)
    summary = summarize(base, results, stitched, setup.prepared.plan.space.names, url=redact(url))
    summary.update(annualization_section(series))
    summary["holdout"] = setup.holdout
    summary["run"] = {
        "started_utc": started.isoformat(),
        "seconds": round(time.monotonic() - clock, 3),
        "workers": workers,
    }
    write_walk_forward(run_dir, results, equity, summary, [m.id for m in METRICS])
    return WalkForwardResult(
        study_name=cfg.name,
        storage=redact(url),
        windows=results,
        equity=equity,
        stitched=summary["stitched"]["metrics"],
        efficiency=summary["efficiency"],
        drift=summary["drift"],
        report=summary,
        run_folder=run_dir,
        report_file=run_report(run_dir, setup.prepared) if report else None,
    )


def walk_forward_window_count(study: StudyConfig) -> int:
    """How many windows `walk_forward(study)` runs; validates what it would (ConfigError
    naming the field) and loads the data, touching no storage."""
    return len(_setup(study, None).windows)


@dataclass(frozen=True)
class _Setup:
    prepared: PreparedStudy  # its `searched`: the bars before the holdout, if any
    runner: SegmentRunner
    axis: Any
    windows: list[Window]
    holdout: dict[str, str] | None


def _setup(cfg: StudyConfig, storage: str | None) -> _Setup:
    """Validate everything (ConfigError naming the field) before any search runs."""
    spec = cfg.validation.walk_forward
    if spec is None:
        raise ConfigError(
            "validation.walk_forward: not set in the study; add e.g. "
            "validation: {walk_forward: {train: 365d, test: 30d}}"
        )
    prepared = PreparedStudy.from_config(cfg, storage=storage)
    for name in prepared.router.names:
        if name in ("data.start", "data.end"):
            raise ConfigError(f"space.{name}: cannot be searched in a walk-forward")
    _RUNNERS.clear()  # data read afresh by every walk-forward
    runner = _runner(prepared.searched, prepared.router)
    axis = time_axis(runner.bars())
    windows = walk_forward_windows(
        axis, train=spec.train, test=spec.test, step=spec.step, mode=spec.mode, purge=spec.purge
    )
    holdout = None if prepared.holdout is None else {"start": str(prepared.holdout.start)}
    return _Setup(prepared, runner, axis, windows, holdout)


_RUNNERS: dict[str, SegmentRunner] = {}


def _runner(study: StudyConfig, router: Router) -> SegmentRunner:
    """One runner (and one load of the full data) per study in this process."""
    key = study.model_dump_json() + str(study.base_dir)
    if key not in _RUNNERS:
        _RUNNERS.clear()  # one walk-forward at a time: keep only its data
        _RUNNERS[key] = SegmentRunner(study, router)
    return _RUNNERS[key]


def _task(study: StudyConfig, w: Window, axis: Any, url: str, workers: int) -> _Task:
    n = len(axis)

    def at(pos: int) -> pd.Timestamp | None:
        return pd.Timestamp(axis[pos]) if pos < n else None

    train_start = pd.Timestamp(axis[w.train_start])
    test_start = pd.Timestamp(axis[w.test_start])
    return _Task(
        study=study,
        window=w,
        train=(train_start, at(w.train_stop)),
        test=(test_start, at(w.test_stop)),
        url=url,
        name=f"{study.name}/wf-{w.index:03d}",
        jobs=study.search.jobs if workers == 1 else 1,
    )


def _run_all(
    tasks: list[_Task],
    workers: int,
    on_window: Callable[[WindowResult], None] | None,
    on_progress: Callable[[int, int, Progress], None] | None,
) -> list[WindowResult]:
    results: dict[int, WindowResult] = {}
    if workers == 1:
        for task in tasks:
            report = None
            if on_progress is not None:
                report = functools.partial(on_progress, task.window.index, len(tasks))
            res = _run_window(task, report)
            results[task.window.index] = res
            if on_window is not None:
                on_window(res)
    else:
        threads = max(1, int(numba.get_num_threads()) // workers)
        # spawn, not fork: numba's OpenMP threads make a forked child abort.
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=(threads,)) as pool:  # fmt: skip
            futures = [pool.submit(_run_window, t) for t in tasks]
            for fut in as_completed(futures):
                res = fut.result()
                results[res.window.index] = res
                if on_window is not None:
                    on_window(res)
    return [results[t.window.index] for t in tasks]


def _init_worker(threads: int) -> None:
    numba.set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _run_window(task: _Task, on_progress: Callable[[Progress], None] | None = None) -> WindowResult:
    """Search the train window, then measure the best candidate on the test window."""
    study = task.study
    start, stop = task.train
    assert stop is not None  # a test window always follows
    data = study.data.model_copy(
        update={"start": start.isoformat(), "end": (stop - _NS).isoformat()}
    )
    train = PreparedStudy.from_config(
        study.model_copy(update={"data": data}), storage=task.url, holdout=False
    )
    opened = open_study(task.name, task.url, train.plan)
    _claim(opened, task)
    evaluator = train.evaluator(jobs=task.jobs)
    try:
        run = run_search(opened, train.plan, evaluator, on_progress=on_progress)
    finally:
        evaluator.close()
    ranked = rescore(ranked_frame(run.study, train.plan.objective.directions), train.plan.objective)
    counts = {str(k): int(v) for k, v in ranked["state"].value_counts().items()}
    base = WindowResult(task.window, task.name, task.train, task.test, counts=counts)
    if ranked.empty or ranked.iloc[0]["state"] != "complete":
        return dataclasses.replace(base, error="no candidate completed in the train window")
    number = int(ranked.iloc[0]["trial"])
    best = next(t for t in run.study.get_trials(deepcopy=False) if t.number == number)
    seg = _runner(study, train.router).run(best.params, *task.test)
    values_out = None
    if seg.metrics is not None:
        v = train.plan.objective.values(seg.metrics).values
        values_out = None if v is None else [float(x) for x in v]
    return dataclasses.replace(
        base,
        trial=number,
        params=dict(best.params),
        values_in=list(best.values),
        values_out=values_out,
        in_sample={k: float(v) for k, v in record(best).get("metrics", {}).items()},
        out_of_sample=seg.metrics,
        returns=seg.returns,
        exposed=seg.exposed,
        trades=seg.trades,
        error=seg.error,
    )


def _claim(opened: optuna.Study, task: _Task) -> None:
    """Mark the window study with its train range; refuse one made for other windows."""
    if task.url in MEMORY_URLS:
        return
    mine = {"train_start": str(task.train[0]), "train_end": str(task.train[1])}
    held = opened.user_attrs.get(ATTR_WINDOW)
    if held is None:
        opened.set_user_attr(ATTR_WINDOW, mine)
    elif held != mine:
        raise ConfigError(
            f"validation.walk_forward: study {task.name!r} already holds a search over "
            f"{held['train_start']} to {held['train_end']}, not {mine['train_start']} to "
            f"{mine['train_end']}; use another study name or storage"
        )

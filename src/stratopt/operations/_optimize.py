"""Optimizing: a study file through the engine, or any Python function.

`optimize_study` runs what a study file describes; `optimize` gives users with their
own backtester the same search, requirements, persistence and run folder, its options
validated exactly as a study file's `search:` section.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict, Unpack

from stratopt._gc import with_frozen_heap
from stratopt._suggest import did_you_mean
from stratopt.config import StudyConfig, parse_search
from stratopt.engine import COMPILING, kernels_cached, while_compiling
from stratopt.evaluation import CallableEvaluator
from stratopt.operations._checks import analyses
from stratopt.operations._fingerprint import function_fingerprint, study_fingerprint
from stratopt.operations._prepared import PreparedStudy
from stratopt.operations._report import run_report
from stratopt.operations._results import OptimizeResult
from stratopt.operations._summary import Checks, RunStart, SearchRun, finish_search
from stratopt.search import (
    PlanFields,
    Progress,
    SearchPlan,
    compile_search,
    open_study,
    plan_search,
    run_search,
)
from stratopt.stats import import_block_length
from stratopt.storage import Heartbeat, check_study_name, resolve_storage_url

__all__ = ["OptimizeOptions", "compile_study", "optimize", "optimize_study"]


def compile_study(study: StudyConfig) -> SearchPlan:
    """The validated search parts of `study` (kept for `stratopt.optimization` users;
    `stratopt.search.compile_search` is the same)."""
    return compile_search(study)


@with_frozen_heap
def optimize_study(
    study: StudyConfig,
    *,
    storage: str | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    heartbeat: Heartbeat | None = None,
    analyze: bool = True,
    report: bool = False,
    new: bool = False,
) -> OptimizeResult:
    """Run the optimization a study file describes; see the module docs.

    `storage`: an Optuna storage URL (default: $STRATOPT_STORAGE, the study file's
    `storage:`, else SQLite in its output).
    `heartbeat`: Optuna's heartbeat interval and grace period (default 10 s / 60 s);
    trials a killed run left RUNNING are failed and retried once past the grace period.
    `analyze`: after the search, the overfitting statistics, the stability of the best
    and the robust region, and the look-ahead check of the best (summary.json's
    `statistics`, `robustness`, `lookahead`); `stratopt validate` runs them later.
    `report`: also write report.html into the run folder (`OptimizeResult.report_file`;
    needs the `report` extra, else it says so there); `stratopt report` makes it later.
    `new`: refuse a study name the storage already holds (`--fork NAME`).

    A stored study of the same name defined otherwise (data, strategy, settings,
    objective, space...: `study_fingerprint`) is refused (ConfigError listing the changes).
    """
    prepared = PreparedStudy.from_config(study, storage=storage)
    plan = prepared.plan
    start = RunStart.begin(study.output_dir, study.name)
    checks = Checks()
    with start.guard():
        evaluator = prepared.evaluator()
        try:
            opened = open_study(
                prepared.name, prepared.url, plan, heartbeat=heartbeat,
                fingerprint=study_fingerprint(prepared), new=new,
            )  # fmt: skip
            announce_compiling(on_progress, plan.target)
            # a cold start waits for the background compile: the statistics' import then
            while_compiling(import_block_length)
            result = run_search(opened, plan, evaluator, on_progress=on_progress)
            if analyze:
                checks = Checks(*analyses(result, plan, study, evaluator, start.path), True)
        finally:
            evaluator.close()
    done = finish_search(
        SearchRun(prepared.name, prepared.url, plan, result, start, prepared, checks)
    )
    if not report:
        return done
    return dataclasses.replace(done, report_file=run_report(done.run_folder.path, prepared))


class OptimizeOptions(TypedDict, total=False):
    """The options of `optimize` beyond the objective and the space.

    Search settings, validated as a study file's `search:` section (the same rules and
    messages): `method` (`stratopt.config.METHODS`; default tpe), `trials` (COMPLETE
    trials to reach, earlier runs of the same study counting; default every valid
    combination for grid, else 100), `seed`, `jobs` (the objective then runs in worker
    processes; cloudpickle carries closures), `batch`, `trial_timeout` (seconds; also
    runs it in a worker process), `retries`, `max_attempts`, `time_budget`.

    And: `score` (what to optimize, as a study file's `objective:`; default "sharpe"),
    `require` (as `require:`), `constraints` (e.g. `"fast < slow"`), `storage` (an
    Optuna storage URL; default SQLite in `output`), `study_name` (default: a new study
    each call, named after the function and the time; give the name to resume it, with
    the same function, space, score, requirements and constraints), `output` (root of
    run folders, default "runs"), `on_progress`, `analyze` (default True: statistics,
    stability of the best, robust region and sensitivity slices, a few hundred more
    calls of the objective at most), `heartbeat` (Optuna's heartbeat interval and grace
    period) and `report` (default False: also write report.html into the run folder, as
    `optimize_study`).
    """

    method: str
    trials: int | None
    seed: int
    jobs: int
    batch: int | None
    trial_timeout: float | None
    retries: int
    max_attempts: int | None
    time_budget: float | None
    score: str | Mapping[str, Any]
    require: Mapping[str, Any] | None
    constraints: Sequence[str]
    storage: str | None
    study_name: str
    output: str | Path
    on_progress: Callable[[Progress], None] | None
    analyze: bool
    heartbeat: Heartbeat | None
    report: bool


_SEARCH_KEYS = ("method", "trials", "seed", "jobs", "batch", "trial_timeout", "retries",
                "max_attempts", "time_budget")  # fmt: skip
_FIELDS = PlanFields(objective="score", search="")


@with_frozen_heap
def optimize(
    objective: Callable[[dict[str, Any]], Any],
    space: Mapping[str, Any],
    **options: Unpack[OptimizeOptions],
) -> OptimizeResult:
    """Optimize any function `objective(params) -> metrics | equity curve | trades`.

    Args:
        objective: Called with a dict of parameters. Return a mapping of metric values
            (`{"sharpe": 1.2, "trades": 80, ...}`), an equity curve (pandas Series or
            array; metrics computed by stratopt) or a trade DataFrame with `pnl`.
            It runs in worker processes when `jobs > 1` or `trial_timeout` is set
            (cloudpickle carries closures), else in this process.
        space: The search space, as a study file's `space:` section.
        options: `OptimizeOptions`; every option is validated (ConfigError naming it)
            before any storage or folder is touched.

    Returns:
        The ranked trials, the best parameters and the run folder's paths.
    """
    unknown = [k for k in options if k not in OptimizeOptions.__annotations__]
    if unknown:
        hint = did_you_mean(unknown[0], OptimizeOptions.__annotations__)
        raise TypeError(f"optimize() got an unexpected keyword argument {unknown[0]!r}{hint}")
    name = options.get("study_name") or _fresh_name(objective)
    plan = _plan(space, options)
    check_study_name(name, "study_name")
    out = Path(options.get("output", "runs"))
    url = resolve_storage_url(options.get("storage"), None, out)
    start = RunStart.begin(out, name)
    analyze = options.get("analyze", True)
    checks = Checks()
    defined = {k: options.get(k) for k in ("score", "require", "constraints")}
    fingerprint = function_fingerprint(objective, {"space": space, **defined})
    with start.guard():
        evaluator = CallableEvaluator(
            objective, jobs=plan.settings.jobs, timeout=plan.settings.trial_timeout
        )
        try:
            opened = open_study(
                name, url, plan, heartbeat=options.get("heartbeat"), fingerprint=fingerprint
            )
            result = run_search(opened, plan, evaluator, on_progress=options.get("on_progress"))
            if analyze:
                checks = Checks(*analyses(result, plan, None, evaluator, start.path), True)
        finally:
            evaluator.close()
    extra = {"objective_function": getattr(objective, "__qualname__", repr(objective))}
    done = finish_search(SearchRun(name, url, plan, result, start, None, checks, extra))
    if not options.get("report", False):
        return done
    return dataclasses.replace(done, report_file=run_report(done.run_folder.path, None))


def announce_compiling(on_progress: Callable[[Progress], None] | None, target: int) -> None:
    """Tell the progress line the first run compiles the engine (else 20-30 s of silence)."""
    if on_progress is not None and not kernels_cached():
        on_progress(Progress(target=target, stage=COMPILING))


def _fresh_name(objective: Callable[..., Any]) -> str:
    """A new study's name: the function's, a UTC time and a random tag (never a resume)."""
    label = re.sub(r"[^A-Za-z0-9_]+", "_", getattr(objective, "__qualname__", "fn")).strip("_")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    return f"{label or 'fn'}-{stamp}-{uuid.uuid4().hex[:6]}"


def _plan(space: Mapping[str, Any], options: OptimizeOptions) -> SearchPlan:
    """`optimize()`'s search plan, validated as a study file's (its argument names)."""
    raw = {k: v for k, v in options.items() if k in _SEARCH_KEYS and v is not None}
    settings = parse_search(raw, source="optimize()")
    return plan_search(
        space=space,
        constraints=list(options.get("constraints", ())),
        objective=options.get("score", "sharpe"),
        require=dict(options.get("require") or {}),
        settings=settings,
        fields=_FIELDS,
    )

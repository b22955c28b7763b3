"""Optimizing: a study file through the engine, or any Python function.

`optimize_study` runs what a study file describes; `optimize` gives users with their
own backtester the same search, requirements, persistence and run folder, its options
validated exactly as a study file's `search:` section.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict, Unpack

from stratopt._gc import with_frozen_heap
from stratopt._suggest import did_you_mean
from stratopt.config import StudyConfig, parse_search
from stratopt.evaluation import CallableEvaluator
from stratopt.operations._checks import analyses
from stratopt.operations._prepared import PreparedStudy
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
) -> OptimizeResult:
    """Run the optimization a study file describes; see the module docs.

    `storage`: an Optuna storage URL (default: $STRATOPT_STORAGE, the study file's
    `storage:`, else SQLite in its output).
    `heartbeat`: Optuna's heartbeat interval and grace period (default 10 s / 60 s);
    trials a killed run left RUNNING are failed and retried once past the grace period.
    `analyze`: after the search, the overfitting statistics, the stability of the best
    and the robust region, and the look-ahead check of the best (summary.json's
    `statistics`, `robustness`, `lookahead`); `stratopt validate` runs them later.
    """
    prepared = PreparedStudy.from_config(study, storage=storage)
    plan = prepared.plan
    start = RunStart.begin(study.output_dir, study.name)
    checks = Checks()
    with start.guard():
        evaluator = prepared.evaluator()
        try:
            opened = open_study(prepared.name, prepared.url, plan, heartbeat=heartbeat)
            result = run_search(opened, plan, evaluator, on_progress=on_progress)
            if analyze:
                checks = Checks(*analyses(result, plan, study, evaluator, start.path), True)
        finally:
            evaluator.close()
    return finish_search(
        SearchRun(prepared.name, prepared.url, plan, result, start, prepared, checks)
    )


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
    Optuna storage URL; default SQLite in `output`), `study_name` (default "stratopt";
    rerunning it resumes it), `output` (root of run folders, default "runs"),
    `on_progress`, `analyze` (default True: statistics, stability of the best, robust
    region and sensitivity slices, a few hundred more calls of the objective at most)
    and `heartbeat` (Optuna's heartbeat interval and grace period).
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
    name = options.get("study_name", "stratopt")
    plan = _plan(space, options)
    check_study_name(name, "study_name")
    out = Path(options.get("output", "runs"))
    url = resolve_storage_url(options.get("storage"), None, out)
    start = RunStart.begin(out, name)
    analyze = options.get("analyze", True)
    checks = Checks()
    with start.guard():
        evaluator = CallableEvaluator(
            objective, jobs=plan.settings.jobs, timeout=plan.settings.trial_timeout
        )
        try:
            opened = open_study(name, url, plan, heartbeat=options.get("heartbeat"))
            result = run_search(opened, plan, evaluator, on_progress=options.get("on_progress"))
            if analyze:
                checks = Checks(*analyses(result, plan, None, evaluator, start.path), True)
        finally:
            evaluator.close()
    extra = {"objective_function": getattr(objective, "__qualname__", repr(objective))}
    return finish_search(SearchRun(name, url, plan, result, start, None, checks, extra))


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

"""Optimizing: a study file through the engine, or any Python function.

`optimize_study` runs what a study file describes; `optimize` gives users with their
own backtester the same search, requirements, persistence and run folder.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from stratopt._gc import with_frozen_heap
from stratopt.config import StudyConfig
from stratopt.data import Bars
from stratopt.errors import ConfigError, UserInputError
from stratopt.grid_backtest import path_band_section
from stratopt.search._candidates import Router
from stratopt.search._constraints import check_satisfiable, parse_constraints
from stratopt.search._evaluate import CallableEvaluator, StudyEvaluator
from stratopt.search._objective import Objective, parse_objective
from stratopt.search._requirements import Requirements, parse_requirements
from stratopt.search._runner import Progress, RunOptions, RunResult, record, run_trials, sampler_for
from stratopt.search._space import SearchSpace, nest
from stratopt.search._worker import WorkerOptions, work, worker_seed
from stratopt.storage import (
    Heartbeat,
    RunFolder,
    open_storage,
    ranked_frame,
    redact,
    resolve_storage_url,
    write_run_folder,
)
from stratopt.storage._runfolder import git_commit, new_run_dir, sha256, versions
from stratopt.strategies import get_strategy

if TYPE_CHECKING:
    from stratopt.validation._holdout import Holdout, HoldoutReport

__all__ = [
    "OptimizeResult",
    "WorkResult",
    "compile_study",
    "optimize",
    "optimize_study",
    "report_study",
    "study_target",
    "work_study",
]


@dataclass(frozen=True)
class CompiledStudy:
    """A study file's search parts, validated."""

    space: SearchSpace
    constraints: tuple[Any, ...]
    objective: Objective
    requirements: Requirements


@dataclass(frozen=True)
class OptimizeResult:
    """What an optimization left behind."""

    study_name: str
    storage: str
    run_folder: RunFolder
    ranked: pd.DataFrame
    best_params: dict[str, Any] | None
    best_values: list[float] | None
    best_metrics: dict[str, float] | None
    counts: dict[str, int]
    stopped_by: str
    seconds: float
    holdout: HoldoutReport | None = None  # set when the study has validation.holdout
    statistics: dict[str, Any] | None = None


def compile_study(study: StudyConfig) -> CompiledStudy:
    """Validate the search parts of `study` (ConfigError naming the field otherwise)."""
    space = SearchSpace.from_config(study.space, field="space")
    names = list(space.names) + [k for k in study.params if k not in space.names]
    constraints = parse_constraints(study.constraints, names, field="constraints")
    check_satisfiable(constraints, space, fixed=study.params)
    objective = parse_objective(study.objective, field="objective")
    _check_method(study.search.method, objective)
    return CompiledStudy(
        space=space,
        constraints=tuple(constraints),
        objective=objective,
        requirements=parse_requirements(study.require, field="require"),
    )


def _check_method(method: str, objective: Objective) -> None:
    from stratopt.search._samplers import SAMPLERS

    info = SAMPLERS.get(method)
    if info is not None and objective.is_multi and not info.multi_objective:
        raise ConfigError(
            f"search.method: {method!r} cannot optimize several objectives; "
            "use nsga2, tpe, qmc or random"
        )


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

    `heartbeat`: Optuna's heartbeat interval and grace period (default 10 s / 60 s);
    trials a killed run left RUNNING are failed and retried once past the grace period.
    `analyze`: after the search, the overfitting statistics, the stability of the best
    and the robust region, and the look-ahead check of the best (summary.json's
    `statistics`, `robustness`, `lookahead`); `stratopt validate` runs them later.
    """
    compiled = compile_study(study)
    _check_name(study.name, "name")
    strategy = get_strategy(study.strategy, base_dir=study.base_dir)
    router = Router(study, strategy, compiled.space.names)
    holdout = _prepare_holdout(study, router)
    search = study.search
    trials = search.trials or _default_trials(search.method, compiled, study.params)
    url = resolve_storage_url(storage, study.storage, study.output_dir)
    searched = study if holdout is None else holdout.in_sample  # the search never sees the tail
    evaluator = StudyEvaluator(searched, router, jobs=search.jobs, timeout=search.trial_timeout)
    run_dir = _make_run_dir(study.output_dir, study.name)
    provenance = _provenance()
    started = dt.datetime.now(dt.UTC)
    try:
        result = _run(
            study.name, url, compiled, evaluator, _options(study, trials), on_progress,
            fixed=study.params, heartbeat=heartbeat,
        )  # fmt: skip
        checks = _post_checks(result, compiled, evaluator, run_dir, study=study) if analyze else {}
    except BaseException:
        _discard_if_empty(run_dir)
        raise
    finally:
        evaluator.close()
    summary = _summary(study.name, url, result, compiled, started, provenance)
    summary.update(checks)
    summary["strategy"] = strategy.name
    summary["data"] = _data_summary(evaluator.data.get(()))
    summary["config"] = json.loads(study.model_dump_json())
    summary["config"]["storage"] = redact(url)
    summary["study_dir"] = str(study.base_dir.resolve())  # relative paths in config
    # Statistics are computed on the searched (in-sample) data only.
    out = _finish(
        run_dir, study.name, url, result, compiled, summary, lambda best: _best_config(study, best),
        statistics=(
            (lambda ranked: _statistics(ranked, compiled, searched, evaluator, search.seed))
            if analyze else None
        ),
    )  # fmt: skip
    if holdout is not None:
        out = _run_holdout(out, holdout, result, compiled, study.validation.top)
    return out


def _prepare_holdout(study: StudyConfig, router: Router) -> Holdout | None:
    # Imported here: stratopt.validation imports this module (walk-forward searches).
    from stratopt.validation._holdout import prepare_holdout

    return prepare_holdout(study, router)


def _run_holdout(
    out: OptimizeResult, holdout: Holdout, result: RunResult, compiled: CompiledStudy, top: int
) -> OptimizeResult:
    """Re-run the top candidates on the holdout; add holdout.csv and summary["holdout"]."""
    from stratopt.validation._holdout import evaluate_holdout, write_holdout

    params = {t.number: t.params for t in result.study.get_trials(deepcopy=False)}
    report = evaluate_holdout(holdout, out.ranked, params, top=top, objective=compiled.objective)
    write_holdout(out.run_folder.path, report)
    return dataclasses.replace(out, holdout=report)


@with_frozen_heap
def optimize(
    objective: Callable[[dict[str, Any]], Any],
    space: Mapping[str, Any],
    *,
    method: str = "tpe",
    trials: int | None = None,
    score: str | Mapping[str, Any] = "sharpe",
    require: Mapping[str, Any] | None = None,
    constraints: Sequence[str] = (),
    seed: int = 0,
    jobs: int = 1,
    batch: int | None = None,
    trial_timeout: float | None = None,
    retries: int = 0,
    max_attempts: int | None = None,
    time_budget: float | None = None,
    storage: str | None = None,
    study_name: str = "stratopt",
    output: str | Path = "runs",
    on_progress: Callable[[Progress], None] | None = None,
    analyze: bool = True,
    heartbeat: Heartbeat | None = None,
) -> OptimizeResult:
    """Optimize any function `objective(params) -> metrics | equity curve | trades`.

    Args:
        objective: Called with a dict of parameters. Return a mapping of metric values
            (`{"sharpe": 1.2, "trades": 80, ...}`), an equity curve (pandas Series or
            array; metrics computed by stratopt) or a trade DataFrame with `pnl`.
            It runs in worker processes when `jobs > 1` or `trial_timeout` is set
            (cloudpickle carries closures), else in this process.
        space: The search space, as a study file's `space:` section.
        method: grid, random, tpe, cmaes, nsga2 or qmc.
        trials: Completed trials to reach (earlier runs of the same study count);
            default: every valid combination for grid, else 100.
        score: What to optimize, as a study file's `objective:`.
        require: Requirements on metrics, as a study file's `require:`.
        constraints: Relations between parameters, e.g. `"fast < slow"`.
        storage: An Optuna storage URL; default SQLite in `output`.
        study_name: The Optuna study name (rerunning it resumes it).
        output: Root of run folders (`output/<study_name>/<UTC timestamp>/`).
        analyze: After the search, the overfitting statistics and the stability of the
            best with the robust region and sensitivity slices (a few hundred more calls
            of `objective` at most): summary.json's `statistics` and `robustness`.
        heartbeat: Optuna's heartbeat interval and grace period (default 10 s / 60 s).

    Returns:
        The ranked trials, the best parameters and the run folder's paths.
    """
    out = Path(output)
    compiled_space = SearchSpace.from_config(space, field="space")
    cons = parse_constraints(list(constraints), compiled_space.names, field="constraints")
    _check_name(study_name, "study_name")
    score_objective = parse_objective(score, field="score")
    _check_method(method, score_objective)
    compiled = CompiledStudy(
        compiled_space,
        tuple(cons),
        score_objective,
        parse_requirements(dict(require or {}), field="require"),
    )
    opts = RunOptions(
        method=method,
        trials=trials or _default_trials(method, compiled, {}),
        seed=seed,
        batch=batch,
        max_attempts=max_attempts,
        time_budget=time_budget,
        retries=retries,
    )
    url = resolve_storage_url(storage, None, out)
    evaluator = CallableEvaluator(objective, jobs=jobs, timeout=trial_timeout)
    run_dir = _make_run_dir(out, study_name)
    provenance = _provenance()
    started = dt.datetime.now(dt.UTC)
    try:
        result = _run(study_name, url, compiled, evaluator, opts, on_progress, heartbeat=heartbeat)
        checks = _post_checks(result, compiled, evaluator, run_dir) if analyze else {}
    except BaseException:
        _discard_if_empty(run_dir)
        raise
    finally:
        evaluator.close()
    summary = _summary(study_name, url, result, compiled, started, provenance)
    summary.update(checks)
    summary["objective_function"] = getattr(objective, "__qualname__", repr(objective))
    return _finish(
        run_dir, study_name, url, result, compiled, summary, None,
        statistics=(
            (lambda ranked: _statistics(ranked, compiled, None, None, seed)) if analyze else None
        ),
    )  # fmt: skip


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,199}$")


def _check_name(name: str, field: str) -> None:
    # The name is also a folder of the run-folder root: no separators, no "..".
    if not _NAME.match(name) or ".." in name:
        raise ConfigError(
            f"{field}: {name!r} is not a valid study name (letters, digits and _ . @ + -; "
            "no path separators)"
        )


_MAX_COUNTED_GRID = 1_000_000


def _default_trials(method: str, compiled: CompiledStudy, fixed: Mapping[str, Any]) -> int:
    """Grid: every valid combination; other methods: 100."""
    if method != "grid":
        return 100
    size = compiled.space.grid_size()
    if size > _MAX_COUNTED_GRID:
        # Counting the valid combinations would enumerate them all (hours for 1e12).
        raise ConfigError(
            f"search.trials: the grid has {size:,} combinations, more than the "
            f"{_MAX_COUNTED_GRID:,} a grid search runs by default; set search.trials or use "
            "another method"
        )
    constraints = compiled.constraints
    return sum(all(c.holds({**fixed, **p}) for c in constraints) for p in compiled.space.grid())


def _options(study: StudyConfig, trials: int) -> RunOptions:
    s = study.search
    return RunOptions(
        method=s.method,
        trials=trials,
        seed=s.seed,
        batch=s.batch,
        max_attempts=s.max_attempts,
        time_budget=s.time_budget,
        retries=s.retries,
        startup_trials=s.startup_trials,
        ei_candidates=s.ei_candidates,
        population=s.population,
    )


def _run(
    name: str,
    url: str,
    compiled: CompiledStudy,
    evaluator: Any,
    options: RunOptions,
    on_progress: Callable[[Progress], None] | None,
    *,
    fixed: Mapping[str, Any] | None = None,
    heartbeat: Heartbeat | None = None,
) -> RunResult:
    study = _open_study(name, url, compiled, heartbeat)
    earlier = len(study.get_trials(deepcopy=False))
    study.sampler = sampler_for(options, compiled.objective, earlier_trials=earlier)
    return run_trials(
        study,
        space=compiled.space,
        constraints=compiled.constraints,
        objective=compiled.objective,
        requirements=compiled.requirements,
        evaluator=evaluator,
        options=options,
        fixed=fixed,
        on_progress=on_progress,
    )


def _open_study(
    name: str, url: str, compiled: CompiledStudy, heartbeat: Heartbeat | None
) -> optuna.Study:
    """Create or load study `name`; refuse other directions or another space."""
    storage = open_storage(url, heartbeat=heartbeat)
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        directions=list(compiled.objective.directions),
        load_if_exists=True,
    )
    if list(study.directions) != [
        optuna.study.StudyDirection.MAXIMIZE
        if d == "maximize"
        else optuna.study.StudyDirection.MINIMIZE
        for d in compiled.objective.directions
    ]:
        raise ConfigError(
            f"objective: study {name!r} already exists with other directions; "
            "use another name or storage"
        )
    _check_same_space(study, compiled.space, name)
    return study


def _check_same_space(study: optuna.Study, space: SearchSpace, name: str) -> None:
    """A resumed study must search the same distributions (Optuna refuses otherwise)."""
    current = space.distributions()
    for t in study.get_trials(deepcopy=False):
        for key, dist in t.distributions.items():
            if key in current:
                try:
                    optuna.distributions.check_distribution_compatibility(dist, current[key])
                except ValueError:
                    raise ConfigError(
                        f"space.{key}: study {name!r} already has trials over {dist!r}, "
                        f"which cannot be resumed as {current[key]!r}; "
                        "use a new study name (or another storage)"
                    ) from None
        return


def _counts(study: optuna.Study) -> dict[str, int]:
    counts = {s.name.lower(): 0 for s in TrialState}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name.lower()] += 1
    return counts


def _provenance() -> Future[dict[str, Any]]:
    """Git commit and package versions, gathered in a thread while the search runs.

    Two git subprocesses and the package metadata cost tens of milliseconds: as much as
    a thousand fast trials, so they overlap with the search instead of following it.
    """
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(lambda: {"git": git_commit(Path.cwd()), "versions": versions()})
    pool.shutdown(wait=False)
    return future


def _summary(
    name: str,
    url: str,
    result: RunResult,
    compiled: CompiledStudy,
    started: dt.datetime,
    provenance: Future[dict[str, Any]],
) -> dict[str, Any]:
    p = result.progress
    return {
        "study": name,
        "storage": redact(url),
        "objective": compiled.objective.describe(),
        "directions": list(compiled.objective.directions),
        "space": {"names": list(compiled.space.names), "grid_size": _grid_size(compiled.space)},
        "counts": _counts(result.study),
        "this_run": {
            "attempts": p.attempts,
            "complete_total": p.complete,
            "pruned": p.pruned,
            "failed": p.failed,
            "stopped_by": result.stopped_by,
            "seconds": round(result.seconds, 3),
            "started_utc": started.isoformat(),
            "finished_utc": dt.datetime.now(dt.UTC).isoformat(),
        },
        "git": provenance.result()["git"],
        "versions": provenance.result()["versions"],
    }


def _grid_size(space: SearchSpace) -> int | None:
    return space.grid_size() if space.is_discrete else None


def _data_summary(series: Sequence[Bars]) -> list[dict[str, Any]]:
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


def _best(study: optuna.Study, ranked: pd.DataFrame) -> FrozenTrial | None:
    if ranked.empty or ranked.iloc[0]["state"] != "complete":
        return None
    number = int(ranked.iloc[0]["trial"])
    return next(t for t in study.get_trials(deepcopy=False) if t.number == number)


def _best_config(study: StudyConfig, best: FrozenTrial) -> dict[str, Any]:
    """The study file with `best`'s parameters fixed, runnable with `stratopt backtest`."""
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


def _make_run_dir(output: Path, name: str) -> Path:
    """The run folder, made before the search so an unwritable output fails first."""
    try:
        return new_run_dir(output, name)
    except OSError as exc:
        raise UserInputError(f"output: cannot create a run folder under {output}: {exc}") from None


def _discard_if_empty(run_dir: Path) -> None:
    """Remove a run folder the failed run wrote nothing into (its study folder too if empty)."""
    for folder in (run_dir, run_dir.parent):
        try:
            folder.rmdir()  # only ever removes an empty folder
        except OSError:
            return


def _finish(
    run_dir: Path,
    name: str,
    url: str,
    result: RunResult,
    compiled: CompiledStudy,
    summary: dict[str, Any],
    best_config: Callable[[FrozenTrial], dict[str, Any]] | None,
    *,
    statistics: Callable[[pd.DataFrame], dict[str, Any]] | None = None,
) -> OptimizeResult:
    ranked = ranked_frame(result.study, compiled.objective.directions)
    if statistics is not None:
        summary["statistics"] = statistics(ranked)
    best = _best(result.study, ranked)
    best_cfg = best_config(best) if best is not None and best_config is not None else None
    if best is not None:
        summary["best"] = {
            "trial": best.number,
            "params": best.params,
            "values": best.values,
            "metrics": record(best).get("metrics", {}),
        }
        summary.update(path_band_section(summary["best"]["metrics"]))
    folder = write_run_folder(run_dir, summary=summary, ranked=ranked, best_config=best_cfg)
    return OptimizeResult(
        study_name=name,
        storage=redact(url),
        run_folder=folder,
        ranked=ranked,
        best_params=dict(best.params) if best is not None else None,
        best_values=list(best.values) if best is not None else None,
        best_metrics=record(best).get("metrics") if best is not None else None,
        counts=summary["counts"],
        stopped_by=result.stopped_by,
        seconds=result.seconds,
        statistics=summary.get("statistics"),
    )


# ---- overfitting statistics (stratopt.stats) ----------------------------------------

_log = logging.getLogger(__name__)


def _statistics(
    ranked: pd.DataFrame,
    compiled: CompiledStudy,
    study: StudyConfig | None,
    evaluator: StudyEvaluator | None,
    seed: int,
) -> dict[str, Any]:
    """The `statistics` section of summary.json; a failure here never loses the run."""
    from stratopt.stats import study_statistics

    try:
        return study_statistics(
            ranked,
            directions=compiled.objective.directions,
            study=study,
            data={(): evaluator.data.get(())} if evaluator is not None else None,
            seed=seed,
        )
    except Exception as exc:  # a bug in the statistics must not cost the finished search
        _log.exception("overfitting statistics failed")
        message = f"{type(exc).__name__}: {exc}"
        return {
            "available": False,
            "reason": message,
            "verdict": f"overfitting statistics failed: {message}",
        }


# ---- robustness and look-ahead after a search (stratopt.validation) -----------------

ATTR_ROBUSTNESS = "stratopt:robustness"
ATTR_LOOKAHEAD = "stratopt:lookahead"
LOOKAHEAD_TOP = 3  # best candidates checked for look-ahead after every optimization


def _post_checks(
    result: RunResult,
    compiled: CompiledStudy,
    evaluator: Any,
    run_dir: Path,
    *,
    study: StudyConfig | None = None,
) -> dict[str, Any]:
    """The `robustness` (and, for a strategy study, `lookahead`) sections of summary.json.

    Runs while the evaluator is open: every missing neighbour and slice point in one
    batch. Also writes stability.csv / sensitivity.csv and keeps both sections on the
    study (user attributes) for `stratopt show`. A failure here is recorded in the
    section, never loses the run folder.
    """
    import logging

    from stratopt.storage._runfolder import clean
    from stratopt.validation import assess_robustness

    log = logging.getLogger("stratopt.validation")
    out: dict[str, Any] = {}
    try:
        report = assess_robustness(
            result.study,
            space=compiled.space,
            objective=compiled.objective,
            evaluator=evaluator,
            constraints=compiled.constraints,
            fixed=study.params if study is not None else None,
            requirements=compiled.requirements,
        )
        out["robustness"] = report.to_dict()
        report.write_csv(run_dir)
    except Exception as exc:  # a bug here must not cost the search's results
        log.exception("robustness analysis failed")
        out["robustness"] = {"error": f"{type(exc).__name__}: {exc}"}
    if study is not None:
        out["lookahead"] = _lookahead_section(result, compiled, evaluator, study, log)
    for attr, key in ((ATTR_ROBUSTNESS, "robustness"), (ATTR_LOOKAHEAD, "lookahead")):
        if key in out:
            result.study.set_user_attr(attr, clean(out[key]))
    return out


def _lookahead_section(
    result: RunResult, compiled: CompiledStudy, evaluator: Any, study: StudyConfig, log: Any
) -> dict[str, Any]:
    """The bounded look-ahead check on the best candidates (see `_lookahead`)."""
    import time

    from stratopt.storage._runfolder import _order
    from stratopt.validation import check_study_lookahead

    done = result.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    top = _order([t for t in done if t.values], compiled.objective.directions)[:LOOKAHEAD_TOP]
    if not top:
        return {"clean": None, "note": "no completed candidate to check"}
    start = time.perf_counter()
    try:
        report = check_study_lookahead(
            study,
            candidates=[dict(t.params) for t in top],
            points=5,
            lookback=2000,
            horizon=250,
            bars_for=evaluator.data.get,
        )
    except Exception as exc:  # a bug here must not cost the search's results
        log.exception("look-ahead check failed")
        return {"clean": None, "error": f"{type(exc).__name__}: {exc}"}
    seconds = round(time.perf_counter() - start, 3)
    trials = [t.number for t in top]
    return {"checked": "top candidates", "trials": trials, **report.to_dict(), "seconds": seconds}


@dataclass(frozen=True)
class WorkResult:
    """What one worker did on a shared study."""

    study_name: str
    storage: str
    worker_id: str
    counts: dict[str, int]
    attempts: int
    pruned: int
    failed: int
    stopped_by: str
    seconds: float
    run_folder: RunFolder | None


def study_target(study: StudyConfig) -> int:
    """The study's target of COMPLETE trials (grid default: every valid combination)."""
    if study.search.trials:
        return study.search.trials
    return _default_trials(study.search.method, compile_study(study), study.params)


def work_study(
    study: StudyConfig,
    *,
    storage: str | None = None,
    heartbeat: Heartbeat | None = None,
    worker: WorkerOptions | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    report: bool = True,
) -> WorkResult:
    """Join (or create) the study and work on it until it has its target of COMPLETE trials.

    Any number of workers, on any machines, may run this against one storage; see
    `stratopt.search._worker` for how they share the work. With `report`, a run folder
    of the whole study is written at the end (as `optimize` does).
    """
    compiled = compile_study(study)
    _check_name(study.name, "name")
    strategy = get_strategy(study.strategy, base_dir=study.base_dir)
    router = Router(study, strategy, compiled.space.names)
    search = study.search
    trials = search.trials or _default_trials(search.method, compiled, study.params)
    url = resolve_storage_url(storage, study.storage, study.output_dir)
    wopts = worker or WorkerOptions()
    options = _options(study, trials)
    holdout = _prepare_holdout(study, router)
    searched = study if holdout is None else holdout.in_sample  # as optimize_study
    run_dir = _make_run_dir(study.output_dir, study.name) if report else None
    evaluator = StudyEvaluator(searched, router, jobs=search.jobs, timeout=search.trial_timeout)
    started = dt.datetime.now(dt.UTC)
    try:
        shared = _open_study(study.name, url, compiled, heartbeat)
        seed = worker_seed(options.seed, wopts.worker_id)
        shared.sampler = sampler_for(replace(options, seed=seed), compiled.objective)
        result = work(
            shared,
            space=compiled.space,
            constraints=compiled.constraints,
            objective=compiled.objective,
            requirements=compiled.requirements,
            evaluator=evaluator,
            options=options,
            worker=wopts,
            fixed=study.params,
            on_progress=on_progress,
        )
    finally:
        evaluator.close()
    folder = None
    if run_dir is not None:
        summary = _summary(study.name, url, result, compiled, started, _provenance())
        summary["worker"] = wopts.worker_id
        summary["strategy"] = strategy.name
        summary["config"] = json.loads(study.model_dump_json())
        summary["config"]["storage"] = redact(url)
        folder = _finish(
            run_dir, study.name, url, result, compiled, summary,
            lambda best: _best_config(study, best),
        ).run_folder  # fmt: skip
    p = result.progress
    return WorkResult(
        study_name=study.name,
        storage=redact(url),
        worker_id=wopts.worker_id,
        counts=_counts(result.study),
        attempts=p.attempts,
        pruned=p.pruned,
        failed=p.failed,
        stopped_by=result.stopped_by,
        seconds=result.seconds,
        run_folder=folder,
    )


def report_study(study: StudyConfig, *, storage: str | None = None) -> OptimizeResult:
    """A run folder for the stored study as it is now (after `launch`'s workers)."""
    compiled = compile_study(study)
    url = resolve_storage_url(storage, study.storage, study.output_dir)
    run_dir = _make_run_dir(study.output_dir, study.name)
    started = dt.datetime.now(dt.UTC)
    shared = _open_study(study.name, url, compiled, None)
    progress = Progress(target=study.search.trials or 0)
    result = RunResult(shared, progress, "workers finished", 0.0)
    summary = _summary(study.name, url, result, compiled, started, _provenance())
    summary["config"] = json.loads(study.model_dump_json())
    summary["config"]["storage"] = redact(url)
    summary["study_dir"] = str(study.base_dir.resolve())
    router = Router(
        study, get_strategy(study.strategy, base_dir=study.base_dir), compiled.space.names
    )
    holdout = _prepare_holdout(study, router)
    searched = study if holdout is None else holdout.in_sample
    return _finish(
        run_dir, study.name, url, result, compiled, summary, lambda best: _best_config(study, best),
        statistics=lambda ranked: _statistics(ranked, compiled, searched, None, study.search.seed),
    )  # fmt: skip

"""`backtest_batch`: a study file's strategy and settings over symbols × timeframes ×
parameter sets, written to a run folder (batch.csv, matrix_<metric>.csv, summary.json).

Parameter sets name parameters as a study's `space` does (`fast`, `backtest.stop_loss`)
and are routed the same way; they come from a YAML/JSON list, a grid, or the top trials
of a stored study.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stratopt.batch._dask import parse_cluster
from stratopt.batch._local import Executor, LocalExecutor
from stratopt.batch._run import BatchOptions, BatchTable, run_batch
from stratopt.batch._series import Series, SeriesOptions, expand_symbols, load_series
from stratopt.batch._tasks import Job
from stratopt.config import StudyConfig
from stratopt.errors import ConfigError
from stratopt.metrics import METRIC_IDS
from stratopt.search._candidates import Router  # stratopt.evaluation.Router after #6
from stratopt.storage import load_ranked, resolve_storage_url
from stratopt.storage._runfolder import clean, git_commit, new_run_dir, versions
from stratopt.strategies import get_strategy

__all__ = [
    "BatchRequest",
    "BatchResult",
    "backtest_batch",
    "grid_param_sets",
    "read_param_sets",
    "top_param_sets",
]


@dataclass(frozen=True)
class BatchRequest:
    """What to run beyond the study file.

    Attributes:
        param_sets: The parameter sets (names as in a study's `space`).
        symbols: Data files or globs (default: the study's `data.path`).
        timeframes: Timeframes to resample to (default: the study's `data.timeframe`,
            else each file as it is).
        cluster: None (this machine), `dask://HOST:PORT` or `local:N`.
        chunk_size: Parameter sets per task (default: all of a series in one).
        metric: The metric the summaries rank by (default: the study's objective when
            it is one metric, else `sharpe`).
        matrices: Further metrics to write a matrix of.
        output: Root of run folders (default: the study's `output`).
        on_progress: Called with (tasks done, tasks).
    """

    param_sets: Sequence[Mapping[str, Any]]
    symbols: Sequence[str] | None = None
    timeframes: Sequence[str] | None = None
    cluster: str | None = None
    chunk_size: int | None = None
    metric: str | None = None
    matrices: tuple[str, ...] = ("total_return", "max_drawdown")
    output: Path | None = None
    on_progress: Callable[[int, int], None] | None = None


@dataclass(frozen=True, eq=False)
class BatchResult:
    """The table, the run folder it was written to and its summary.json contents."""

    table: BatchTable
    run_folder: Path
    summary: dict[str, Any] = field(default_factory=dict)


def read_param_sets(path: str | Path) -> list[dict[str, Any]]:
    """A YAML or JSON list of parameter mappings.

    Raises:
        ConfigError: a missing file, unparsable text, or not a non-empty list of mappings.
    """
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text())
    except OSError as exc:
        raise ConfigError(f"--params: cannot read {p}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--params: {p} is not YAML or JSON: {exc}") from None
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"--params: {p} must hold a non-empty list of parameter mappings")
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ConfigError(f"--params: {p}: item {i} is {item!r}, not a mapping")
    return [dict(item) for item in raw]


def _grid_values(spec: str) -> tuple[str, list[Any]]:
    name, sep, text = spec.partition("=")
    if not sep or not name.strip() or not text.strip():
        raise ConfigError(f"--grid: {spec!r} is not NAME=v1,v2,... or NAME=low:high:step")
    parts = text.split(":")
    if len(parts) == 3:
        try:
            low, high, step = (float(x) for x in parts)
        except ValueError:
            raise ConfigError(f"--grid: {spec!r}: low:high:step must be numbers") from None
        if step <= 0 or high < low:
            raise ConfigError(f"--grid: {spec!r}: needs step > 0 and low <= high")
        count = int((high - low) / step + 1e-9) + 1
        values = [low + i * step for i in range(count)]
        whole = all(float(x).is_integer() for x in parts)
        return name.strip(), [int(v) if whole else v for v in values]
    return name.strip(), [yaml.safe_load(v) for v in text.split(",")]


def grid_param_sets(specs: Sequence[str]) -> list[dict[str, Any]]:
    """Every combination of `NAME=v1,v2` / `NAME=low:high:step` specs, first name outer."""
    axes = [_grid_values(s) for s in specs]
    names = [n for n, _ in axes]
    return [
        dict(zip(names, combo, strict=True)) for combo in itertools.product(*(v for _, v in axes))
    ]


def top_param_sets(
    study: StudyConfig, top: int, *, storage: str | None = None
) -> list[dict[str, Any]]:
    """The searched parameters of the `top` best completed trials of the stored study.

    Raises:
        ConfigError: `top < 1`, or a study without a completed trial.
    """
    if top < 1:
        raise ConfigError(f"--top: must be >= 1, got {top}")
    url = resolve_storage_url(storage, study.storage, study.output_dir)
    ranked = load_ranked(study.name, url)
    done = ranked[ranked["state"] == "complete"].head(top) if len(ranked) else ranked
    if done.empty:
        raise ConfigError(f"--from-study: study {study.name!r} has no completed trial")
    cols = [c for c in done.columns if c.startswith("params.")]
    return [
        {c.removeprefix("params."): _plain(row[c]) for c in cols if row[c] == row[c]}
        for _, row in done.iterrows()
    ]


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)  # a CSV round trip turned an integer parameter into a float
    return value


def _job(study: StudyConfig, sets: Sequence[Mapping[str, Any]]) -> Job:
    if not sets:
        raise ConfigError("batch: no parameter set (give --params, --grid or --from-study)")
    strategy = get_strategy(study.strategy, base_dir=study.base_dir)
    names = sorted({k for p in sets for k in p})
    for name in names:
        if name.startswith("data."):
            raise ConfigError(
                f"params: {name!r} cannot vary in a batch; give --symbols and --timeframes"
            )
    router = Router(study, strategy, names)
    routed = [router.route(p) for p in sets]
    return Job(
        strategy=study.strategy,
        params=tuple(c.strategy_params for c in routed),
        settings=tuple(c.settings for c in routed),
        base_dir=study.base_dir,
        given=tuple(dict(p) for p in sets),
    )


def _metric(study: StudyConfig, metric: str | None) -> str:
    if metric:
        return metric
    objective = study.objective
    return objective if isinstance(objective, str) and objective in METRIC_IDS else "sharpe"


def _series(study: StudyConfig, request: BatchRequest) -> list[Series]:
    data = study.data
    if request.symbols:
        paths = expand_symbols(request.symbols)
    elif data.paths:
        paths = [study.resolve_path(p) for p in data.paths]
    else:
        raise ConfigError("--symbols: the study has no data.path; name the data files")
    timeframes = request.timeframes or ([data.timeframe] if data.timeframe else None)
    opts = SeriesOptions(start=data.start, end=data.end, periods_per_year=data.periods_per_year)
    return load_series(paths, timeframes, opts)


def _executor(cluster: str | None) -> Executor:
    return LocalExecutor() if cluster is None else parse_cluster(cluster)


def backtest_batch(study: StudyConfig, request: BatchRequest) -> BatchResult:
    """Run the batch and write its run folder `<output>/<study name>/batch/<UTC stamp>/`.

    Raises:
        ConfigError / DataError / StrategyError: bad input (the CLI exits 2); a bad
            data file or a failing cell is an error row instead.
    """
    job = _job(study, request.param_sets)
    executor = _executor(request.cluster)
    metric = _metric(study, request.metric)
    series = _series(study, request)
    started = dt.datetime.now(dt.UTC)
    options = BatchOptions(executor=executor, chunk_size=request.chunk_size, metric=metric,
                           matrices=request.matrices, on_progress=request.on_progress)  # fmt: skip
    table = run_batch(series, job, options)
    folder = new_run_dir(request.output or study.output_dir, f"{study.name}/batch")
    summary = _summary(study, request, table, started)
    _write(folder, table, summary)
    return BatchResult(table=table, run_folder=folder, summary=summary)


def _summary(
    study: StudyConfig, request: BatchRequest, table: BatchTable, started: dt.datetime
) -> dict[str, Any]:
    return {
        "kind": "batch",
        "study": study.name,
        "strategy": study.strategy,
        "config": json.loads(study.model_dump_json()),
        "study_dir": str(study.base_dir.resolve()),
        "series": [_series_entry(s) for s in table.series],
        "param_sets": [dict(p) for p in request.param_sets],
        "cells": len(table.frame),
        "errors": table.errors,
        "executor": table.executor,
        "tasks": table.tasks,
        "chunk_size": request.chunk_size,
        "metric": table.metric,
        "kendall_w": table.kendall,
        "sets": table.sets,
        "this_run": {
            "seconds": round(table.seconds, 3),
            "started_utc": started.isoformat(),
            "finished_utc": dt.datetime.now(dt.UTC).isoformat(),
        },
        "git": git_commit(Path.cwd()),
        "versions": versions(),
    }


def _series_entry(s: Series) -> dict[str, Any]:
    out: dict[str, Any] = {"series": s.label, "source": s.source, "error": s.error}
    if s.bars is not None:
        out.update(bars=len(s.bars), start=str(s.bars.index[0]), end=str(s.bars.index[-1]),
                   periods_per_year=s.bars.periods_per_year)  # fmt: skip
    return out


def _write(folder: Path, table: BatchTable, summary: Mapping[str, Any]) -> None:
    table.frame.to_csv(folder / "batch.csv", index=False)
    for metric, matrix in table.matrices.items():
        matrix.to_csv(folder / f"matrix_{metric}.csv")
    (folder / "summary.json").write_text(
        json.dumps(clean(summary), indent=2, default=str, allow_nan=False) + "\n"
    )

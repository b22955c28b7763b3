"""`backtest_batch`: a study file's strategy and settings over symbols × timeframes ×
parameter sets, written to a run folder (batch.csv, matrix_<metric>.csv, summary.json).

The study file is checked whole (`check_study`) and its parameter sets routed as a
study's space is (`stratopt.evaluation.Router`); the cells run in `stratopt.batch`; the
run folder and its summary.json come from the one builder (`_summary.finish_run`); with
`report=True` its report.html is drawn from them (`_report.run_report`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stratopt.batch import (
    BatchOptions,
    BatchTable,
    Executor,
    Job,
    LocalExecutor,
    Series,
    SeriesOptions,
    expand_symbols,
    load_series,
    parse_cluster,
    run_batch,
)
from stratopt.config import StudyConfig
from stratopt.errors import ConfigError
from stratopt.evaluation import Router
from stratopt.metrics import METRIC_IDS
from stratopt.operations._prepared import check_study, own_strategy
from stratopt.operations._report import run_report
from stratopt.operations._results import ReportFile
from stratopt.operations._summary import RunRecord, RunStart, finish_run
from stratopt.strategies import Strategy

__all__ = ["BatchRequest", "BatchResult", "backtest_batch"]


@dataclass(frozen=True)
class BatchRequest:
    """What to run beyond the study file.

    Attributes:
        param_sets: The parameter sets (names as in a study's `space`).
        param_source: Where they came from (`ParamSets.source`), kept in summary.json.
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
        report: Also write report.html into the run folder (`BatchResult.report_file`;
            needs the `report` extra; a failing report never fails the batch).
    """

    param_sets: Sequence[Mapping[str, Any]]
    param_source: Mapping[str, Any] = field(default_factory=lambda: {"kind": "given"})
    symbols: Sequence[str] | None = None
    timeframes: Sequence[str] | None = None
    cluster: str | None = None
    chunk_size: int | None = None
    metric: str | None = None
    matrices: tuple[str, ...] = ("total_return", "max_drawdown")
    output: Path | None = None
    on_progress: Callable[[int, int], None] | None = None
    report: bool = False


@dataclass(frozen=True, eq=False)
class BatchResult:
    """The table, the run folder it was written to, its summary.json contents and its
    report.html (with `BatchRequest.report`)."""

    table: BatchTable
    run_folder: Path
    summary: dict[str, Any] = field(default_factory=dict)
    report_file: ReportFile | None = None


def _job(study: StudyConfig, strategy: Strategy, sets: Sequence[Mapping[str, Any]]) -> Job:
    if not sets:
        raise ConfigError("batch: no parameter set (give --params, --grid or --from-study)")
    names = sorted({k for p in sets for k in p})
    for name in names:
        if name.startswith("data."):
            raise ConfigError(
                f"params: {name!r} cannot vary in a batch; give --symbols and --timeframes"
            )
    router = Router(study, strategy, names)
    routed = [router.route(p) for p in sets]
    assert study.strategy is not None  # own_strategy refused a study with an evaluator
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


def batch_series(study: StudyConfig, symbols: Sequence[str] | None,
                 timeframes: Sequence[str] | None) -> list[Series]:  # fmt: skip
    """The series of a batch: `symbols` (default: the study's data files) at each of
    `timeframes` (default: the study's `data.timeframe`, else each file's own), read
    with the study's date range and annualization."""
    data = study.data
    if symbols:
        paths = expand_symbols(symbols)
    elif data.paths:
        paths = [study.resolve_path(p) for p in data.paths]
    else:
        raise ConfigError("--symbols: the study has no data.path; name the data files")
    chosen = timeframes or ([data.timeframe] if data.timeframe else None)
    opts = SeriesOptions(start=data.start, end=data.end, periods_per_year=data.periods_per_year)
    return load_series(paths, chosen, opts)


def _executor(cluster: str | None) -> Executor:
    return LocalExecutor() if cluster is None else parse_cluster(cluster)


def backtest_batch(study: StudyConfig, request: BatchRequest) -> BatchResult:
    """Run the batch and write its run folder `<output>/<study name>/batch/<UTC stamp>/`.

    Raises:
        ConfigError / DataError / StrategyError: bad input (the CLI exits 2); a bad
            data file or a failing cell is an error row instead.
    """
    strategy = own_strategy(study, check_study(study), "stratopt batch")
    job = _job(study, strategy, request.param_sets)
    options = BatchOptions(
        executor=_executor(request.cluster), chunk_size=request.chunk_size,
        metric=_metric(study, request.metric), matrices=request.matrices,
        on_progress=request.on_progress,
    )  # fmt: skip
    series = batch_series(study, request.symbols, request.timeframes)
    start = RunStart.begin(request.output or study.output_dir, f"{study.name}/batch")
    with start.guard():
        table = run_batch(series, job, options)
        record = RunRecord(
            "batch", study.name, start, table.seconds, study=study, strategy=strategy.name,
            data=[s.bars for s in table.series if s.bars is not None],
        )  # fmt: skip
        body = _body(request, table)
        tables = {"batch.csv": table.frame}
        tables.update({f"matrix_{m}.csv": matrix for m, matrix in table.matrices.items()})
        summary = finish_run(record, body, tables)
    report = run_report(start.path, None) if request.report else None
    return BatchResult(table=table, run_folder=start.path, summary=summary, report_file=report)


def _body(request: BatchRequest, table: BatchTable) -> dict[str, Any]:
    """summary.json's batch keys."""
    return {
        "series": [_series_entry(s) for s in table.series],
        "param_sets": [dict(p) for p in request.param_sets],
        "param_source": dict(request.param_source),
        "timeframes": list(request.timeframes) if request.timeframes else None,
        "cells": len(table.frame),
        "errors": table.errors,
        "executor": table.executor,
        "tasks": table.tasks,
        "chunk_size": request.chunk_size,
        "metric": table.metric,
        "kendall_w": table.kendall,
        "sets": table.sets,
    }


def _series_entry(s: Series) -> dict[str, Any]:
    out: dict[str, Any] = {"series": s.label, "source": s.source, "error": s.error}
    if s.bars is not None:
        out.update(bars=len(s.bars), start=str(s.bars.index[0]), end=str(s.bars.index[-1]),
                   periods_per_year=s.bars.periods_per_year)  # fmt: skip
    return out

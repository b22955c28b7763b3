"""`run_batch`: every series × parameter set through an executor, into one table."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from stratopt.batch._aggregate import batch_frame, metric_matrix, set_summaries
from stratopt.batch._local import Executor, LocalExecutor, OnDone
from stratopt.batch._series import Series
from stratopt.batch._tasks import Job, chunk_tasks
from stratopt.metrics import get_metric

__all__ = ["BatchOptions", "BatchTable", "run_batch"]


@dataclass(frozen=True)
class BatchOptions:
    """How to run and summarize: executor, parameter sets per task, ranking metric.

    Attributes:
        executor: Where tasks run (default: `LocalExecutor()`).
        chunk_size: Parameter sets per task (default: all of a series in one task, so
            they share its indicators in one engine call).
        metric: The metric the summaries and Kendall's W rank by.
        matrices: Metrics to write a `matrix_<metric>.csv` of (the ranking metric is
            always one).
        on_progress: Called with (tasks done, tasks) as tasks finish.
    """

    executor: Executor | None = None
    chunk_size: int | None = None
    metric: str = "sharpe"
    matrices: tuple[str, ...] = ("total_return", "max_drawdown")
    on_progress: OnDone | None = None


@dataclass(frozen=True, eq=False)
class BatchTable:
    """The result of a batch.

    Attributes:
        frame: batch.csv: one row per series × parameter set, every metric, `error`.
        matrices: metric id -> its matrix (rows `SYMBOL/TF`, columns parameter sets).
        sets: Per parameter set: median, worst, fraction profitable, mean rank, ...
        kendall: Kendall's W of the ranking metric across the series.
        metric: The ranking metric.
        executor: How the cells ran.
        tasks: How many tasks they were run in.
        seconds: Wall time of the run.
    """

    frame: pd.DataFrame
    matrices: dict[str, pd.DataFrame]
    sets: list[dict[str, Any]]
    kendall: dict[str, Any]
    metric: str
    executor: str
    tasks: int
    seconds: float
    series: list[Series] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return int((self.frame["error"] != "").sum())


def run_batch(
    series: Sequence[Series], job: Job, options: BatchOptions | None = None
) -> BatchTable:
    """Run `job`'s parameter sets on every series and summarize.

    A series without bars (its file failed) gives error rows; a failing candidate its
    own error row; nothing aborts the batch. Rows come in series order, then parameter
    set order, whatever the executor and chunk size.

    Raises:
        ConfigError: an unknown metric.
    """
    opts = options or BatchOptions()
    metrics = tuple(dict.fromkeys((opts.metric, *opts.matrices)))
    for m in metrics:
        get_metric(m)
    executor = opts.executor or LocalExecutor()
    job = replace(job, run_id=job.run_id or uuid.uuid4().hex)
    ready = [i for i, s in enumerate(series) if s.bars is not None]
    tasks = chunk_tasks(ready, len(job.params), opts.chunk_size)
    t0 = time.perf_counter()
    results = executor.run([s.bars for s in series], job, tasks, opts.on_progress) if tasks else {}
    seconds = time.perf_counter() - t0
    frame = batch_frame(series, job.sets, results)
    sets, kendall = set_summaries(frame, opts.metric)
    return BatchTable(
        frame=frame,
        matrices={m: metric_matrix(frame, m) for m in metrics},
        sets=sets,
        kendall=kendall,
        metric=opts.metric,
        executor=executor.describe(),
        tasks=len(tasks),
        seconds=seconds,
        series=list(series),
    )

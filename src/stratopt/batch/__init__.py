"""Many symbols × timeframes × parameter sets in one call.

Each file is loaded once and each timeframe resampled once (`load_series`); a task is
one series with a chunk of parameter sets, evaluated in one `evaluate_many` call so the
sets share their indicators (`run_task`); executors run the tasks here
(`LocalExecutor`) or on a Dask cluster (`DaskExecutor`, the `dask` extra);
`run_batch` gathers the rows in a fixed order and summarizes each parameter set
(median, worst, fraction profitable, Kendall's W across the series).
"""

from __future__ import annotations

from stratopt.batch._aggregate import (
    batch_frame,
    kendalls_w,
    metric_matrix,
    set_labels,
    set_summaries,
)
from stratopt.batch._dask import DaskExecutor, parse_cluster
from stratopt.batch._local import Executor, LocalExecutor
from stratopt.batch._run import BatchOptions, BatchTable, run_batch
from stratopt.batch._series import (
    Series,
    SeriesOptions,
    expand_symbols,
    load_series,
    timeframe_label,
)
from stratopt.batch._tasks import Job, Task, TaskResult, chunk_tasks, run_task

__all__ = [
    "BatchOptions",
    "BatchTable",
    "DaskExecutor",
    "Executor",
    "Job",
    "LocalExecutor",
    "Series",
    "SeriesOptions",
    "Task",
    "TaskResult",
    "batch_frame",
    "chunk_tasks",
    "expand_symbols",
    "kendalls_w",
    "load_series",
    "metric_matrix",
    "parse_cluster",
    "run_batch",
    "run_task",
    "set_labels",
    "set_summaries",
    "timeframe_label",
]

"""The unit of work of a batch: one series × a chunk of parameter sets, one engine call.

`run_task` is what every executor runs (in this process, a worker process or a Dask
worker). It never raises for a candidate: bad parameters and strategy errors come back
as that candidate's error, so a cell fails alone.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stratopt.backtest import evaluate_many
from stratopt.data import Bars
from stratopt.engine import ExecSettings
from stratopt.metrics import METRIC_IDS
from stratopt.strategies import IndicatorCache, Strategy, get_strategy

__all__ = ["Job", "Task", "TaskResult", "chunk_tasks", "run_task"]

# Indicator caches of the last few series this process worked on: chunks of the same
# series that land on the same worker share their indicators.
_CACHES: OrderedDict[str, IndicatorCache] = OrderedDict()
_MAX_CACHES = 4


@dataclass(frozen=True)
class Job:
    """What every task of a batch shares: the strategy, the parameter sets, the settings.

    `strategy` is a name / `module:Class` / `file.py:Class` reference (resolved in the
    process that runs the task, against `base_dir`) or a Strategy instance. `given` are
    the parameter sets as the user wrote them (labels, batch.csv columns; default
    `params`), `params` and `settings` what they route to.
    """

    strategy: str | Strategy
    params: tuple[Mapping[str, Any], ...]
    settings: tuple[ExecSettings, ...]
    base_dir: Path | None = None
    run_id: str = ""
    given: tuple[Mapping[str, Any], ...] = ()

    @property
    def sets(self) -> tuple[Mapping[str, Any], ...]:
        return self.given or self.params

    def resolve(self) -> Strategy:
        return get_strategy(self.strategy, base_dir=self.base_dir)


@dataclass(frozen=True)
class Task:
    """Series `series` with the parameter sets `sets` (positions into `Job.params`)."""

    series: int
    sets: tuple[int, ...]

    @property
    def key(self) -> str:
        return f"{self.series}:{self.sets[0]}-{self.sets[-1]}"


@dataclass(frozen=True, eq=False)
class TaskResult:
    """Metrics `(len(sets), len(METRIC_IDS))` and per set None or its error."""

    task: Task
    metrics: np.ndarray
    errors: list[str | None] = field(default_factory=list)


def chunk_tasks(series: Sequence[int], n_sets: int, chunk_size: int | None) -> list[Task]:
    """Each series' parameter sets in chunks of `chunk_size` (None: all in one task)."""
    size = n_sets if not chunk_size else max(1, chunk_size)
    return [
        Task(s, tuple(range(a, min(a + size, n_sets))))
        for s in series
        for a in range(0, n_sets, max(size, 1))
    ]


def _cache(key: str, bars: Bars) -> IndicatorCache:
    cache = _CACHES.get(key)
    if cache is None:
        cache = IndicatorCache(bars, max_bytes=64 * 2**20)
        _CACHES[key] = cache
        while len(_CACHES) > _MAX_CACHES:
            _CACHES.popitem(last=False)
    _CACHES.move_to_end(key)
    return cache


def run_task(bars: Bars, job: Job, task: Task) -> TaskResult:
    """The metrics of `task`'s parameter sets on `bars`, in one `evaluate_many` call."""
    n = len(task.sets)
    try:
        strategy = job.resolve()
        res = evaluate_many(
            bars,
            strategy,
            [job.params[i] for i in task.sets],
            [job.settings[i] for i in task.sets],
            cache=_cache(f"{job.run_id}:{task.series}", bars),
        )
    except Exception as exc:  # the strategy cannot load, or the engine refused: each cell says why
        message = f"{type(exc).__name__}: {exc}"
        return TaskResult(task, np.full((n, len(METRIC_IDS)), np.nan), [message] * n)
    metrics = res.metrics[list(METRIC_IDS)].to_numpy(dtype=np.float64, copy=True)
    return TaskResult(task, metrics, list(res.errors))

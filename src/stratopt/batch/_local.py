"""Running a batch's tasks on this machine: in this process, or in worker processes.

Strategies whose signals are compiled rules run in this process, where the engine
spreads each task's candidates over its threads. Strategies whose signals are Python
code run a task per worker process (the data is sent to each process once, when it
starts), since one Python thread would otherwise run them all.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

from stratopt.batch._tasks import Job, Task, TaskResult, run_task
from stratopt.data import Bars

__all__ = ["Executor", "LocalExecutor", "OnDone"]

OnDone = Callable[[int, int], None]

# The data of the batch in a worker process, set once by the pool's initializer.
_WORKER_DATA: tuple[Sequence[Bars | None], Job] | None = None


def _init_worker(series: Sequence[Bars | None], job: Job) -> None:
    global _WORKER_DATA
    _WORKER_DATA = (series, job)


def _run_in_worker(task: Task) -> TaskResult:
    assert _WORKER_DATA is not None, "the pool initializer did not run"
    series, job = _WORKER_DATA
    bars = series[task.series]
    assert bars is not None
    return run_task(bars, job, task)


class Executor:
    """Runs tasks and returns each task's result once, keyed by `Task.key`."""

    name = "executor"

    def run(
        self,
        series: Sequence[Bars | None],
        job: Job,
        tasks: Sequence[Task],
        on_done: OnDone | None = None,
    ) -> dict[str, TaskResult]:
        raise NotImplementedError

    def describe(self) -> str:
        return self.name


@dataclass
class LocalExecutor(Executor):
    """This machine. `processes`: worker processes for Python-signal strategies
    (default: the number of CPUs; 1 runs everything in this process)."""

    processes: int | None = None
    name = "local"

    def run(
        self,
        series: Sequence[Bars | None],
        job: Job,
        tasks: Sequence[Task],
        on_done: OnDone | None = None,
    ) -> dict[str, TaskResult]:
        workers = self.processes or os.cpu_count() or 1
        use_pool = (
            workers > 1 and len(tasks) > 1 and isinstance(job.strategy, str)
            and not job.resolve().uses_rules
        )  # fmt: skip
        if use_pool:
            return _in_processes(series, job, tasks, min(workers, len(tasks)), on_done)
        out: dict[str, TaskResult] = {}
        for task in tasks:
            bars = series[task.series]
            assert bars is not None
            out[task.key] = run_task(bars, job, task)
            if on_done is not None:
                on_done(len(out), len(tasks))
        return out


def _in_processes(
    series: Sequence[Bars | None],
    job: Job,
    tasks: Sequence[Task],
    workers: int,
    on_done: OnDone | None,
) -> dict[str, TaskResult]:
    ctx = multiprocessing.get_context("spawn")  # no fork of a process with numba threads
    out: dict[str, TaskResult] = {}
    with ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_init_worker, initargs=(series, job)
    ) as pool:
        futures = [pool.submit(_run_in_worker, task) for task in tasks]
        for fut in as_completed(futures):
            res = fut.result()
            out[res.task.key] = res
            if on_done is not None:
                on_done(len(out), len(tasks))
    return out

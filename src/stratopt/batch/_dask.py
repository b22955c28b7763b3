"""Running a batch's tasks on a Dask distributed cluster (the `dask` extra).

The bars and the job are scattered once, replicated to every worker (so a worker that
dies takes no data with it), and each task refers to them. Bookkeeping is by task key:
a task whose worker died or whose future failed is submitted again under a new Dask
key, up to `max_attempts` times, and only the first result of each task is kept, so
every row appears exactly once however many times its task ran.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stratopt.batch._local import Executor, OnDone
from stratopt.batch._tasks import Job, Task, TaskResult, run_task
from stratopt.data import Bars
from stratopt.errors import ConfigError
from stratopt.metrics import METRIC_IDS

__all__ = ["DaskExecutor", "parse_cluster"]

_ADDRESS = re.compile(r"^dask://(?P<host>[^:/\s]+):(?P<port>\d{1,5})$")
_LOCAL = re.compile(r"^local:(?P<n>\d+)$")


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ConfigError(
            "--cluster: Dask is not installed; install the extra: pip install 'stratopt[dask]'"
        ) from None
    return distributed


def parse_cluster(text: str) -> DaskExecutor:
    """`dask://HOST:PORT` (a running scheduler) or `local:N` (N local worker processes).

    Raises:
        ConfigError: any other text.
    """
    m = _ADDRESS.match(text)
    if m:
        return DaskExecutor(address=f"tcp://{m['host']}:{m['port']}")
    m = _LOCAL.match(text)
    if m and int(m["n"]) >= 1:
        return DaskExecutor(local_workers=int(m["n"]))
    raise ConfigError(
        f"--cluster: {text!r} is not dask://HOST:PORT or local:N (N >= 1 worker processes)"
    )


def _run_on_worker(bars: Bars, job: Job, task: Task) -> TaskResult:
    return run_task(bars, job, task)


@dataclass
class DaskExecutor(Executor):
    """A Dask scheduler at `address`, or a LocalCluster of `local_workers` processes
    listening on 127.0.0.1 (started for the batch and closed after it)."""

    address: str | None = None
    local_workers: int | None = None
    max_attempts: int = 3
    name = "dask"

    def describe(self) -> str:
        where = self.address or f"LocalCluster of {self.local_workers} processes"
        return f"dask ({where})"

    @contextlib.contextmanager
    def client(self) -> Iterator[Any]:
        dd = _distributed()
        if self.address is not None:
            try:
                client = dd.Client(self.address, timeout="10s")
            except OSError as exc:
                raise ConfigError(f"--cluster: cannot reach {self.address}: {exc}") from None
            with client:
                yield client
            return
        with (
            dd.LocalCluster(
                n_workers=self.local_workers or 1,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",
            ) as cluster,
            dd.Client(cluster) as client,
        ):
            yield client

    def run(
        self,
        series: Sequence[Bars | None],
        job: Job,
        tasks: Sequence[Task],
        on_done: OnDone | None = None,
    ) -> dict[str, TaskResult]:
        with self.client() as client:
            ship = _Shipment(client, series, job, sorted({t.series for t in tasks}))
            return _run(ship, tasks, on_done, self.max_attempts)


class _Shipment:
    """The scattered bars of each series and the job; scattered again if lost (every
    worker that held a copy died), so a resubmitted task does not wait on lost data."""

    def __init__(self, client: Any, series: Sequence[Bars | None], job: Job, used: list[int]):
        self.client, self.series, self.job = client, series, job
        self.data: dict[int, Any] = {}
        self.job_ref: Any = None
        self.used = used
        self.refresh()

    def refresh(self) -> None:
        for s in self.used:
            if s not in self.data or self.data[s].status != "finished":
                self.data[s] = self.client.scatter(self.series[s], broadcast=True, hash=False)
        if self.job_ref is None or self.job_ref.status != "finished":
            self.job_ref = self.client.scatter(self.job, broadcast=True, hash=False)


def _run(
    ship: _Shipment, tasks: Sequence[Task], on_done: OnDone | None, max_attempts: int
) -> dict[str, TaskResult]:
    dd = _distributed()
    client = ship.client
    tag = uuid.uuid4().hex[:12]
    attempts: dict[str, int] = {}

    def submit(task: Task) -> Any:
        attempts[task.key] = attempts.get(task.key, 0) + 1
        key = f"stratopt-batch-{tag}-{task.key}-{attempts[task.key]}"
        data = ship.data[task.series]
        return client.submit(_run_on_worker, data, ship.job_ref, task, key=key, pure=False)

    pending = {submit(t): t for t in tasks}
    out: dict[str, TaskResult] = {}
    ready = dd.as_completed(list(pending))
    for fut in ready:
        task = pending.pop(fut)
        if task.key in out:
            continue  # a second run of a task already counted: its rows are in once
        if fut.status == "finished":
            out[task.key] = fut.result()
            if on_done is not None:
                on_done(len(out), len(tasks))
        elif attempts[task.key] < max_attempts:
            ship.refresh()
            nxt = submit(task)
            pending[nxt] = task
            ready.add(nxt)
        else:
            out[task.key] = _lost(task, fut, attempts[task.key])
    return out


def _lost(task: Task, fut: Any, attempts: int) -> TaskResult:
    try:
        reason = repr(fut.exception())
    except Exception as exc:  # a cancelled future has no exception to read
        reason = f"{type(exc).__name__}: {exc}"
    message = f"the cluster lost this cell {attempts} times ({fut.status}): {reason}"
    n = len(task.sets)
    return TaskResult(task, np.full((n, len(METRIC_IDS)), np.nan), [message] * n)

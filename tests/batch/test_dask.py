"""The Dask executor on a LocalCluster of 2 processes on 127.0.0.1: the same rows as the
local executor whatever the chunk size, and a worker killed with SIGKILL mid-batch loses
no row and duplicates none."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from stratopt.batch import BatchOptions, DaskExecutor, Job, LocalExecutor, load_series, run_batch
from stratopt.engine import ExecSettings

distributed = pytest.importorskip("distributed")

HERE = Path(__file__).resolve().parent
SETTINGS = ExecSettings(commission=0.001)


def _cluster() -> Any:
    return distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    )  # fmt: skip


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with _cluster() as c:
        yield c


def test_same_rows_as_local_for_every_chunk_size(shared_data: Path, cluster: Any) -> None:
    series = load_series([str(shared_data / "GOOG_1d.csv.gz")], ["1d", "1w"])
    params = tuple({"fast": f, "slow": s} for f, s in ((5, 20), (10, 40), (20, 10), (30, 90)))
    job = Job("sma_cross", params, (SETTINGS,) * len(params))
    local = run_batch(series, job, BatchOptions(executor=LocalExecutor(processes=1)))
    assert (local.frame["error"] != "").sum() == 2  # fast > slow, on both timeframes
    dask = DaskExecutor(address=cluster.scheduler_address)
    for chunk in (None, 1, 3):
        other = run_batch(series, job, BatchOptions(executor=dask, chunk_size=chunk))
        pd.testing.assert_frame_equal(local.frame, other.frame)
        assert json.dumps(other.sets) == json.dumps(local.sets)  # NaN == NaN as text
        assert other.kendall == local.kendall


def _next_to_start_a_cell(log: Path, pids: list[int]) -> int:
    """The worker that starts a cell next (its line in ``log``; it then sleeps 0.4 s):
    killed at once, it dies in the middle of that cell however late this process saw
    the first cell finish (on a loaded host it may see it after the other worker ended
    its own cell)."""

    def started() -> list[str]:
        text = log.read_text()
        return text[: text.rfind("\n") + 1].splitlines()  # whole lines only

    seen = len(started())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        lines = started()
        if len(lines) > seen and int(lines[-1].split()[0]) in pids:
            return int(lines[-1].split()[0])
        seen = len(lines)
        time.sleep(0.005)
    raise AssertionError("no worker started a cell within 60 s")


def test_a_worker_killed_mid_batch_loses_no_row(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "runs.log"
    monkeypatch.setenv("STRATOPT_TEST_LOG", str(log))  # the workers inherit both
    monkeypatch.setenv("STRATOPT_TEST_SLEEP", "0.4")
    series = load_series([str(shared_data / "GOOG_1d.csv.gz")], ["1d", "1w", "4w"])
    params = tuple({"every": e} for e in (5, 10, 20, 40))
    job = Job(f"{HERE / 'slow_flip.py'}:SlowFlip", params, (SETTINGS,) * len(params))
    with _cluster() as c, distributed.Client(c) as client:
        pids = sorted(client.run(os.getpid).values())
        killed: list[int] = []

        def kill_once(done: int, total: int) -> None:
            if not killed:  # one worker dies in the middle of a cell
                victim = _next_to_start_a_cell(log, pids)
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)

        dask = DaskExecutor(address=c.scheduler_address)
        table = run_batch(series, job, BatchOptions(executor=dask, chunk_size=1,
                                                   on_progress=kill_once))  # fmt: skip
    runs = [tuple(line.split()) for line in log.read_text().splitlines()]
    assert killed and any(pid == str(killed[0]) for pid, _, _ in runs)
    cells = Counter((bars, every) for _, bars, every in runs)
    assert max(cells.values()) >= 2, "no cell was running on the killed worker"
    frame = table.frame
    assert len(frame) == 12 and (frame["error"] == "").all()
    assert not frame.duplicated(["symbol", "timeframe", "set"]).any()
    monkeypatch.setenv("STRATOPT_TEST_SLEEP", "0")
    monkeypatch.delenv("STRATOPT_TEST_LOG")
    local = run_batch(series, job, BatchOptions(executor=LocalExecutor(processes=1)))
    pd.testing.assert_frame_equal(local.frame, frame)

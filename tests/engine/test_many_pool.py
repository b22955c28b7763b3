"""`_on_threads`: the worker threads are kept across calls, every item runs once."""

from __future__ import annotations

import os
import threading
from collections import Counter

import pytest

from stratopt.engine import _many


def test_calls_reuse_the_worker_threads_and_run_every_item_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A small batch's time is counted in tenths of a millisecond: no thread is
    started per call (the pool's, at most one per core, are kept), and from
    several calling threads at once each call still runs each of its items once."""
    done: Counter[tuple[int, int]] = Counter()
    lock = threading.Lock()

    def calls(caller: int, n: int) -> None:
        for c in range(n):

            def job(item: int, key: int = caller * 1000 + c) -> None:
                with lock:
                    done[(key, item)] += 1

            _many._on_threads(job, list(range(9)), 2)

    calls(0, 1)  # the pool's threads start here
    started = 0
    start = threading.Thread.start

    def counted(self: threading.Thread) -> None:
        nonlocal started
        started += 1
        start(self)

    monkeypatch.setattr(threading.Thread, "start", counted)
    calls(1, 30)
    assert started <= (os.cpu_count() or 1)
    monkeypatch.undo()
    callers = [threading.Thread(target=calls, args=(k, 20)) for k in range(2, 6)]
    for t in callers:
        t.start()
    for t in callers:
        t.join()
    want = {(k * 1000 + c, i) for k in range(6) for c in range(30 if k == 1 else 20 if k > 1 else 1)
            for i in range(9)}  # fmt: skip
    assert set(done) == want and set(done.values()) == {1}

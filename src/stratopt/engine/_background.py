"""A cold start's second compile in a second process.

With an empty numba cache, the first study compiles two big kernels: `run_many_nb`
(the search) and `run_one_nb` (the statistics, the report and the rare candidate
`run_many_nb` hands back), each 40 % of a cold start. Numba compiles one function at
a time per process (a global lock), so on two cores the second process halves that
time. When numba starts compiling `run_many_nb` in this process (its compile event
fires on a cache miss only), a child process compiles `run_one_nb` for the types this
process will call it with and saves it in numba's on-disk cache; before this process
first calls `run_one_nb`, `wait_for_background` waits for the child, and numba then
loads the kernel from the cache. Setting ``STRATOPT_BACKGROUND_COMPILE=0`` turns it
off. The compiled code is the same either way: numba's cache holds exactly what a
compile in this process would have produced.
"""

from __future__ import annotations

import atexit
import os
import pickle
import subprocess
import sys
import threading
from typing import Any

from numba.core import event, types

from stratopt.engine._nb import run_many_nb, run_one_nb
from stratopt.metrics.nb import metrics_chunk_nb, metrics_finish_nb

__all__ = ["ENV", "one_candidate_types", "wait_for_background"]

ENV = "STRATOPT_BACKGROUND_COMPILE"

_CHILD = "from stratopt.engine._background import _compile_from_stdin; _compile_from_stdin()"

_lock = threading.Lock()
_state: dict[str, subprocess.Popen[bytes] | None] = {"child": None}


def one_candidate_types(many_args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The argument types of `run_one_nb` for a candidate of a `run_many_nb` call with
    ``many_args`` (its numba argument types): the same prices and rows, one row of
    ``rules``, ``levels`` and ``ex``, and the `record` flag."""
    o, h, lo, c, ind, rules, levels, ex, ppy = many_args[:9]
    one = (rules.copy(ndim=rules.ndim - 1), levels.copy(ndim=1), ex.copy(ndim=1))
    return (o, h, lo, c, ind, *one, ppy, types.boolean)


def wait_for_background() -> None:
    """Wait for the child compiling `run_one_nb`, if one runs (call before using it)."""
    with _lock:
        child = _state["child"]
        _state["child"] = None
    if child is not None:
        child.wait()


def _start(many_args: tuple[Any, ...]) -> None:
    if os.environ.get(ENV, "1") == "0" or not sys.executable or run_one_nb.signatures:
        return
    with _lock:
        if _state["child"] is not None:
            return
        try:
            child = subprocess.Popen(
                [sys.executable, "-c", _CHILD],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={**os.environ, ENV: "0"},
            )
        except OSError:  # no child: this process compiles run_one_nb when it needs it
            return
        _state["child"] = child
    assert child.stdin is not None
    with child.stdin:
        child.stdin.write(pickle.dumps(one_candidate_types(many_args)))


def _compile_from_stdin() -> None:
    """The child: compile `run_one_nb` for the pickled argument types on stdin.

    The metrics kernels first, the last one first: the parent reaches them last in
    `run_many_nb`, and finds them in the cache if this process saved them by then
    (else it compiles them as well).
    """
    one = pickle.loads(sys.stdin.buffer.read())
    vec, f8, i8, ppy = types.float64[::1], types.float64, types.int64, one[8]
    metrics_finish_nb.compile((i8, f8, f8, i8, vec, ppy, vec, vec, vec, vec))
    metrics_chunk_nb.compile((vec, f8, i8, i8, vec, vec, vec, vec))
    run_one_nb.compile(one)


def _stop_child() -> None:
    # A process that ends before it needs run_one_nb leaves no compile running.
    child = _state["child"]
    if child is not None and child.poll() is None:
        child.kill()
        child.wait()


class _OnManyCompile(event.Listener):
    def on_start(self, ev: event.Event) -> None:
        data = ev.data
        if isinstance(data, dict) and data.get("dispatcher") is run_many_nb:
            _start(tuple(data["args"]))

    def on_end(self, ev: event.Event) -> None:
        pass


event.register("numba:compile", _OnManyCompile())  # type: ignore[no-untyped-call]
atexit.register(_stop_child)

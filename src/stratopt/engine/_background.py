"""A cold start's second compile in a second process.

With an empty numba cache, the first study compiles two big kernels: `run_many_nb`
(the search) and `run_one_nb` (the statistics, the report and the rare candidate
`run_many_nb` hands back), and the metrics kernels both call. Numba compiles one
function at a time per process (a global lock), so on two cores a second process
halves that time. A child process (`_background_child`) compiles the metrics kernels
and `run_one_nb` for the types this process will call them with, then the Monte
Carlo's `paths_nb`, and saves them in numba's on-disk cache; this process compiles
the rest of `run_many_nb` meanwhile and loads what the child saved. Before this
process first calls `run_one_nb`, `wait_for_background` waits until the child says
it is saved. Setting ``STRATOPT_BACKGROUND_COMPILE=0`` turns it off. The compiled code
is the same either way: numba's cache holds exactly what a compile in this process
would have produced.

The child starts as early as possible: `compile_in_background` (the CLI calls it
before importing its commands, ~1.5-3 s of imports) starts it for the types every
study passes (`STUDY_MANY_TYPES`); otherwise, or for other types, numba's compile
event of `run_many_nb` (it fires on a cache miss only) starts one for the types of
that call.

Neither process compiles what the other does. When this process starts compiling
`run_many_nb` (numba's compile event, a cache miss), it first compiles the kernels of
that tree the child does not (`fill_codes_range_nb` and `simulate_range_nb`, for the
types `run_many_nb`'s body passes them: `batch_callee_types`; the child's `run_one_nb`
loads them from the cache) and `eval_signals_nb` (a strategy's signals, needed right
after the search), then waits until the child has saved the metrics kernels (it
writes a byte to its stdout): `run_many_nb`'s compile then loads them from the cache
instead of compiling them a second time (~1.5 s of CPU when this process got there
first).
"""

from __future__ import annotations

import atexit
import os
import pickle
import select
import subprocess
import sys
import threading
from typing import Any

from numba.core import event, types

from stratopt.engine._cache import kernels_cached
from stratopt.engine._nb import (
    eval_signals_nb,
    fill_codes_range_nb,
    run_many_nb,
    run_one_nb,
    simulate_range_nb,
)

__all__ = [
    "ENV",
    "METRICS_SAVED",
    "ONE_SAVED",
    "STUDY_MANY_TYPES",
    "batch_callee_types",
    "compile_in_background",
    "one_candidate_types",
    "wait_for_background",
]

ENV = "STRATOPT_BACKGROUND_COMPILE"

_CHILD = "from stratopt.engine._background_child import compile_from_stdin; compile_from_stdin()"

_PRICES = types.Array(types.float64, 1, "C", readonly=True)  # Bars' arrays are read-only
_F2 = types.float64[:, ::1]
# The numba types of `run_many_nb`'s arguments as `run_many` passes them for a study:
# the bars' four price arrays, the indicator rows, int64[k, R, 5] rules, levels,
# settings, bars per year, the metrics out and the `found` flags.
STUDY_MANY_TYPES: tuple[Any, ...] = (
    *(_PRICES,) * 4, _F2, types.int64[:, :, ::1], _F2, _F2, types.float64, _F2,
    types.boolean[::1],
)  # fmt: skip

# What the child writes to its stdout when the metrics kernels, then `run_one_nb`,
# are in the cache.
METRICS_SAVED = b"m"
ONE_SAVED = b"o"
# How long this process waits for that at most (a child that dies closes the pipe).
_METRICS_WAIT_S = 60.0

_lock = threading.Lock()
_children: list[subprocess.Popen[bytes]] = []  # not waited for yet
_started: list[subprocess.Popen[bytes]] = []  # every child, stopped at exit
# The children that have not yet said their metrics kernels are saved, by the
# `run_many_nb` types they were started for.
_metrics_pending: dict[tuple[Any, ...], subprocess.Popen[bytes]] = {}
_sent: set[tuple[Any, ...]] = set()  # the run_one_nb types a child was started for


def one_candidate_types(many_args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The argument types of `run_one_nb` for a candidate of a `run_many_nb` call with
    ``many_args`` (its numba argument types): the same prices and rows, one row of
    ``rules``, ``levels`` and ``ex``, and the `record` flag."""
    o, h, lo, c, ind, rules, levels, ex, ppy = many_args[:9]
    one = (rules.copy(ndim=rules.ndim - 1), levels.copy(ndim=1), ex.copy(ndim=1))
    return (o, h, lo, c, ind, *one, ppy, types.boolean)


def batch_callee_types(many_args: tuple[Any, ...]) -> dict[str, tuple[Any, ...]]:
    """The argument types `run_many_nb` (through `batch_metrics_nb`) passes to its
    callees `fill_codes_range_nb` and `simulate_range_nb` for a call with
    ``many_args``, and those of `eval_signals_nb` for one of its candidates."""
    o, h, lo, c, ind, rules, levels, ex = many_args[:8]
    i8, vec, no = types.int64, types.float64[::1], types.boolean
    codes, one_rules, one_levels = types.int8[::1], rules.copy(ndim=2), levels.copy(ndim=1)
    return {
        "fill_codes_range_nb": (ind, one_rules, one_levels, codes, i8, i8),
        "simulate_range_nb": (
            o, h, lo, c, codes, types.uint64[::1], i8, i8, ex.copy(ndim=1), vec, vec, vec,
            no, vec, types.int8[::1], types.float64[:, ::1], types.float64[:, ::1],
        ),
        "eval_signals_nb": (ind, one_rules, one_levels, i8),
    }  # fmt: skip


def compile_in_background() -> None:
    """With a cold numba cache, start compiling the one-candidate kernels for a study's
    types in a child process now (call it early: the child then has a head start)."""
    if not kernels_cached():
        _start(STUDY_MANY_TYPES)


def wait_for_background() -> None:
    """Wait for the children compiling `run_one_nb`, if any run (call before using it)."""
    with _lock:
        children = list(_children)
        _children.clear()
    for child in children:
        if child.stdout is None:
            child.wait()
            continue
        # until run_one_nb is saved (the child may go on with kernels needed later)
        while (step := child.stdout.read(1)) and step != ONE_SAVED:
            pass


def _start(many_args: tuple[Any, ...]) -> None:
    if os.environ.get(ENV, "1") == "0" or not sys.executable or run_one_nb.signatures:
        return
    one = one_candidate_types(many_args)
    with _lock:
        if one in _sent:  # a child compiles (or compiled) these already
            return
        try:
            child = subprocess.Popen(
                [sys.executable, "-c", _CHILD],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env={**os.environ, ENV: "0"},
            )
        except OSError:  # no child: this process compiles run_one_nb when it needs it
            return
        _sent.add(one)
        _children.append(child)
        _started.append(child)
        _metrics_pending[many_args] = child
    assert child.stdin is not None
    with child.stdin:
        child.stdin.write(pickle.dumps(one))


def _compile_beside_child(many_args: tuple[Any, ...]) -> None:
    """With a child compiling the metrics kernels, compile the rest of `run_many_nb`'s
    callees here, then wait for the child's metrics (see the module docstring)."""
    with _lock:
        child = _metrics_pending.pop(many_args, None)
    if child is None or child.stdout is None:
        return
    callees = batch_callee_types(many_args)
    fill_codes_range_nb.compile(callees["fill_codes_range_nb"])
    simulate_range_nb.compile(callees["simulate_range_nb"])
    eval_signals_nb.compile(callees["eval_signals_nb"])
    ready, _, _ = select.select([child.stdout], [], [], _METRICS_WAIT_S)
    if ready:
        child.stdout.read(len(METRICS_SAVED))  # or b"" when the child died: compile here


def _stop_children() -> None:
    # A process that ends before its child leaves no compile running (numba writes a
    # cache file to a temporary name and renames it: a killed compile leaves none).
    for child in _started:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()


class _OnManyCompile(event.Listener):
    def on_start(self, ev: event.Event) -> None:
        data = ev.data
        if isinstance(data, dict) and data.get("dispatcher") is run_many_nb:
            _start(tuple(data["args"]))
            _compile_beside_child(tuple(data["args"]))

    def on_end(self, ev: event.Event) -> None:
        pass


event.register("numba:compile", _OnManyCompile())  # type: ignore[no-untyped-call]
atexit.register(_stop_children)

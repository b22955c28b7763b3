"""A cold start's compiles, split between this process and a background child.

With an empty numba cache, the first study compiles the work kernels
(`fill_codes_range_nb`, `simulate_range_nb`, the metrics kernels `metrics_chunk_nb` and
`metrics_finish_nb`) and the composites that drive them (`run_many_nb` for the search,
`run_one_nb` for the statistics, the report and the rare candidate `run_many_nb` hands
back, `eval_signals_nb` for a strategy's signals). Numba compiles one function at a
time per process (a global lock) and compiles every callee again inside each caller,
so a composite costs 1.5-2 s more than what it calls. On two cores a child process
compiles half of it and saves it in numba's on-disk cache, where this process loads
it. ``STRATOPT_BACKGROUND_COMPILE=0`` turns the child off. The compiled code is the
same either way: numba's cache holds exactly what a compile here would produce.

Python's cyclic garbage collector stays off in the child (it only compiles: numba's
compiles keep its heap growing, and full collections took 1-1.8 s of its ~8 s before
the metrics were saved), and in this process from the child's start until its share
is compiled (`_pause_gc`, `_resume_gc`).

Two ways a child starts:

* **Early, from the CLI** (`start_background` before the study is read, then
  `compile_in_background` for a valid study that backtests with the signal engine,
  with a cold cache): the child compiles the metrics kernels and the small kernels
  the twins call (`SMALL_TYPES`) and says so (a byte on its stdout), then the Monte
  Carlo's `paths_nb` (the report needs it about a second later), the tail fallback's
  kernels and the composites for the types every study passes (`STUDY_MANY_TYPES`),
  for the next process. This process compiles `fill_codes_range_nb` and
  `simulate_range_nb` meanwhile (for the types the composites pass them,
  `batch_callee_types`), runs the work it was given for then (`while_compiling`: the
  statistics' slow import), and then runs the composites' Python twins (`_twins`:
  their bodies calling the compiled kernels, the same bits) until the child says a
  composite is saved (`composite`). No composite is compiled on this process's path.
  A child that has saved the metrics when this process ends is left to finish the
  composites for the next process (a few seconds, once); one that has not is stopped.
* **On numba's compile event** of `run_many_nb` (a cache miss: the Python API, or
  other types): the child compiles the metrics kernels and `run_one_nb` for that
  call's types (with the tail fallback's kernels before it says the metrics are
  saved), then `paths_nb`; this process compiles the rest of `run_many_nb`'s
  tree beside it, waits for the metrics and then compiles `run_many_nb`, which loads
  them; before it first calls `run_one_nb`, `wait_for_background` waits until the
  child says it is saved. These children are stopped when this process ends.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import pickle
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import numba
from numba.core import event, types
from numba.core.dispatcher import Dispatcher

from stratopt._gc import freeze_alive
from stratopt.engine._cache import kernels_cached
from stratopt.engine._nb import (
    copy_codes_nb,
    eval_signals_nb,
    fill_codes_range_nb,
    run_many_nb,
    run_one_nb,
    sim_state_init_nb,
    simulate_range_nb,
)
from stratopt.engine._twins import TWINS
from stratopt.metrics.nb import metrics_begin_nb, trade_stats_init_nb

__all__ = [
    "ENV",
    "MANY_SAVED",
    "METRICS_SAVED",
    "ONE_SAVED",
    "PATHS_TYPES",
    "SIGNALS_SAVED",
    "SMALL_TYPES",
    "STUDY_MANY_TYPES",
    "batch_callee_types",
    "compile_in_background",
    "composite",
    "one_candidate_types",
    "start_background",
    "stop_background",
    "wait_for_background",
    "while_compiling",
]

ENV = "STRATOPT_BACKGROUND_COMPILE"

# The child never runs the cyclic garbage collector (see the module docstring): what
# it leaves is freed when it exits.
_CHILD = (
    "import gc; gc.disable(); "
    "from stratopt.engine._background_child import compile_from_stdin; compile_from_stdin()"
)

_PRICES = types.Array(types.float64, 1, "C", readonly=True)  # Bars' arrays are read-only
_F2 = types.float64[:, ::1]
# The numba types of `run_many_nb`'s arguments as `run_many` passes them for a study:
# the bars' four price arrays, the indicator rows, int64[k, R, 5] rules, levels,
# settings, bars per year, the metrics out, the `found` flags and the buffers (stored
# returns, samples, change logs).
STUDY_MANY_TYPES: tuple[Any, ...] = (
    *(_PRICES,) * 4, _F2, types.int64[:, :, ::1], _F2, _F2, types.float64, _F2,
    types.boolean[::1], _F2, _F2, types.float64[:, :, ::1],
)  # fmt: skip
# The small kernels the composites' Python twins call (inside a composite they are
# compiled into it), with their argument types there: the early child compiles them
# before it says the metrics are saved, and this process loads them from the cache
# when a twin first calls them (~0.25 s less on this process's side, which had the
# larger share of the kernels a study waits for).
SMALL_TYPES: tuple[tuple[Dispatcher, tuple[Any, ...]], ...] = (
    (trade_stats_init_nb, (types.float64[::1],)),
    (sim_state_init_nb, (types.float64[::1], types.float64[::1])),
    (metrics_begin_nb, (types.float64, types.float64[::1])),
    (copy_codes_nb, (types.int8[::1], types.int8[::1])),
)
# `paths_nb`'s, as the statistics' Monte Carlo calls it.
PATHS_TYPES: tuple[Any, ...] = (
    types.float64[::1], types.int64[:, ::1], types.float64, types.boolean, _F2,
)  # fmt: skip

# What the child writes to its stdout when the metrics kernels, `run_many_nb`,
# `run_one_nb` and `eval_signals_nb` are in the cache (in this order; the event's
# child compiles no `run_many_nb` nor `eval_signals_nb`).
METRICS_SAVED = b"m"
MANY_SAVED = b"M"
ONE_SAVED = b"o"
SIGNALS_SAVED = b"e"
_SAVED = {run_many_nb: MANY_SAVED, run_one_nb: ONE_SAVED, eval_signals_nb: SIGNALS_SAVED}
# How long this process waits for the metrics at most (a child that dies closes the pipe).
_METRICS_WAIT_S = 60.0


class _Child:
    """A child process compiling kernels for `run_many_nb` arguments of types ``many``,
    and the steps it has said are saved."""

    def __init__(self, proc: subprocess.Popen[bytes], many: tuple[Any, ...], early: bool):
        self.proc, self.many, self.early = proc, many, early
        self.said: set[bytes] = set()
        self.gone = False  # its stdout closed: it ended (or died)
        self.beside = False  # this process compiled its share of the work kernels
        self.job_sent = False

    def hear(self, until: bytes | None = None, timeout: float | None = 0.0) -> None:
        """Take in what the child has said; with ``until``, wait up to ``timeout``
        seconds (None: as long as it takes) for that step (or the child's end)."""
        out = self.proc.stdout
        deadline = None if timeout is None else time.monotonic() + timeout
        while out is not None and not self.gone and (until is None or until not in self.said):
            wait: float | None = 0.0  # just what is there
            if until is not None and deadline is not None:
                wait = max(0.0, deadline - time.monotonic())
            elif until is not None:
                wait = None
            if not select.select([out], [], [], wait)[0]:
                return
            steps = os.read(out.fileno(), 16)
            self.gone = not steps
            self.said.update(steps[i : i + 1] for i in range(len(steps)))

    def saved(self, step: bytes) -> bool:
        """Whether the child said ``step`` (or ended: then this process compiles)."""
        self.hear()
        return step in self.said or self.gone


_lock = threading.Lock()
_early: list[_Child] = []  # the CLI's child, if it started one
_meanwhile: list[Callable[[], object]] = []  # work for this process's wait (while_compiling)
_pending: dict[tuple[Any, ...], _Child] = {}  # event children, until their metrics
_waiting: list[_Child] = []  # event children whose run_one_nb this process waits for
_started: list[_Child] = []  # every child, stopped (or left to finish) at exit
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


def start_background() -> None:
    """With a cold numba cache, start the CLI's child now, before the study is read:
    it imports numba and the engine meanwhile and compiles nothing until
    `compile_in_background` gives it the work (`stop_background` ends it)."""
    if not _early and not kernels_cached():
        child = _start(STUDY_MANY_TYPES, early=True, job=False)
        if child is not None:
            _early.append(child)
            _pause_gc()


def compile_in_background() -> None:
    """With a cold numba cache, have a child process compile the kernels a study needs
    now (call it early, for a study that backtests with the signal engine: the child
    then has a head start, and this process runs the composites' Python twins until
    the child has saved them)."""
    start_background()
    if _early and not _early[0].job_sent:
        _send(_early[0])


def stop_background() -> None:
    """The command will not backtest: the child `start_background` started ends
    without compiling anything."""
    if _early and not _early[0].job_sent:
        child = _early.pop()
        if child.proc.stdin is not None:
            child.proc.stdin.close()  # no work: it reads an empty job and ends
        _resume_gc()


def composite(kernel: Dispatcher, args: tuple[Any, ...]) -> Callable[..., Any]:
    """``kernel`` (`run_many_nb`, `run_one_nb` or `eval_signals_nb`) to call with
    ``args``, or its Python twin while the CLI's child compiles it for these types."""
    if not _early or _early[0].saved(_SAVED[kernel]):
        _resume_gc()  # no twin: this process may compile the kernel itself
        return kernel
    child = _early[0]
    if tuple(numba.typeof(a) for a in args) != _TWIN_TYPES[kernel](child.many):  # type: ignore[no-untyped-call]
        _resume_gc()
        return kernel
    _compile_beside_early(child, metrics=kernel is not eval_signals_nb)
    return TWINS[kernel]


def while_compiling(work: Callable[[], object]) -> None:
    """Have this process run ``work`` in a cold start beside the CLI's child, once it
    has compiled its share of the kernels and before the twins wait for the child's
    metrics kernels (it would otherwise be idle then, or do it after the search, when
    the child compiles only for the next process); else never. For work it would do
    later anyway (a slow import): a failure is ignored."""
    if work not in _meanwhile:
        _meanwhile.append(work)


# The argument types a composite gets for a study whose run_many_nb types are given.
_TWIN_TYPES: dict[Dispatcher, Callable[[tuple[Any, ...]], tuple[Any, ...]]] = {
    run_many_nb: lambda many: many,
    run_one_nb: one_candidate_types,
    eval_signals_nb: lambda many: batch_callee_types(many)["eval_signals_nb"],
}


def wait_for_background() -> None:
    """Wait for the children compiling `run_one_nb` on numba's compile event, if any
    run (call before using it)."""
    with _lock:
        children = list(_waiting)
        _waiting.clear()
    for child in children:
        # until run_one_nb is saved (the child may go on with kernels needed later)
        child.hear(until=ONE_SAVED, timeout=None)


def _start(many_args: tuple[Any, ...], *, early: bool, job: bool = True) -> _Child | None:
    if os.environ.get(ENV, "1") == "0" or not sys.executable or run_one_nb.signatures:
        return None
    one = one_candidate_types(many_args)
    with _lock:
        if one in _sent:  # a child compiles (or compiled) these already
            return None
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", _CHILD],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env={**os.environ, ENV: "0"},
            )
        except OSError:  # no child: this process compiles what it needs
            return None
        child = _Child(proc, many_args, early)
        _sent.add(one)
        _started.append(child)
        if not early:
            _waiting.append(child)
            _pending[many_args] = child
    if job:
        _send(child)
    return child


def _send(child: _Child) -> None:
    """Give the child its work: the types and whether it is the CLI's early child."""
    child.job_sent = True
    assert child.proc.stdin is not None
    with child.proc.stdin:
        child.proc.stdin.write(pickle.dumps((child.many, child.early)))


def _compile_callees(many_args: tuple[Any, ...]) -> None:
    callees = batch_callee_types(many_args)
    fill_codes_range_nb.compile(callees["fill_codes_range_nb"])
    simulate_range_nb.compile(callees["simulate_range_nb"])


def _compile_beside_early(child: _Child, *, metrics: bool) -> None:
    """This process's share of the early child's cold start (see the module
    docstring), then, for a twin that calls the metrics kernels, the wait for them."""
    if not child.beside:
        child.beside = True
        _compile_callees(child.many)
        _resume_gc()
        # Before the twins run, whether or not the child is done: this process's share
        # of the work before the search, and the work that would otherwise come after
        # it, add up to about what the child has (see SMALL_TYPES).
        while _meanwhile:
            with contextlib.suppress(Exception):  # done again (and reported) when needed
                _meanwhile.pop(0)()
    if metrics:
        child.hear(until=METRICS_SAVED, timeout=_METRICS_WAIT_S)


def _compile_beside_child(many_args: tuple[Any, ...]) -> None:
    """With an event child compiling the metrics kernels, compile the rest of
    `run_many_nb`'s callees here, then wait for the child's metrics (see the module
    docstring)."""
    with _lock:
        child = _pending.pop(many_args, None)
    if child is None:
        return
    _compile_callees(many_args)
    eval_signals_nb.compile(batch_callee_types(many_args)["eval_signals_nb"])
    child.hear(until=METRICS_SAVED, timeout=_METRICS_WAIT_S)


def _pause_gc() -> None:
    """No cyclic garbage collection in this process until `_resume_gc`: from the early
    child's start until this process has compiled its share (`_compile_beside_early`).
    The imports and numba's compiles grow the heap all along, so full collections came
    every second or so (~0.5 s of this process's share of a cold start, with the
    ones after it); the cycles they would have freed meanwhile are freed at a later
    one. A timer resumes it if the command never gets that far."""
    global _gc_paused
    with _lock:
        if not gc.isenabled() or _gc_paused:
            return
        gc.disable()
        _gc_paused = True
        timer = threading.Timer(_GC_PAUSE_MAX_S, _resume_gc, kwargs={"freeze": False})
        timer.daemon = True
        _gc_timer[:] = [timer]
    timer.start()


def _resume_gc(*, freeze: bool = True) -> None:
    """The collector back on after `_pause_gc`; inside an operation's frozen heap,
    with what survived the pause frozen too (`freeze_alive`), unless ``freeze`` is
    false (the timer's resume: what a long pause left is collected, not kept)."""
    global _gc_paused
    with _lock:
        for timer in _gc_timer:
            timer.cancel()
        _gc_timer.clear()
        if _gc_paused:
            _gc_paused = False
            if freeze:
                freeze_alive()
            gc.enable()


_gc_paused = False  # `_pause_gc` turned the collector off
_gc_timer: list[threading.Timer] = []  # its timer, until `_resume_gc`
_GC_PAUSE_MAX_S = 30.0


def _stop_children() -> None:
    # A process that ends before its child leaves no compile running, unless it is the
    # CLI's child past the metrics: it only compiles for the next process, and is left
    # to finish (numba writes a cache file to a temporary name and renames it: a
    # killed compile leaves none).
    for child in _started:
        child.hear()
        if not (child.early and METRICS_SAVED in child.said) and child.proc.poll() is None:
            child.proc.kill()
            child.proc.wait()
        if child.proc.stdout is not None:
            child.proc.stdout.close()


class _OnManyCompile(event.Listener):
    def on_start(self, ev: event.Event) -> None:
        data = ev.data
        if isinstance(data, dict) and data.get("dispatcher") is run_many_nb:
            _start(tuple(data["args"]), early=False)
            _compile_beside_child(tuple(data["args"]))

    def on_end(self, ev: event.Event) -> None:
        pass


event.register("numba:compile", _OnManyCompile())  # type: ignore[no-untyped-call]
atexit.register(_stop_children)

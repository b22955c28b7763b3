"""The child process of `stratopt.engine._background`: compile, save to numba's cache,
tell the parent on stdout (one byte per step), exit.

A module of its own, so that the parent does not import what only the child needs.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys

from numba.core import types

from stratopt.engine._background import (
    MANY_SAVED,
    METRICS_SAVED,
    ONE_SAVED,
    PATHS_TYPES,
    SIGNALS_SAVED,
    SMALL_TYPES,
    batch_callee_types,
    one_candidate_types,
)
from stratopt.engine._nb import eval_signals_nb, run_many_nb, run_one_nb
from stratopt.metrics.nb import (
    metrics_chunk_nb,
    metrics_finish_nb,
    tail_by_value_nb,
    tail_split_nb,
)
from stratopt.stats.nb import log_ndtr_nb, paths_nb

__all__ = ["compile_from_stdin"]


def compile_from_stdin() -> None:
    """Compile for the pickled ``(run_many_nb argument types, early)`` on stdin.

    The metrics kernels first: the parent waits for them (it compiles the other work
    kernels meanwhile). For the CLI's early child, the small kernels the parent's
    twins call (`SMALL_TYPES`) and the TPE's `log_ndtr_nb` before it says they are
    saved; then `paths_nb` (the report's Monte Carlo, about a second after the search
    starts: loaded from the cache then, unless the parent got there first and compiled
    it too), the tail fallback's kernels (which a study rarely needs: the twin compiles
    them if it does) and the composites the parent runs as Python twins meanwhile, for
    the next process: `run_many_nb`, `run_one_nb` and `eval_signals_nb`. A child started on
    `run_many_nb`'s compile event compiles the tail kernels before it says the metrics
    are saved (the parent then compiles `run_many_nb`, which calls them), then
    `run_one_nb` (the parent's `wait_for_background` waits for it), then `paths_nb`.
    """
    job = sys.stdin.buffer.read()
    if not job:  # the parent's command needs no kernels after all
        return
    many, early = pickle.loads(job)
    one = one_candidate_types(many)
    vec, f8, i8, ppy = types.float64[::1], types.float64, types.int64, one[8]
    metrics_chunk_nb.compile((vec, f8, i8, i8, vec, vec, vec, vec))
    metrics_finish_nb.compile((i8, f8, f8, i8, vec, ppy, vec, vec, vec, vec))
    if early:
        for kernel, sig in SMALL_TYPES:
            kernel.compile(sig)
        # the TPE's log Φ, as `stratopt.search._compiled_truncnorm` calls it at its first
        # fit, a few batches into the search: loaded from the cache then
        log_ndtr_nb.compile((types.float64[::1],))
    else:
        _compile_tails()
    _tell(METRICS_SAVED)
    if early:
        paths_nb.compile(PATHS_TYPES)
        _compile_tails()
        run_many_nb.compile(many)
        _tell(MANY_SAVED)
    run_one_nb.compile(one)
    _tell(ONE_SAVED)
    if early:
        eval_signals_nb.compile(batch_callee_types(many)["eval_signals_nb"])
        _tell(SIGNALS_SAVED)
    paths_nb.compile(PATHS_TYPES)


def _compile_tails() -> None:
    """`run_many_nb`'s tail fallback kernels, for the types it calls them with."""
    vec, i8, ivec = types.float64[::1], types.int64, types.int64[::1]
    tail_split_nb.compile((vec, i8, vec, vec, ivec))
    tail_by_value_nb.compile((vec, ivec, i8, vec, vec))


def _tell(step: bytes) -> None:
    # OSError: the parent has ended; the compiles are for the next process
    with contextlib.suppress(OSError):
        os.write(sys.stdout.fileno(), step)

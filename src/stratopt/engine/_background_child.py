"""The child process of `stratopt.engine._background`: compile, save to numba's cache,
tell the parent on stdout (one byte per step), exit.

A module of its own, so that the parent does not import what only the child compiles
(the statistics kernels).
"""

from __future__ import annotations

import pickle
import sys

from numba.core import types

from stratopt.engine._background import METRICS_SAVED, ONE_SAVED
from stratopt.engine._nb import run_one_nb
from stratopt.metrics.nb import (
    metrics_chunk_nb,
    metrics_finish_nb,
    tail_by_value_nb,
    tail_split_nb,
)
from stratopt.stats.nb import paths_nb

__all__ = ["compile_from_stdin"]


def compile_from_stdin() -> None:
    """Compile `run_one_nb` for the pickled argument types on stdin, and around it what
    the parent would otherwise compile itself.

    The metrics kernels first: the parent waits for them in `run_many_nb`'s compile
    (it compiles the rest of that tree meanwhile). Then `run_one_nb` (the parent's
    `wait_for_background` waits for it). Last `paths_nb` for the Monte Carlo of a
    study's best candidate, which the parent needs after both (loaded from the cache
    if this process saved it in time, else compiled there too).
    """
    one = pickle.loads(sys.stdin.buffer.read())
    vec, f8, i8, ppy = types.float64[::1], types.float64, types.int64, one[8]
    metrics_chunk_nb.compile((vec, f8, i8, i8, vec, vec, vec, vec))
    metrics_finish_nb.compile((i8, f8, f8, i8, vec, ppy, vec, vec, vec, vec))
    ivec = types.int64[::1]
    tail_split_nb.compile((vec, i8, vec, vec, ivec))  # run_many_nb's tail fallback
    tail_by_value_nb.compile((vec, ivec, i8, vec, vec))
    _tell(METRICS_SAVED)
    run_one_nb.compile(one)
    _tell(ONE_SAVED)
    paths_nb.compile((vec, types.int64[:, ::1], f8, types.boolean, types.float64[:, ::1]))


def _tell(step: bytes) -> None:
    sys.stdout.buffer.write(step)
    sys.stdout.buffer.flush()

"""Atomic counters for the kernels: threads that share one claim work item by item.

Several threads running one nogil kernel over the same candidates take the next
candidates from a shared int64 counter (`claim_nb`, an atomic fetch-and-add) and count
those they finished in another, so none waits for another while work is left: a
thread that starts late (a busy core, a slow wake-up) takes fewer. The counters only
say who computes a candidate; what is computed is the same.
"""

from __future__ import annotations

import threading
from typing import Any

from numba import types
from numba.extending import intrinsic

from stratopt._njit import JIT_DISABLED

__all__ = ["claim_nb"]


@intrinsic  # type: ignore[misc]
def claim_nb(typingctx: Any, counters: Any, i: Any, step: Any) -> Any:
    """``counters[i]`` before adding ``step`` to it, atomically (``counters`` an int64
    array, C-contiguous and 1-D; ``0 <= i < len(counters)``, not checked): the first
    of the ``step`` items this thread takes. The writes before it are seen by a
    thread whose own `claim_nb` on ``counters[i]`` sees the sum (acquire and release)."""
    if not (
        isinstance(counters, types.Array)
        and counters.ndim == 1
        and counters.layout == "C"
        and counters.dtype == types.int64
    ):
        return None
    if not (isinstance(i, types.Integer) and isinstance(step, types.Integer)):
        return None
    sig = types.int64(counters, types.int64, types.int64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        index = context.cast(builder, args[1], signature.args[1], types.int64)
        step_value = context.cast(builder, args[2], signature.args[2], types.int64)
        return builder.atomic_rmw("add", builder.gep(data, [index]), step_value, "acq_rel")

    return sig, codegen


_CLAIM_LOCK = threading.Lock()


def _claim_py(counters: Any, i: int, step: int) -> int:
    """`claim_nb` in Python (the lock makes it atomic for Python threads)."""
    with _CLAIM_LOCK:
        first = int(counters[i])
        counters[i] = first + step
    return first


# NUMBA_DISABLE_JIT=1 runs the kernels as Python, which cannot call an intrinsic: they
# call its Python equivalent then (chosen at import; compiled kernels never see it).
if JIT_DISABLED:
    claim_nb = _claim_py  # type: ignore[assignment]

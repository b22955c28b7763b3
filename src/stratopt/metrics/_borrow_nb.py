"""Borrowed views: arrays without reference counting, for the kernels' hot loops.

Every slice numba takes of an array, and every array a compiled function receives,
takes a reference on the array's memory (numba's NRT): an atomic increment, and a
decrement when it is dropped. An atomic is a full barrier on x86 (the core drains its
pending stores first), and the engine's per-chunk kernels slice and pass their arrays
thousands of times per candidate (a run of bars between two signals, a segment of
returns, each call of a chunk kernel). A borrowed view is the same array (data, shape
and strides) without the pointer to its memory's owner, so numba's reference counting
skips it, and slices of it too: `stratopt.engine`'s many-candidates kernel took 2-7 %
less time with its arrays borrowed (benchmarks/README.md, session 13). A borrowed view
must not outlive the array it was taken from, and must not be returned to Python.

From Python, `borrowed` is the identity (the Python twins of the composite kernels call
it as well).
"""

from __future__ import annotations

from typing import Any, TypeVar

from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

__all__ = ["borrowed"]

T = TypeVar("T")


def borrowed(a: T) -> T:
    """``a`` itself; in compiled code, its view without reference counting."""
    return a


@intrinsic  # type: ignore[misc]
def _borrowed_view(typingctx: Any, a: Any) -> Any:
    if not isinstance(a, types.Array):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        # a copy of the array's struct (the argument's own value is not changed)
        view = context.make_array(signature.args[0])(context, builder, value=args[0])
        view.meminfo = ir.Constant(view.meminfo.type, None)
        view.parent = ir.Constant(view.parent.type, None)
        return view._getvalue()

    return a(a), codegen


@overload(borrowed, inline="always")  # type: ignore[misc]
def _borrowed_overload(a):  # type: ignore[no-untyped-def]  # numba compares the signatures
    if isinstance(a, types.Array):
        return lambda a: _borrowed_view(a)  # type: ignore[call-arg]  # an intrinsic
    return None

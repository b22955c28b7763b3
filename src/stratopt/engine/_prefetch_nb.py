"""A cache-line prefetch for the engine's kernels.

With ``fill: next_open`` a signal at bar j fills at ``open[j + 1]``. The simulation
reads the opens nowhere else, so each of those reads is a cache miss on a long series
(the series is tens of MB; the chunk's closes, which it reads bar by bar, are in
cache), and the fill's arithmetic and branches wait for it: on 1M bars with a signal
every ~90 bars, the misses took half the simulation's time. `prefetch_nb` asks for the
line early and returns at once (``llvm.prefetch``, a hint: it reads nothing into the
program and changes no result), so the chunk's fills can be fetched all together
before the simulation gets to them.
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from stratopt._njit import JIT_DISABLED

__all__ = ["prefetch_nb"]


@intrinsic  # type: ignore[misc]
def prefetch_nb(typingctx: Any, arr: Any, i: Any) -> Any:
    """Prefetch the cache line of ``arr[i]`` (a contiguous 1-D array; ``0 <= i <
    len(arr)``, not checked: a prefetch of any address is harmless, but keep it
    inside) into every cache level, for reading."""
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and arr.layout == "C"):
        return None
    if not isinstance(i, types.Integer):
        return None
    sig = types.void(arr, types.int64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        byte_ptr = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        address = builder.bitcast(builder.gep(data, [args[1]]), byte_ptr)
        fnty = ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32])
        module = builder.module
        name = "llvm.prefetch.p0"
        fn = module.globals.get(name) or ir.Function(module, fnty, name=name)
        # read (0), keep in all levels (locality 3), data cache (1)
        builder.call(fn, [address, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


def _prefetch_py(arr: Any, i: int) -> None:
    """`prefetch_nb` in Python: nothing (a prefetch is only a hint)."""


# NUMBA_DISABLE_JIT=1 runs the kernels as Python, which cannot call an intrinsic: they
# call its Python equivalent then (chosen at import; compiled kernels never see it).
if JIT_DISABLED:
    prefetch_nb = _prefetch_py  # type: ignore[assignment]

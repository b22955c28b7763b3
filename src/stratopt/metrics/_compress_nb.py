"""Vector compaction for the metrics kernels: the flagged ones of 8 returns, stored in
one instruction.

`stratopt.metrics._nb` keeps the returns outside its band (about a third of them) and,
at the end, the quantile candidates among those: both are compactions, "append
``r[t]`` to ``dest`` where ``flags[t]``". Written as a scalar loop
(``dest[m] = r[t]; m += flags[t]``) it runs at one return per cycle at best: ``m`` is a
chain through every iteration, and it was a third of the engine's metrics pass. LLVM
does not vectorise that loop, but it has an intrinsic for it,
``llvm.experimental.vector.compress``: on AVX-512 it is one ``vcompresspd`` per 8
returns (about 3x faster here); elsewhere LLVM expands it lane by lane, which is slower
than the scalar loop. So `VECTOR_COMPRESS` says whether the CPU numba
compiles for has AVX-512, and the kernels take the vector path only then. Either way
the values stored and their order are the same (a compaction moves values, it
computes nothing).
"""

from __future__ import annotations

from typing import Any

import llvmlite.binding as llvm_binding
from llvmlite import ir
from numba import types
from numba.core import config
from numba.extending import intrinsic

from stratopt._njit import JIT_DISABLED

__all__ = ["LANES", "VECTOR_COMPRESS", "compress_store8"]

LANES = 8  # returns per compress_store8


def _target_has_avx512() -> bool:
    """Whether numba's target CPU (the host, unless NUMBA_CPU_NAME/FEATURES say
    otherwise) has AVX-512F."""
    name = getattr(config, "CPU_NAME", None)
    features = getattr(config, "CPU_FEATURES", None)
    if name is None and not features:  # the host, as numba compiles for it by default
        features = llvm_binding.get_host_cpu_features().flatten()
    return "+avx512f" in str(features or "").split(",")


VECTOR_COMPRESS = _target_has_avx512()


@intrinsic  # type: ignore[misc]
def compress_store8(typingctx: Any, src: Any, t: Any, flags: Any, dest: Any, m: Any) -> Any:
    """``dest[m:]`` receives, in order, those of ``src[t:t + 8]`` whose ``flags`` (uint8,
    0 or 1) are set; returns ``m`` plus their number.

    ``src``, ``flags`` and ``dest`` are contiguous 1-D arrays (float64, uint8, float64);
    ``t + 8 <= len(src)`` and ``m + 8 <= len(dest)`` (not checked here): all 8 slots
    ``dest[m:m + 8]`` are written, those past the flagged values with don't-care
    values. ``dest`` may be ``src``'s own memory at or before ``src[t]``: the 8 values
    are read before anything is written.
    """
    arrays_ok = (
        isinstance(src, types.Array)
        and isinstance(flags, types.Array)
        and isinstance(dest, types.Array)
        and src.dtype == types.float64
        and dest.dtype == types.float64
        and flags.dtype == types.uint8
        and all(a.ndim == 1 and a.layout == "C" for a in (src, flags, dest))
    )
    if not (arrays_ok and isinstance(t, types.Integer) and isinstance(m, types.Integer)):
        return None
    sig = types.int64(src, types.int64, flags, dest, types.int64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        src_v, t_v, flags_v, dest_v, m_v = args
        src_a = context.make_array(signature.args[0])(context, builder, src_v)
        flags_a = context.make_array(signature.args[2])(context, builder, flags_v)
        dest_a = context.make_array(signature.args[3])(context, builder, dest_v)
        f64 = ir.DoubleType()
        i1 = ir.IntType(1)
        i8 = ir.IntType(8)
        i64 = ir.IntType(64)
        vec = ir.VectorType(f64, LANES)
        bytes8 = ir.VectorType(i8, LANES)
        values = builder.load(
            builder.bitcast(builder.gep(src_a.data, [t_v]), vec.as_pointer()), align=8
        )
        flag_bytes = builder.load(
            builder.bitcast(builder.gep(flags_a.data, [t_v]), bytes8.as_pointer()), align=1
        )
        mask = builder.icmp_unsigned("!=", flag_bytes, ir.Constant(bytes8, [0] * LANES))
        # compressed into a register, then one plain store of all 8 lanes (the lanes
        # past the flagged ones are don't-care): faster than the store form of
        # vcompresspd (llvm.masked.compressstore), 0.06-0.09 against 0.10 ns a return
        module = builder.module
        compress_ty = ir.FunctionType(vec, [vec, ir.VectorType(i1, LANES), vec])
        compress = _declared(module, compress_ty, "llvm.experimental.vector.compress.v8f64")
        packed = builder.call(compress, [values, mask, ir.Constant(vec, ir.Undefined)])
        builder.store(
            packed, builder.bitcast(builder.gep(dest_a.data, [m_v]), vec.as_pointer()), align=8
        )
        popcount = _declared(module, ir.FunctionType(i8, [i8]), "llvm.ctpop.i8")
        count = builder.call(popcount, [builder.bitcast(mask, i8)])
        return builder.add(m_v, builder.zext(count, i64))

    return sig, codegen


def _compress_store8_py(src: Any, t: int, flags: Any, dest: Any, m: int) -> int:
    """`compress_store8` in Python (only the flagged values' slots are written)."""
    kept = src[t : t + LANES][flags[t : t + LANES] != 0]  # a copy: read before written
    dest[m : m + len(kept)] = kept
    return m + len(kept)


# NUMBA_DISABLE_JIT=1 runs the kernels as Python, which cannot call an intrinsic: they
# call its Python equivalent then (chosen at import; compiled kernels never see it).
if JIT_DISABLED:
    compress_store8 = _compress_store8_py  # type: ignore[assignment]


def _declared(module: Any, fnty: Any, name: str) -> Any:
    """The LLVM function ``name`` of ``module``, declared if it is not yet."""
    existing = module.globals.get(name)
    return existing if existing is not None else ir.Function(module, fnty, name=name)

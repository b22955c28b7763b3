"""Kernels compiled without a CPython wrapper (``no_cpython_wrapper=True``: numba
generates no entry point for Python, a cold start compiles less) must be called only
by other kernels: a call from Python would jump to a null entry point. The composites'
Python twins (engine/_twins.py) call kernels from Python in a cold start, so none of
the kernels they reach may be one."""

from __future__ import annotations

from numba.core.dispatcher import Dispatcher

from stratopt.engine import _nb
from stratopt.engine._twins import TWINS
from stratopt.metrics import _chunk_long_nb
from stratopt.metrics import _nb as metrics_nb
from stratopt.strategies import _indicators_nb


def _called_from_python(kernel: Dispatcher, seen: set[Dispatcher]) -> set[Dispatcher]:
    """The compiled kernels ``kernel``'s Python twin calls through their dispatchers:
    its callees, and those of the callees it inlines (twinned in turn)."""
    out: set[Dispatcher] = set()
    body = kernel.py_func
    for name in body.__code__.co_names:
        callee = body.__globals__.get(name)
        if not isinstance(callee, Dispatcher) or callee in seen:
            continue
        seen.add(callee)
        if callee.targetoptions.get("inline") == "always":
            out |= _called_from_python(callee, seen)
        else:
            out.add(callee)
    return out


def _without_wrapper(*modules: object) -> set[Dispatcher]:
    return {
        v
        for m in modules
        for v in vars(m).values()
        if isinstance(v, Dispatcher) and v.targetoptions.get("no_cpython_wrapper")
    }


def test_twins_call_no_kernel_without_a_python_entry() -> None:
    called: set[Dispatcher] = set()
    for composite in TWINS:
        called |= _called_from_python(composite, set())
    assert _nb.simulate_range_nb in called  # the walk finds the twins' kernels
    bare = _without_wrapper(_nb, metrics_nb, _chunk_long_nb, _indicators_nb)
    assert {_nb._close, _nb._fill_nb} <= bare
    assert not {k.py_func.__name__ for k in called & bare}

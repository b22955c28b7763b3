"""`njit` for the project's kernels: numba's, without the wrappers they do not use.

Numba builds two wrappers around every function it compiles, and optimizes and
generates machine code for them: a CPython entry point (for calls from Python) and a
C-callable one (for passing the kernel as a function pointer, which nothing here
does). In a cold start each is a slice of the compile (both: ~3 % of the four work
kernels', measured in benchmarks/README.md, session 19), and neither is on the path
of a kernel's call to another (that calls the native function). This `njit` never
builds the C-callable one, and with
``called_from_python=False`` (a kernel only other kernels call) not the CPython one
either: a call from Python would then jump to a null entry point
(tests/engine/test_kernel_wrappers.py checks that the composites' Python twins reach
no such kernel).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numba

if TYPE_CHECKING:
    from numba.core.dispatcher import Dispatcher

__all__ = ["JIT_DISABLED", "njit"]

_F = TypeVar("_F", bound=Callable[..., object])

# numba's switch for debugging kernels as Python (``NUMBA_DISABLE_JIT=1``): each kernel
# is then its plain function, and an intrinsic it calls needs a Python equivalent.
JIT_DISABLED: bool = bool(numba.config.DISABLE_JIT)  # type: ignore[attr-defined]


def njit(*, called_from_python: bool = True, **options: Any) -> Callable[[_F], Dispatcher[_F]]:
    """`numba.njit(**options)` without the C-callable wrapper, and without the CPython
    one unless ``called_from_python`` (see the module docstring)."""
    options["no_cfunc_wrapper"] = True
    if not called_from_python:
        options["no_cpython_wrapper"] = True
    wrap: Callable[[_F], Dispatcher[_F]] = numba.njit(**options)
    return wrap

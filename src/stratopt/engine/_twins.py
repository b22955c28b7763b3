"""Python twins of the engine's composite kernels, for a cold start.

`run_many_nb`, `run_one_nb` and `eval_signals_nb` do little themselves: they loop over
candidates and chunks and call the kernels that do the work (`fill_codes_range_nb`,
`simulate_range_nb`, `metrics_chunk_nb`, `metrics_finish_nb`, ...). Compiling one of
them costs numba a second optimization and machine code of everything it calls (1.5-2 s
each on this project's machine), so with a cold cache a background child compiles them
for the next process (`_background`) while this one runs their Python bodies: each
``py_func``, calling the same compiled kernels through their dispatchers. The callees
a composite inlines (``inline="always"``: `batch_metrics_nb`, `new_work_nb`,
`simulate_nb`, `compute_metrics_nb`) are twinned the same way, so that no composite is
compiled. The results are bit for bit those of the compiled composites: the same
compiled kernels do all the arithmetic in the same order (the Python glue only
allocates, slices and counts, with no floating-point operation), and numba compiles
without fast-math flags that could let a kernel's code depend on its caller, except
the metrics' reductions, whose loops are compiled alike wherever they are inlined
(the tests compare every twin with its composite on the same candidates).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any, cast

from numba.core.dispatcher import Dispatcher

from stratopt.engine._nb import eval_signals_nb, run_many_nb, run_one_nb

__all__ = ["TWINS", "python_twin"]


def python_twin(kernel: Dispatcher) -> Callable[..., Any]:
    """The Python body of a compiled ``kernel``, calling its compiled callees, with the
    callees it inlines replaced by their own twins."""
    # with NUMBA_DISABLE_JIT=1 a kernel is its plain function (no py_func)
    body = cast(types.FunctionType, getattr(kernel, "py_func", kernel))
    names = dict(body.__globals__)
    for name in body.__code__.co_names:
        callee = names.get(name)
        if isinstance(callee, Dispatcher) and callee.targetoptions.get("inline") == "always":
            names[name] = python_twin(callee)
    twin = types.FunctionType(body.__code__, names, body.__name__, body.__defaults__)
    twin.__doc__ = f"Python twin of `{body.__name__}` (see stratopt.engine._twins)."
    return twin


# The composites a cold start runs as twins, by kernel.
TWINS: dict[Dispatcher, Callable[..., Any]] = {
    k: python_twin(k) for k in (run_many_nb, run_one_nb, eval_signals_nb)
}

"""The grid kernels compile each callee once, not once per constant it is passed.

Numba types a constant argument of a call between compiled functions as a literal and
compiles the callee again for each literal value: ``record=True`` and ``record=False``
made two copies of the whole simulation, and the exit reasons more (a hedge grid's
first run compiled for about a minute). The kernels pass such values through
``np.int64``/``np.bool_``. Compiling to look at the signatures takes half a minute, so
this reads the source instead: no call to a separately compiled kernel may pass a
constant, a module-level constant or a variable last set from a constant.
"""

from __future__ import annotations

import ast
import inspect

import stratopt.engine._grid_nb as grid_nb


def _decorator_kwargs(fn: ast.FunctionDef) -> dict[str, ast.expr] | None:
    for dec in fn.decorator_list:
        if isinstance(dec, ast.Call) and getattr(dec.func, "id", None) == "njit":
            return {k.arg: k.value for k in dec.keywords if k.arg}
    return None


def _constants(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _set_from_constants(fn: ast.FunctionDef, constants: set[str]) -> set[str]:
    """Local names whose every assignment is a constant (they stay literal for numba)."""
    plain: dict[str, bool] = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign):
            is_const = isinstance(node.value, ast.Constant) or (
                isinstance(node.value, ast.Name) and node.value.id in constants
            )
            for t in node.targets:
                if isinstance(t, ast.Name):
                    plain[t.id] = plain.get(t.id, True) and is_const
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            # `i += 1` after `i = 0`: numba still types the first use of i as a literal
            plain.setdefault(node.target.id, True)
    return {name for name, const in plain.items() if const}


def literal_arguments(source: str) -> list[str]:
    tree = ast.parse(source)
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    separate = set()
    for name, fn in functions.items():
        kw = _decorator_kwargs(fn)
        inline = kw.get("inline") if kw is not None else None
        if kw is not None and not (isinstance(inline, ast.Constant) and inline.value == "always"):
            separate.add(name)
    constants = _constants(tree)
    found = []
    for caller in functions.values():
        if _decorator_kwargs(caller) is None:
            continue
        literal_locals = _set_from_constants(caller, constants)
        for node in ast.walk(caller):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in separate):
                continue
            for pos, arg in enumerate(node.args):
                if isinstance(arg, ast.Constant) or (
                    isinstance(arg, ast.Name) and arg.id in constants | literal_locals
                ):
                    callee = ast.unparse(node.func)
                    found.append(f"{caller.name} -> {callee}(arg {pos}: {ast.unparse(arg)})")
    return found


def test_no_grid_kernel_passes_a_literal_to_a_separately_compiled_kernel() -> None:
    assert literal_arguments(inspect.getsource(grid_nb)) == []


def test_the_check_sees_each_kind_of_literal_argument() -> None:
    source = """
R = 2
@njit(cache=True)
def callee(a, b):
    return a
@njit(cache=True, inline="always")
def inlined(a, b):
    return a
@njit(cache=True)
def caller(x):
    i = 0
    while i < 3:
        callee(i, x)
        i += 1
    callee(x, True)
    callee(R, x)
    inlined(x, False)
    callee(np.int64(R), np.bool_(True))
"""
    assert sorted(literal_arguments(source)) == [
        "caller -> callee(arg 0: R)",
        "caller -> callee(arg 0: i)",
        "caller -> callee(arg 1: True)",
    ]

"""Size limits of the library's code (src/): small modules, short functions.

No module over `MAX_MODULE_LINES` lines and no function over `MAX_FUNCTION_LINES` lines,
its docstring not counted; compiled `*_nb.py` kernels are exempt (a kernel loop is one
function by design). Ruff enforces the rest: C901 (complexity 12) and PLR0913.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return [p for p in sorted((SRC / "stratopt").rglob("*.py")) if not p.name.endswith("_nb.py")]


def _length(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from `def` to the end, without the docstring."""
    n = (node.end_lineno or node.lineno) - node.lineno + 1
    first = node.body[0]
    docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    if docstring and isinstance(first.value.value, str):  # type: ignore[attr-defined]
        n -= (first.end_lineno or first.lineno) - first.lineno + 1
    return n


def test_no_module_is_longer_than_the_limit() -> None:
    long = [
        f"{p.relative_to(SRC.parent)}: {n} lines"
        for p in _modules()
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split them):\n" + "\n".join(long)


def test_no_function_is_longer_than_the_limit() -> None:
    long = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = _length(node)
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(SRC.parent)}:{node.lineno}: {node.name}, {n}")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long)

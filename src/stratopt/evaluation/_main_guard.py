"""Worker processes re-run the user's script: refuse to start them from unguarded code.

Worker processes are spawned (numba's threads forbid fork), and a spawned child imports
the parent's `__main__` script again. A script that calls `optimize(..., jobs=2)` at its
top level, outside `if __name__ == "__main__":`, makes every child start the same run,
fail during its bootstrap, and die; the pool starts another, and the parent waits
forever. The call's line is checked against the script's guard blocks before any
process starts.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from types import FrameType

from stratopt.errors import ConfigError

__all__ = ["check_main_guard"]


def check_main_guard(option: str) -> None:
    """ConfigError naming `option` when this call comes from the top level of a script
    that has no `if __name__ == "__main__":` around it."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    spec = getattr(main, "__spec__", None)
    if spec is not None and (spec.name == "__main__" or spec.name.endswith(".__main__")):
        return  # `python -m package`: multiprocessing does not run it again
    frame = _module_frame(getattr(main, "__dict__", None))
    if path is None or frame is None:  # an interactive session, a notebook, python -c
        return
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return
    line = frame.f_lineno
    if any(start <= line <= end for start, end in _guarded(tree)):
        return
    raise ConfigError(
        f"{option}: worker processes re-run {Path(path).name} from its first line, so this "
        f"call (line {line}) would start again in each of them and the run would never "
        'end; put it under `if __name__ == "__main__":` (see the README example)'
    )


def _module_frame(namespace: object) -> FrameType | None:
    """The frame running the `__main__` script's top-level code, if it is on the stack."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_globals is namespace and frame.f_code.co_name == "<module>":
            return frame
        frame = frame.f_back
    return None


def _guarded(tree: ast.Module) -> list[tuple[int, int]]:
    """Line ranges of `if __name__ == "__main__":` blocks."""
    ranges = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_main_test(node.test):
            ranges.append((node.lineno, node.end_lineno or node.lineno))
    return ranges


def _is_main_test(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.comparators) == 1):
        return False
    sides = [test.left, test.comparators[0]]
    names = {s.id for s in sides if isinstance(s, ast.Name)}
    texts = {s.value for s in sides if isinstance(s, ast.Constant)}
    return names == {"__name__"} and texts == {"__main__"}

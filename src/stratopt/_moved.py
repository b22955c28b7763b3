"""Lazy forwards for names that moved to another package.

A package that lost a public name keeps it importable for one minor release: its
module `__getattr__` calls `forward`, which imports the new home only when the old name
is used (so the move adds no import, and no cycle, to the old package) and warns with a
`FutureWarning` naming the new import. The forwards go away in stratopt 0.3.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping
from typing import Any

__all__ = ["forward"]

REMOVED_IN = "0.3"


def forward(package: str, moved: Mapping[str, str], name: str) -> Any:
    """`name` of `package`, now in module `moved[name]`; AttributeError if it never was."""
    home = moved.get(name)
    if home is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    warnings.warn(
        f"{package}.{name} moved to {home}.{name}; import it from there "
        f"(the old name goes away in stratopt {REMOVED_IN})",
        FutureWarning,
        stacklevel=3,
    )
    return getattr(importlib.import_module(home), name)

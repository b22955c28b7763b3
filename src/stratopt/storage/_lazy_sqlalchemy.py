"""SQLAlchemy for the storage modules, imported on first use.

Its import (~0.1 s) was part of every command's start, and an in-memory study never
needs it. ``sa`` stands for the ``sqlalchemy`` module: the first attribute read
imports it (Python caches it in ``sys.modules``: later reads are a dictionary lookup).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

__all__ = ["sa"]


class _OnFirstUse(ModuleType):
    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module(self.__name__), name)


if TYPE_CHECKING:
    import sqlalchemy as sa
else:
    sa = _OnFirstUse("sqlalchemy")

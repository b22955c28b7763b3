"""Everything a tool touches stays under the workspace root.

A path is resolved (symbolic links followed) and refused unless it lies under the root:
`..` and absolute paths elsewhere are errors, not surprises. A study (a file or an
inline spec) is checked the same way before anything runs: its data files, its output
folder and its storage; its strategy must be a built-in (a tool never loads code).
"""

from __future__ import annotations

import os
from pathlib import Path

from mcp.server.mcpserver.exceptions import ToolError

from stratopt.config import StudyConfig
from stratopt.storage import ENV_STORAGE, MEMORY_URLS
from stratopt.strategies import BUILTIN_STRATEGIES

__all__ = ["Workspace"]

_SQLITE = "sqlite:///"


class Workspace:
    """The root every path of every tool is confined to, and the operator's storage."""

    def __init__(self, root: Path, storage: str | None = None) -> None:
        self.root = root.resolve()
        self.storage = storage or os.environ.get(ENV_STORAGE) or None

    def path(self, text: str, field: str, *, exists: bool = True) -> Path:
        """`text` (relative to the root, or absolute under it) as an absolute path."""
        if not text or "\x00" in text:
            raise ToolError(f"{field}: {text!r} is not a path")
        given = Path(text)
        full = (given if given.is_absolute() else self.root / given).resolve()
        if not full.is_relative_to(self.root):
            raise ToolError(f"{field}: {text!r} is outside the workspace root {self.root}")
        if exists and not full.exists():
            raise ToolError(f"{field}: {text!r} does not exist under the workspace root")
        return full

    def show(self, path: Path | str) -> str:
        """`path` relative to the root (how results name files)."""
        full = Path(path).resolve()
        return str(full.relative_to(self.root)) if full.is_relative_to(self.root) else str(full)

    def storage_url(self, text: str | None, field: str) -> str:
        """An SQLite file under the root (`text`: its path), else the operator's storage,
        else `runs/stratopt.db` under the root."""
        if text is not None:
            return f"{_SQLITE}{self.path(text, field)}"
        if self.storage is not None:
            return self.storage
        return f"{_SQLITE}{self.root / 'runs' / 'stratopt.db'}"

    def sqlite_file(self, url: str) -> Path | None:
        """The file of an SQLite URL (None: another database)."""
        return Path(url[len(_SQLITE) :].partition("?")[0]) if url.startswith(_SQLITE) else None

    def check_study(self, cfg: StudyConfig, field: str) -> str:
        """Refuse a study reaching outside the root or loading code; its storage URL."""
        self.check_inputs(cfg, field)
        out = cfg.output_dir
        self.path(str(out), f"{field}.output", exists=False)
        if self.storage is not None:
            return self.storage
        if cfg.storage is None:
            return f"{_SQLITE}{(out / 'stratopt.db').resolve()}"
        return self._sqlite_under_root(cfg.storage, f"{field}.storage")

    def check_inputs(self, cfg: StudyConfig, field: str) -> None:
        """Refuse a study whose strategy is not a built-in or whose data is outside."""
        if cfg.strategy not in BUILTIN_STRATEGIES:
            known = ", ".join(BUILTIN_STRATEGIES)
            raise ToolError(
                f"{field}.strategy: {cfg.strategy!r} is not a built-in strategy "
                f"(tools run built-ins only: {known})"
            )
        for i, raw in enumerate(cfg.data.paths):
            if not raw.startswith("pkg://"):
                self.path(cfg.resolve_path(raw), f"{field}.data.path[{i}]")

    def _sqlite_under_root(self, url: str, field: str) -> str:
        if url in MEMORY_URLS or not url.startswith(_SQLITE):
            raise ToolError(
                f"{field}: {url!r} is not allowed here: a job needs an SQLite file under the "
                "workspace root (or leave it out)"
            )
        file = url[len(_SQLITE) :].partition("?")[0]
        return f"{_SQLITE}{self.path(file, field, exists=False)}"

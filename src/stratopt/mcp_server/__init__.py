"""`stratopt mcp`: optimize, walk-forward and the stored studies as tools for AI agents.

A Model Context Protocol server on the official SDK (the `mcp` extra). It sits beside
the CLI above `operations`, the one door to the layers below: each tool validates its
input, confines every path to the workspace root, and calls an operation. Long work
(optimize, walk-forward) runs as a job backed by its study in the storage, so a job is
started, polled (`job_status`), cancelled, and survives a restart of the server.

Where things are: `_settings` (`ServerSettings`: root, caps), `_workspace` (paths and
study files confined to the root), `_models` (the tools' pydantic inputs and outputs),
`_jobs` (the job registry), `_work` (what a job runs and how its result is made
compact), `_tools` (the tools), `_docs` (the docs resources), `_server` (`build_server`,
`serve`).

`build_server` and `serve` load the SDK when first used, so `import stratopt.cli` does
not pay for it (about 1.7 s) nor need the extra.
"""

from __future__ import annotations

import importlib
from typing import Any

from stratopt.mcp_server._settings import ServerSettings

__all__ = ["ServerSettings", "build_server", "serve"]

_LAZY = {"build_server", "serve"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module("stratopt.mcp_server._server"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

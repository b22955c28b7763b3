"""`stratopt mcp`: serve the tools for AI agents (the Model Context Protocol).

The server is `stratopt.mcp_server`; its SDK (the `mcp` extra) loads only here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stratopt import mcp_server
from stratopt.cli._app import app, check_storage_option
from stratopt.errors import StratoptError


@app.command()
def mcp(
    http: Annotated[
        bool, typer.Option("--http", help="Serve streamable HTTP on 127.0.0.1 (default: stdio).")
    ] = False,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of --http.")] = 8000,
    root: Annotated[
        Path, typer.Option(help="Workspace root: every path a tool touches stays under it.")
    ] = Path("."),
    storage: Annotated[
        str | None, typer.Option(help="Optuna storage URL for every study (default: each study's).")
    ] = None,
    max_trials: Annotated[int, typer.Option(min=1, help="Most trials a study may target.")] = 5000,
) -> None:
    """Serve optimize, walk-forward and the stored studies as MCP tools (stdio or --http).

    Example: stratopt mcp
    """
    check_storage_option(storage)
    if not root.is_dir():
        raise typer.BadParameter(f"{str(root)!r} is not a folder", param_hint="--root")
    settings = mcp_server.ServerSettings(root=root, storage=storage, max_trials=max_trials)
    try:
        serve = mcp_server.serve
    except ModuleNotFoundError as exc:
        raise StratoptError(
            f"stratopt mcp needs the mcp extra ({exc}): pip install 'stratopt[mcp]'"
        ) from None
    serve(settings, transport="http" if http else "stdio", port=port)

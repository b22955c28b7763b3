"""The server: `build_server` (tools, resources, jobs) and `serve` (stdio or HTTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import anyio
import optuna
from mcp.server.mcpserver import MCPServer

from stratopt._version import __version__
from stratopt.mcp_server._docs import register_docs
from stratopt.mcp_server._jobs import Jobs
from stratopt.mcp_server._settings import ServerSettings
from stratopt.mcp_server._tools import register_tools

__all__ = ["JOBS_FOLDER", "build_server", "serve"]

JOBS_FOLDER = ".stratopt-mcp/jobs"  # under the root: one record per job
_STOP_WAIT = 10.0  # seconds a stopping server gives a running job to finish its batch

INSTRUCTIONS = """\
stratopt optimizes trading-strategy parameters honestly. optimize and walk_forward start
jobs: call them, then job_status (wait_seconds up to 50) until the state is done.
Results are compact; run folders under the workspace root hold everything. Read
stratopt://docs/overfitting before trusting a best Sharpe ratio."""


def build_server(settings: ServerSettings) -> MCPServer:
    """The MCP server of `settings` (its jobs are cancelled when it stops)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # stdout/stderr stay quiet
    jobs = Jobs(settings.root / JOBS_FOLDER, settings.max_jobs)

    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(jobs.close, _STOP_WAIT)

    server = MCPServer(
        "stratopt", version=__version__, instructions=INSTRUCTIONS, lifespan=lifespan,
        log_level="WARNING",
    )  # fmt: skip
    register_tools(server, settings, jobs)
    register_docs(server)
    return server


def serve(settings: ServerSettings, *, transport: Literal["stdio", "http"] = "stdio",
          port: int = 8000) -> None:  # fmt: skip
    """Serve until stopped: stdio, or streamable HTTP on 127.0.0.1:`port` (path /mcp)."""
    server = build_server(settings)
    if transport == "http":
        server.run("streamable-http", host="127.0.0.1", port=port)
    else:
        server.run("stdio")

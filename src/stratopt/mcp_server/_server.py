"""The server: `build_server` (tools, resources, jobs) and `serve` (stdio or HTTP)."""

from __future__ import annotations

import reprlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import anyio
import optuna
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp_types import CallToolResult, InputRequiredResult
from pydantic import ValidationError

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
Results are compact; run folders under the workspace root hold everything: pass their
paths to analyze_results and report. backtest_batch tries parameter sets across many data
files. Read stratopt://docs/overfitting before trusting a best Sharpe ratio."""


class _Server(MCPServer):
    """The SDK's server, its argument errors as one line naming each field."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(exc, UnexpectedToolError) or not isinstance(cause, ValidationError):
                raise
            raise ToolError(f"Error executing tool {name}: {_one_line(cause)}") from cause


def _one_line(exc: ValidationError) -> str:
    """`field: problem (got value)` per error of `exc`, on one line."""
    parts = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(p) for p in err["loc"]) or "arguments"
        got = "" if err["type"] == "missing" else f" (got {reprlib.repr(err['input'])})"
        parts.append(f"{field}: {err['msg']}{got}")
    return "; ".join(parts)


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

    server = _Server(
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

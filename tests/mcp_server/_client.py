"""Calling the server's tools from a test: the SDK's client, results as dicts."""

from __future__ import annotations

import time
from typing import Any

from mcp import Client


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """The tool's structured result (the test fails on a tool error)."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def error(client: Client, tool: str, **arguments: Any) -> str:
    """The text of the tool's error (the test fails when the call succeeds)."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    return str(result.content[0].text)  # type: ignore[union-attr]


async def finish(client: Client, job_id: str, timeout: float = 600) -> dict[str, Any]:
    """Poll `job_status` until the job stops running."""
    deadline = time.monotonic() + timeout
    while True:
        view = await call(client, "job_status", job_id=job_id, wait_seconds=5)
        if view["state"] != "running" or time.monotonic() > deadline:
            return view

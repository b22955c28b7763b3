"""`stratopt mcp` as a process: stdio, streamable HTTP on 127.0.0.1, and a restart.

The restart test kills the HTTP server (SIGKILL) while a job runs, then a new server on
the same root reports the job `interrupted` with the trials the storage holds, and the
same `optimize` call resumes the study to exactly its target.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import optuna
import pytest
import yaml
from mcp import Client, StdioServerParameters

from stratopt.mcp_server import ServerSettings, build_server

from ._client import call, finish
from .conftest import SMALL

STARTUP = 180.0  # seconds: the CLI imports numba, pandas, Optuna and the SDK


def _command(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "stratopt.cli", "mcp", "--root", str(root), *args]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening_addresses(port: int) -> set[str]:
    """Local addresses listening on `port` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


@contextmanager
def http_server(root: Path, log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`stratopt mcp --http` on a free port of 127.0.0.1; stopped after."""
    port = _free_port()
    with log.open("wb") as err:
        proc = subprocess.Popen(_command(root, "--http", "--port", str(port)),
                                stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
    try:
        deadline = time.monotonic() + STARTUP
        while True:
            assert proc.poll() is None, log.read_text()
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        yield proc, f"http://127.0.0.1:{port}/mcp"
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _complete(root: Path, study: str) -> int:
    stored = optuna.load_study(study_name=study, storage=f"sqlite:///{root}/runs/stratopt.db")
    return sum(t.state == optuna.trial.TrialState.COMPLETE for t in stored.trials)


def test_stdio_lists_and_calls_tools(workspace: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=_command(workspace)[1:], env=dict(os.environ)
    )

    async def main() -> tuple[list[str], dict[str, Any], dict[str, Any]]:
        async with Client(params, raise_exceptions=True) as client:
            names = [t.name for t in (await client.list_tools()).tools]
            start = await call(client, "optimize", study="studies/small.yaml", analyze=False,
                               wait_seconds=30)  # fmt: skip
            view = await finish(client, start["job_id"])
            return names, view, await call(client, "list_studies")

    names, view, studies = anyio.run(main)
    assert {"optimize", "walk_forward", "job_status", "cancel_job"} <= set(names)
    assert view["state"] == "done" and view["optimize"]["counts"]["complete"] == 6
    assert [s["study"] for s in studies["studies"]] == ["small"]
    assert _complete(workspace, "small") == 6


def test_http_on_127_0_0_1_lists_and_calls_tools(workspace: Path, tmp_path: Path) -> None:
    with http_server(workspace, tmp_path / "server.log") as (_, url):
        port = int(url.split(":")[2].split("/")[0])
        assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only

        async def main() -> tuple[list[str], dict[str, Any]]:
            async with Client(url, raise_exceptions=True) as client:
                names = [t.name for t in (await client.list_tools()).tools]
                text = await client.read_resource("stratopt://docs/overfitting")
                assert "Deflated" in text.contents[0].text  # type: ignore[union-attr]
                start = await call(client, "optimize", study="studies/small.yaml",
                                   analyze=False, wait_seconds=30)  # fmt: skip
                return names, await finish(client, start["job_id"])

        names, view = anyio.run(main)
    assert "study_summary" in names
    assert view["state"] == "done" and view["optimize"]["best"]["params"]


def test_a_job_survives_a_server_restart_and_resumes_to_its_target(
    workspace: Path, tmp_path: Path
) -> None:
    target = 300
    study = {**SMALL, "name": "restart", "output": "../runs",
             "search": {"trials": target, "seed": 4, "batch": 1}}  # fmt: skip
    (workspace / "studies" / "restart.yaml").write_text(yaml.safe_dump(study))
    args = {"study": "studies/restart.yaml", "analyze": False}

    with http_server(workspace, tmp_path / "server.log") as (proc, url):

        async def start() -> str:
            async with Client(url, raise_exceptions=True) as client:
                job = await call(client, "optimize", **args)
                while (await call(client, "job_status", job_id=job["job_id"]))["progress"][
                    "complete"
                ] < 3:
                    await anyio.sleep(0.05)
                return str(job["job_id"])

        job_id = anyio.run(start)
        proc.kill()  # mid-run, as a crash would
        proc.wait()
    stored = _complete(workspace, "restart")
    assert 3 <= stored < target, "the job was not stopped mid-run"

    async def again() -> tuple[dict[str, Any], dict[str, Any]]:
        async with Client(build_server(ServerSettings(root=workspace)),
                          raise_exceptions=True) as client:  # fmt: skip
            status = await call(client, "job_status", job_id=job_id)
            resumed = await call(client, "optimize", **args)
            assert resumed["job_id"] == job_id
            return status, await finish(client, job_id)

    status, done = anyio.run(again)
    assert status["state"] == "interrupted"
    assert status["progress"]["complete"] == stored and status["progress"]["target"] == target
    assert done["state"] == "done", done
    assert done["optimize"]["counts"]["complete"] == target == _complete(workspace, "restart")
    assert done["progress"]["complete"] == target


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The HTTP client must reach 127.0.0.1 directly, whatever proxy the host sets."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)

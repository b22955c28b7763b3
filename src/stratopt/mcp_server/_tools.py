"""The tools: each checks its input (`_inputs`, `_workspace`), then calls an operation.

optimize and walk_forward start jobs (`_jobs`) and wait up to `wait_seconds` for them;
job_status and cancel_job follow them; list_studies and study_summary read a storage.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from stratopt._jsonable import dumps
from stratopt.mcp_server._inputs import SearchArgs, StudyInput, checked
from stratopt.mcp_server._jobs import Jobs
from stratopt.mcp_server._models import JobView, StudyList, StudyRow, StudySpec, StudySummary
from stratopt.mcp_server._result_tools import register_result_tools
from stratopt.mcp_server._settings import ServerSettings
from stratopt.mcp_server._work import (
    candidate,
    key_metrics,
    optimize_work,
    overfitting,
    walk_forward_work,
)
from stratopt.mcp_server._workspace import Workspace
from stratopt.operations import StudyView, list_studies, show_study, walk_forward_window_count
from stratopt.storage import check_study_name, redact

__all__ = ["register_tools"]

StudyPath = Annotated[
    str | None,
    Field(description="A study file (YAML/JSON) under the workspace root, e.g. studies/sma.yaml."),
]
Spec = Annotated[StudySpec | None, Field(description="An inline study, instead of a file.")]
Trials = Annotated[
    int | None, Field(ge=1, description="COMPLETE trials to reach (earlier runs count).")
]
Method = Annotated[str | None, Field(description="Search method: tpe, random, grid, cmaes...")]
Seed = Annotated[int | None, Field(ge=0, lt=2**32, description="Seed of the search.")]
Wait = Annotated[
    float,
    Field(ge=0, le=50, description="Seconds to wait for the job to finish before returning."),
]
JobId = Annotated[str, Field(description="A job id from optimize or walk_forward.")]
Storage = Annotated[
    str | None,
    Field(description="An SQLite storage file under the root (default: runs/stratopt.db)."),
]


def register_tools(server: MCPServer, settings: ServerSettings, jobs: Jobs) -> None:
    """Add every tool to `server`."""
    ws = Workspace(settings.root, settings.storage)

    async def read(study: str | None, spec: StudySpec | None, search: SearchArgs) -> StudyInput:
        return await anyio.to_thread.run_sync(StudyInput.read, ws, settings, (study, spec), search)

    async def wait(view: JobView, seconds: float, ctx: Context | None) -> JobView:
        return await jobs.wait(view.job_id, min(seconds, settings.max_wait), ctx)

    @server.tool()
    async def optimize(  # noqa: PLR0913 (the arguments are the tool schema an agent reads)
        study: StudyPath = None, spec: Spec = None, trials: Trials = None, method: Method = None,
        seed: Seed = None,
        analyze: Annotated[bool, Field(description=(
            "After the search: overfitting statistics (DSR, PBO, SPA), stability of the best "
            "and the robust candidate, look-ahead check."))] = True,
        report: Annotated[bool, Field(description=(
            "Also write report.html into the run folder (its path: report_path)."))] = True,
        wait_seconds: Wait = 0.0, ctx: Context | None = None,
    ) -> JobView:  # fmt: skip
        """Search a study's parameter space as a job (a study rerun resumes it).

        Returns the job; poll job_status until its state is done, then read the best and
        robust candidates, the overfitting verdict and the run folder.
        """
        inp = await read(study, spec, SearchArgs(trials, method, seed))
        work = optimize_work(inp.config, inp.storage, inp.target, ws,
                             options={"analyze": analyze, "report": report})  # fmt: skip
        return await wait(jobs.start(work), wait_seconds, ctx)

    @server.tool()
    async def walk_forward(
        study: StudyPath = None, spec: Spec = None, trials: Trials = None, method: Method = None,
        seed: Seed = None, wait_seconds: Wait = 0.0, ctx: Context | None = None,
    ) -> JobView:  # fmt: skip
        """Walk-forward optimization as a job: search each train window, test its best on
        the next window (the study's validation.walk_forward).

        When done: per-window results, the stitched out-of-sample metrics and the
        walk-forward efficiency.
        """
        inp = await read(study, spec, SearchArgs(trials, method, seed))
        # It loads the data: off the event loop, which keeps answering job_status.
        windows = await anyio.to_thread.run_sync(
            checked, lambda: walk_forward_window_count(inp.config)
        )
        if windows > settings.max_windows:
            raise ToolError(
                f"validation.walk_forward: {windows} windows are above this server's cap of "
                f"{settings.max_windows}"
            )
        work = walk_forward_work(inp.config, inp.storage, inp.target, ws)
        return await wait(jobs.start(work), wait_seconds, ctx)

    _register_job_tools(server, settings, jobs)
    _register_store_tools(server, ws)
    register_result_tools(server, settings, ws)


def _register_job_tools(server: MCPServer, settings: ServerSettings, jobs: Jobs) -> None:
    @server.tool()
    async def job_status(
        job_id: JobId, wait_seconds: Wait = 0.0, ctx: Context | None = None
    ) -> JobView:
        """A job's state and progress; its result once done. After a server restart a
        job that was running is `interrupted`: call the same tool again to resume it."""
        return await jobs.wait(job_id, min(wait_seconds, settings.max_wait), ctx)

    @server.tool()
    def cancel_job(job_id: JobId) -> JobView:
        """Stop a running job at its next batch of trials; the trials so far stay stored."""
        return jobs.cancel(job_id)


def _register_store_tools(server: MCPServer, ws: Workspace) -> None:
    @server.tool(name="list_studies")
    def list_studies_tool(storage: Storage = None) -> StudyList:
        """The studies of a storage: trials by state and best value."""
        url = ws.storage_url(storage, "storage")
        file = ws.sqlite_file(url)
        missing = file is not None and not file.is_file()  # opening it would create it
        rows = [] if missing else checked(lambda: list_studies(url))
        shown = redact(url) if file is None else ws.show(file)
        return StudyList(storage=shown, studies=[StudyRow(**r) for r in rows])

    @server.tool()
    def study_summary(
        study: Annotated[str, Field(description="A study name in the storage.")],
        storage: Storage = None,
        top: Annotated[int, Field(ge=1, le=50, description="Best trials to list.")] = 5,
    ) -> StudySummary:
        """A stored study: its best trials and its last optimization's analyses."""
        checked(lambda: check_study_name(study, "study"))
        url = ws.storage_url(storage, "storage")
        file = ws.sqlite_file(url)
        if file is not None and not file.is_file():
            raise ToolError(f"study: no study {study!r}: {ws.show(file)} does not exist")
        view = checked(lambda: show_study(study, storage=url, output=ws.root / "runs"))
        return summary_of(view, top, ws)


def _part(row: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {k.removeprefix(prefix): v for k, v in row.items() if k.startswith(prefix)}


def summary_of(view: StudyView, top: int, ws: Workspace) -> StudySummary:
    """A `StudyView` as the tool's compact summary."""
    ranked = view.ranked
    counts = {str(k): int(v) for k, v in ranked["state"].value_counts().items()}
    rows = []
    for record in ranked.head(top).to_dict("records"):
        row = {str(k): v for k, v in record.items()}
        values = {k: v for k, v in row.items() if k == "value" or k.startswith("values")}
        item = {
            "trial": row["trial"],
            "state": row["state"],
            **values,
            "params": _part(row, "params."),
            "metrics": key_metrics(_part(row, "metrics.")),
        }
        rows.append(json.loads(dumps(item, indent=None)))  # fmt: skip
    robustness = view.robustness or {}
    stats = view.statistics
    return StudySummary(
        study=view.name, counts=counts, top=rows,
        robust=candidate(robustness.get("robust")),
        stability=(robustness.get("stability") or {}).get("verdict"),
        lookahead_clean=(view.lookahead or {}).get("clean"),
        overfitting=overfitting(stats[1]) if stats else None,
        statistics_path=ws.show(stats[0] / "summary.json") if stats else None,
    )  # fmt: skip

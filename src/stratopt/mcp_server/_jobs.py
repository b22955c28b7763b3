"""Jobs: long work started by one tool call, polled and cancelled by others.

A job is its studies in the storage: its id is derived from the kind, the storage and
the study name, and a small record (`<root>/.stratopt-mcp/jobs/<id>.json`) names them.
Progress while it runs comes from the search's own reports; after a restart of the
server, from the trials the storage holds (`interrupted`), and the same tool called
again resumes the studies to exactly their target. Jobs run in threads of the server
process; a cancel is honoured at the next batch of trials, which are all stored.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, ValidationError

from stratopt.errors import StratoptError
from stratopt.mcp_server._models import (
    JobKind,
    JobProgress,
    JobView,
    OptimizeOutcome,
    WalkForwardOutcome,
)
from stratopt.operations import study_counts

__all__ = ["JobCancelled", "Jobs", "Tracker", "Work"]

log = logging.getLogger("stratopt.mcp")

_ID = re.compile(r"^(optimize|walk_forward)-[0-9a-f]{12}$")
_SQLITE = "sqlite:///"
_POLL = 0.2  # seconds between looks at a running job while a call waits


class JobCancelled(Exception):
    """Raised inside a job's run, at its next progress report, after `cancel_job`."""


class Tracker:
    """A running job's progress; `update` raises `JobCancelled` once it is cancelled."""

    def __init__(
        self, progress: JobProgress, on_windows: Callable[[JobProgress], None] | None = None
    ) -> None:
        self.progress = progress
        self.cancelled = threading.Event()
        self.on_windows = on_windows

    def update(self, **fields: int | None) -> None:
        windows = self.progress.windows
        self.progress = self.progress.model_copy(update=fields)
        if self.progress.windows != windows and self.on_windows is not None:
            self.on_windows(self.progress)  # stored: a restart then knows the target
        if self.cancelled.is_set():
            raise JobCancelled


@dataclass(frozen=True)
class Work:
    """What a job runs: `run(tracker)` returns the job's compact outcome."""

    kind: JobKind
    study: str
    storage: str
    target: int  # COMPLETE trials per study (each window's, for a walk-forward)
    run: Callable[[Tracker], OptimizeOutcome | WalkForwardOutcome]


class _Record(BaseModel):
    """What a job's file holds: its last view and where its studies are."""

    view: JobView
    storage: str
    target: int


@dataclass
class _Live:
    record: _Record
    tracker: Tracker
    thread: threading.Thread | None = None
    state_lock: threading.Lock = field(default_factory=threading.Lock)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Jobs:
    """The jobs of one server: live ones in memory, every one on disk."""

    def __init__(self, folder: Path, max_jobs: int) -> None:
        self.folder = folder
        self.max_jobs = max_jobs
        self._live: dict[str, _Live] = {}
        self._lock = threading.Lock()

    @staticmethod
    def job_id(kind: str, storage: str, study: str) -> str:
        digest = hashlib.sha256(f"{kind}\n{storage}\n{study}".encode()).hexdigest()
        return f"{kind}-{digest[:12]}"

    def start(self, work: Work) -> JobView:
        """Start `work` (or return the same job, still running)."""
        job_id = self.job_id(work.kind, work.storage, work.study)
        with self._lock:
            live = self._live.get(job_id)
            if live is not None and live.record.view.state == "running":
                return self._view(live)
            running = [j for j, lv in self._live.items() if lv.record.view.state == "running"]
            if len(running) >= self.max_jobs:
                raise ToolError(
                    f"job {running[0]} is running and this server runs {self.max_jobs} at a "
                    "time: poll it with job_status or stop it with cancel_job"
                )
            progress = self._stored_progress(work.kind, work.storage, work.study, work.target)
            view = JobView(
                job_id=job_id, kind=work.kind, study=work.study, state="running",
                progress=progress, started_utc=_now(),
            )  # fmt: skip
            live = _Live(_Record(view=view, storage=work.storage, target=work.target),
                         Tracker(progress))  # fmt: skip
            live.tracker.on_windows = functools.partial(self._store_progress, live)
            self._write(live.record)
            live.thread = threading.Thread(
                target=self._run, args=(live, work), name=f"stratopt-{job_id}", daemon=True
            )
            self._live[job_id] = live
            live.thread.start()
        return self._view(live)

    def _run(self, live: _Live, work: Work) -> None:
        update: dict[str, object] = {}
        try:
            outcome = work.run(live.tracker)
            key = "optimize" if isinstance(outcome, OptimizeOutcome) else "walk_forward"
            update = {"state": "done", key: outcome}
        except JobCancelled:
            update = {"state": "cancelled"}
        except StratoptError as exc:  # bad input found while running, a storage error
            update = {"state": "failed", "error": str(exc)}
        except Exception as exc:
            log.exception("job %s failed", live.record.view.job_id)
            update = {"state": "failed", "error": f"internal error ({type(exc).__name__}): {exc}"}
        with live.state_lock:
            view = live.record.view.model_copy(
                update={**update, "progress": live.tracker.progress, "finished_utc": _now()}
            )
            live.record = live.record.model_copy(update={"view": view})
            self._write(live.record)

    def _store_progress(self, live: _Live, progress: JobProgress) -> None:
        with live.state_lock:
            view = live.record.view.model_copy(update={"progress": progress})
            live.record = live.record.model_copy(update={"view": view})
            self._write(live.record)

    def view(self, job_id: str) -> JobView:
        """The job's view: live, else from its record and the storage."""
        if not _ID.match(job_id):
            raise ToolError(f"job_id: {job_id!r} is not a job id (e.g. optimize-0123456789ab)")
        live = self._live.get(job_id)
        if live is not None:
            return self._view(live)
        record = self._read(job_id)
        view = record.view
        if view.state == "running":  # a server stopped mid-run left it so
            progress = self._stored_progress(view.kind, record.storage, view.study, record.target)
            windows = view.progress.windows
            if windows:
                progress = progress.model_copy(
                    update={"windows": windows, "target": windows * record.target}
                )
            view = view.model_copy(update={"state": "interrupted", "progress": progress})
        return view

    def cancel(self, job_id: str) -> JobView:
        """Ask a running job to stop at its next batch (its trials so far are kept)."""
        view = self.view(job_id)
        live = self._live.get(job_id)
        if live is not None and view.state == "running":
            live.tracker.cancelled.set()
        return view

    async def wait(self, job_id: str, seconds: float, ctx: Context | None) -> JobView:
        """The job's view once it stops running or after `seconds`, reporting progress."""
        deadline = anyio.current_time() + seconds
        view = self.view(job_id)
        shown = -1
        while view.state == "running" and anyio.current_time() < deadline:
            if ctx is not None and view.progress.complete != shown:
                shown = view.progress.complete
                total = float(view.progress.target) or None
                await ctx.report_progress(shown, total, f"{view.kind} {view.study}: {shown} trials")
            await anyio.sleep(_POLL)
            view = self.view(job_id)
        return view

    def close(self, timeout: float) -> None:
        """Cancel every running job and wait up to `timeout` seconds for each."""
        for live in list(self._live.values()):
            live.tracker.cancelled.set()
        for live in list(self._live.values()):
            if live.thread is not None:
                live.thread.join(timeout)

    def _view(self, live: _Live) -> JobView:
        with live.state_lock:
            view = live.record.view
        if view.state == "running":
            view = view.model_copy(update={"progress": live.tracker.progress})
        return view

    @staticmethod
    def _stored_progress(kind: str, storage: str, study: str, target: int) -> JobProgress:
        file = storage.removeprefix(_SQLITE)
        if storage.startswith(_SQLITE) and not Path(file).is_file():
            return JobProgress(complete=0, target=0 if kind == "walk_forward" else target)
        try:
            counts = study_counts(storage, study, windows=kind == "walk_forward")
        except StratoptError as exc:
            raise ToolError(str(exc)) from None
        if kind == "walk_forward":  # windows unknown until the job has set them up
            return JobProgress(complete=counts["complete"], target=0)
        return JobProgress(complete=min(counts["complete"], target), target=target)

    def _write(self, record: _Record) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{record.view.job_id}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(record.model_dump_json(indent=1))
        tmp.replace(path)

    def _read(self, job_id: str) -> _Record:
        path = self.folder / f"{job_id}.json"
        try:
            return _Record.model_validate_json(path.read_text())
        except FileNotFoundError:
            raise ToolError(f"job_id: no job {job_id!r} in this workspace") from None
        except (OSError, ValidationError) as exc:
            raise ToolError(f"job_id: the record of {job_id!r} cannot be read ({exc})") from None

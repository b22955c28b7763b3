"""What `worker` and `launch` print: the workers' combined progress, their failures,
the study at the end, and the one line of an interrupted launch (see `_render`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pandas as pd
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from stratopt.cli._console import err, out
from stratopt.cli._render import print_optimize, print_path, print_ranked
from stratopt.operations import LaunchOutcome, LaunchStatus, OptimizeResult, WorkResult

__all__ = [
    "launch_progress",
    "print_failed_workers",
    "print_interrupted",
    "print_launch",
    "print_launch_brief",
    "print_work",
]


@contextmanager
def launch_progress() -> Iterator[Callable[[LaunchStatus], None]]:
    """The workers' combined progress, read from the storage (`stratopt launch`)."""
    columns = (
        TextColumn("[bold]workers"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task("trials", total=None, info="")

        def show(s: LaunchStatus) -> None:
            best = "n/a" if s.best is None else f"{s.best:.4g}"
            progress.update(
                task,
                total=s.target,
                completed=min(s.complete, s.target),
                info=(
                    f"best {best} | running {s.running} | pruned {s.pruned} | "
                    f"failed {s.failed} | workers alive {s.alive}/{s.workers} | "
                    f"{s.rate:.1f}/s"
                ),
            )

        yield show


def print_work(result: WorkResult) -> None:
    c = result.counts
    out.print(
        f"worker {result.worker_id}: study {result.study_name} has {c['complete']} complete, "
        f"{c['pruned']} pruned, {c['fail']} failed; this worker: {result.attempts} attempts, "
        f"{result.pruned} pruned, {result.failed} failed "
        f"(stopped by {result.stopped_by}, {result.seconds:.1f} s)",
        soft_wrap=True,
        highlight=False,
    )
    if result.run_folder is not None:
        print_path("run folder", result.run_folder.path)


def print_failed_workers(outcome: LaunchOutcome) -> None:
    for w in outcome.failed:
        err.print(
            f"[bold red]worker {w.index} failed[/] (exit code {w.returncode}); log: {w.log}",
            highlight=False,
        )
        for line in w.tail:
            err.print(f"  {escape(line)}", highlight=False)


def print_launch(result: OptimizeResult, outcome: LaunchOutcome, n: int, top: int) -> None:
    """The study after `launch`: as `optimize` prints it (analyses included)."""
    print_optimize(result, top, how=f"{n} workers, {outcome.seconds:.1f} s")


def print_launch_brief(
    name: str, ranked: pd.DataFrame, outcome: LaunchOutcome, n: int, top: int
) -> None:
    """`launch --no-report`: the stored best trials and the counts, nothing re-run."""
    print_ranked(ranked, top, title=f"{name}: best {top}")
    states = ranked["state"].value_counts() if "state" in ranked else pd.Series(dtype=int)
    out.print(
        f"trials: {states.get('complete', 0)} complete, {states.get('pruned', 0)} pruned, "
        f"{states.get('fail', 0)} failed ({n} workers, {outcome.seconds:.1f} s; no report)",
        soft_wrap=True,
    )


def print_interrupted(signal_name: str, n: int) -> None:
    """`launch` stopped by a signal: its one line."""
    err.print(
        f"interrupted by {signal_name}: {n} worker(s) stopped, their claimed trials returned "
        "to the study's queue (run launch again to go on)",
        highlight=False,
        soft_wrap=True,
    )

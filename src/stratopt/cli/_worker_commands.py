"""Commands for shared studies: worker (join one) and launch (run N local workers)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stratopt.cli import _explain as explain
from stratopt.cli import _render as render
from stratopt.cli._app import GraceOption, HeartbeatOption, SetOption, app, search_overrides
from stratopt.config import load_study
from stratopt.operations import launch_workers, report_study, study_target, work_study
from stratopt.storage import Heartbeat, resolve_storage_url

StudyArgument = Annotated[Path, typer.Argument(help="Study file (YAML or JSON).")]


@app.command()
def worker(
    study: StudyArgument,
    storage: Annotated[
        str | None,
        typer.Option(help="Optuna storage URL shared by the workers (or $STRATOPT_STORAGE)."),
    ] = None,
    trials: Annotated[
        int | None, typer.Option(help="The study's target of completed trials (all workers).")
    ] = None,
    set_: SetOption = None,
    heartbeat: HeartbeatOption = 10,
    grace: GraceOption = 60,
    report: Annotated[
        bool, typer.Option(help="Write a run folder of the whole study at the end.")
    ] = True,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Join (or create) a shared study and work until it has its target of trials.

    Example: stratopt worker study.yaml
    """
    cfg = load_study(study, search_overrides(set_, trials=trials))
    beat = Heartbeat(interval=heartbeat, grace=grace)
    with render.progress_bar(enabled=not quiet) as show:
        result = work_study(cfg, storage=storage, heartbeat=beat, on_progress=show, report=report)
    render.print_work(result)
    if result.counts["complete"] == 0:
        render.error("no candidate completed")
        raise typer.Exit(1)


@app.command()
def launch(
    study: StudyArgument,
    n: Annotated[int, typer.Option("-n", "--workers", min=1, help="Worker processes.")] = 2,
    storage: Annotated[
        str | None, typer.Option(help="Optuna storage URL (or $STRATOPT_STORAGE).")
    ] = None,
    trials: Annotated[
        int | None, typer.Option(help="The study's target of completed trials.")
    ] = None,
    set_: SetOption = None,
    heartbeat: HeartbeatOption = 10,
    grace: GraceOption = 60,
    top: Annotated[int, typer.Option(help="Rows of the result table.")] = 10,
) -> None:
    """Start N local workers on one study, show their combined progress, wait for them.

    Example: stratopt launch -n 4 study.yaml
    """
    overrides = search_overrides(set_, trials=trials)
    cfg = load_study(study, overrides)
    Heartbeat(interval=heartbeat, grace=grace)  # bad values fail here, not in N workers
    url = resolve_storage_url(storage, cfg.storage_url, cfg.output_dir)
    args = [f"--set={o}" for o in overrides] + [f"--heartbeat={heartbeat}", f"--grace={grace}"]
    with render.launch_progress() as show:
        outcome = launch_workers(
            cfg, study, n, url=url, target=study_target(cfg), worker_args=args, on_progress=show
        )
    render.print_failed_workers(outcome)
    result = report_study(cfg, storage=url)
    render.print_launch(result, outcome, n, top)
    explain.print_failures(result.ranked)
    if outcome.failed or result.counts["complete"] == 0:
        raise typer.Exit(1)

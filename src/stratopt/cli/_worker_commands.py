"""Commands for shared studies: worker (join one) and launch (run N local workers)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stratopt.cli import _explain as explain
from stratopt.cli import _render as render
from stratopt.cli import _render_workers as render_workers
from stratopt.cli._app import (
    DbRetryOption,
    GraceOption,
    HeartbeatOption,
    SetOption,
    app,
    check_storage_option,
    db_retry,
    search_overrides,
)
from stratopt.cli._signals import stop_on_signals, watch_launcher
from stratopt.config import load_study
from stratopt.errors import Interrupted
from stratopt.operations import (
    ENV_LAUNCHER,
    launch_workers,
    report_study,
    study_target,
    work_study,
)
from stratopt.storage import Heartbeat, load_ranked, resolve_storage_url

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
    db_retry_: DbRetryOption = "120s",
    report: Annotated[
        bool, typer.Option(help="Write a run folder of the whole study at the end.")
    ] = True,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Join (or create) a shared study and work until it has its target of trials.

    SIGTERM or Ctrl-C: the trials it claimed go back to the study's queue, exit 143/130.

    Example: stratopt worker study.yaml
    """
    stop_on_signals()
    watch_launcher(ENV_LAUNCHER)  # started by `launch`: stop when it is gone
    check_storage_option(storage)
    cfg = load_study(study, search_overrides(set_, trials=trials))
    beat = Heartbeat(interval=heartbeat, grace=grace)
    retry = db_retry(db_retry_)
    with render.progress_bar(enabled=not quiet) as show:
        result = work_study(
            cfg, storage=storage, heartbeat=beat, on_progress=show, report=report, retry=retry
        )
    render_workers.print_work(result)
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
    db_retry_: DbRetryOption = "120s",
    report: Annotated[
        bool,
        typer.Option(
            help="At the end, a run folder with the statistics, stability and look-ahead "
            "check (their candidates re-run by N processes); --no-report: the stored best only."
        ),
    ] = True,
    top: Annotated[int, typer.Option(help="Rows of the result table.")] = 10,
) -> None:
    """Start N local workers on one study, show their combined progress, wait for them.

    The study file, its data and the storage are checked before any worker starts.
    SIGTERM or Ctrl-C: the workers stop and return their claimed trials, exit 143/130.

    Example: stratopt launch -n 4 study.yaml
    """
    stop_on_signals()
    check_storage_option(storage)
    overrides = search_overrides(set_, trials=trials)
    cfg = load_study(study, overrides)
    Heartbeat(interval=heartbeat, grace=grace)  # bad values fail here, not in N workers
    retry = db_retry(db_retry_)
    url = resolve_storage_url(storage, cfg.storage_url, cfg.output_dir)
    args = [f"--set={o}" for o in overrides]
    args += [f"--heartbeat={heartbeat}", f"--grace={grace}", f"--db-retry={db_retry_}"]
    try:
        with render_workers.launch_progress() as show:
            outcome = launch_workers(
                cfg, study, n, url=url, target=study_target(cfg), worker_args=args,
                on_progress=show, retry=retry,
            )  # fmt: skip
    except Interrupted as exc:
        render_workers.print_interrupted(exc.name, n)
        raise typer.Exit(exc.exit_code) from None
    render_workers.print_failed_workers(outcome)
    if report:
        result = report_study(cfg, storage=url, jobs=n, retry=retry)
        render_workers.print_launch(result, outcome, n, top)
        explain.print_failures(result.ranked)
        complete = result.counts["complete"]
    else:
        ranked = load_ranked(cfg.name, url)
        render_workers.print_launch_brief(cfg.name, ranked, outcome, n, top)
        explain.print_failures(ranked)
        complete = int((ranked["state"] == "complete").sum()) if "state" in ranked else 0
    if outcome.failed or complete == 0:
        raise typer.Exit(1)

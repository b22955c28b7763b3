"""Commands on stored studies: studies, show, export, cleanup."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from stratopt.cli import _explain as explain
from stratopt.cli import _render as render
from stratopt.cli._app import app
from stratopt.cli._console import out
from stratopt.errors import ConfigError
from stratopt.operations import (
    CleanupPlan,
    cleanup_study,
    export_study,
    list_studies,
    show_study,
    stored_trial,
    studies_storage,
)
from stratopt.storage import redact

StudyRef = Annotated[str, typer.Argument(help="Study file or study name.")]
StorageOption = Annotated[str | None, typer.Option(help="Optuna storage URL.")]


def _read_from(url: str) -> None:
    out.print(f"storage read: {redact(url)}", soft_wrap=True, highlight=False)


@app.command()
def studies(
    study: Annotated[
        str | None, typer.Argument(help="A study file: list the studies of its storage.")
    ] = None,
    storage: StorageOption = None,
) -> None:
    """List the studies of a storage with their counts and best value.

    Example: stratopt studies study.yaml
    """
    url = studies_storage(study, storage)
    _read_from(url)
    render.print_studies(list_studies(url))


@app.command()
def show(
    study: StudyRef,
    top: Annotated[int, typer.Option(help="Rows to show.")] = 10,
    storage: StorageOption = None,
    trial: Annotated[
        int | None, typer.Option(help="Show this trial in full instead of the best ones.")
    ] = None,
) -> None:
    """The best trials of a study, or one trial in full.

    Example: stratopt show study.yaml --top 20
    """
    if trial is not None:
        explain.print_trial(stored_trial(study, trial, storage=storage))
        return
    view = show_study(study, storage=storage)
    _read_from(view.url)
    render.print_study(view, top)


@app.command()
def export(
    study: StudyRef,
    csv: Annotated[Path, typer.Option("--csv", help="CSV file to write.")],
    storage: StorageOption = None,
) -> None:
    """Write every trial of a study, ranked, to a CSV file.

    Example: stratopt export study.yaml --csv trials.csv
    """
    rows = export_study(study, csv, storage=storage)
    out.print(f"wrote {rows} trials to {csv}", soft_wrap=True, highlight=False)


@app.command()
def cleanup(
    study: StudyRef,
    keep_top: Annotated[int, typer.Option("--keep-top", min=0, help="Trials to keep.")],
    storage: StorageOption = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Delete without asking (required without a terminal).")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Clean up even while live workers hold trials.")
    ] = False,
) -> None:
    """Delete all but the best N trials of a study.

    The number of candidates backtested and their Sharpe moments are kept as a study
    attribute: the overfitting statistics go on counting the deleted trials. Refused
    while workers run (RUNNING trials with a fresh heartbeat) unless --force.

    Example: stratopt cleanup study.yaml --keep-top 100 --yes
    """
    plan = cleanup_study(
        study, keep_top, storage=storage, force=force, confirm=None if yes else _confirm
    )
    for leftover in plan.leftovers:
        out.print(f"removed {leftover!r}, left by an interrupted cleanup", soft_wrap=True)
    out.print(f"{plan.name}: kept {plan.kept} trials, deleted {plan.deleted}", soft_wrap=True)


def _confirm(plan: CleanupPlan) -> bool:
    if not sys.stdin.isatty():
        raise ConfigError(
            f"cleanup would delete {plan.deleted} trials of {plan.name!r}: pass --yes "
            "to confirm (stdin is not a terminal)"
        )
    return typer.confirm(
        f"Delete {plan.deleted} trials of {plan.name!r} ({redact(plan.url)}), keeping {plan.kept}?",
        abort=True,
    )

"""Commands on stored studies: studies, show, export, cleanup."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stratopt.cli import _render as render
from stratopt.cli._app import app
from stratopt.cli._console import out
from stratopt.operations import cleanup_study, export_study, list_studies, show_study

StudyRef = Annotated[str, typer.Argument(help="Study file or study name.")]
StorageOption = Annotated[str | None, typer.Option(help="Optuna storage URL.")]


@app.command()
def studies(storage: StorageOption = None) -> None:
    """List the studies of a storage with their counts and best value."""
    render.print_studies(list_studies(storage))


@app.command()
def show(
    study: StudyRef,
    top: Annotated[int, typer.Option(help="Rows to show.")] = 10,
    storage: StorageOption = None,
) -> None:
    """The best trials of a study."""
    render.print_study(show_study(study, storage=storage), top)


@app.command()
def export(
    study: StudyRef,
    csv: Annotated[Path, typer.Option("--csv", help="CSV file to write.")],
    storage: StorageOption = None,
) -> None:
    """Write every trial of a study, ranked, to a CSV file."""
    rows = export_study(study, csv, storage=storage)
    out.print(f"wrote {rows} trials to {csv}", soft_wrap=True, highlight=False)


@app.command()
def cleanup(
    study: StudyRef,
    keep_top: Annotated[int, typer.Option("--keep-top", min=0, help="Trials to keep.")],
    storage: StorageOption = None,
) -> None:
    """Delete all but the best N trials of a study."""
    name, kept, deleted = cleanup_study(study, keep_top, storage=storage)
    out.print(f"{name}: kept {kept} trials, deleted {deleted}", soft_wrap=True)

"""`stratopt report`: one offline HTML report of run folders or study files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stratopt.cli import _render as render
from stratopt.cli._app import app, check_storage_option
from stratopt.errors import ConfigError
from stratopt.operations import ReportFile, report
from stratopt.reporting import PLOTLYJS_MODES

MIN_TRIALS_DRAWN = 10


@app.command("report")
def report_command(
    targets: Annotated[
        list[Path],
        typer.Argument(
            help="Run folders (optimize, walk-forward, validate, ml; a batch one alone) or "
            "study files; the first is shown in full, the others compared with it."
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="The HTML file (default: report.html in the first run folder)."),
    ] = None,
    plotlyjs: Annotated[
        str,
        typer.Option("--plotlyjs", help="gzip (embedded, compressed), inline, directory or cdn."),
    ] = "gzip",
    max_trials: Annotated[
        int, typer.Option("--max-trials", help="Trials drawn as points in per-trial figures.")
    ] = 5000,
    storage: Annotated[str | None, typer.Option(help="Optuna storage URL (study files).")] = None,
) -> None:
    """One offline HTML report of run folders or studies (needs stratopt[report]).

    Example: stratopt report runs/my_study/20260101T000000Z
    """
    if plotlyjs not in PLOTLYJS_MODES:
        raise ConfigError(f"--plotlyjs: {plotlyjs!r} is not one of {', '.join(PLOTLYJS_MODES)}")
    if max_trials < MIN_TRIALS_DRAWN:
        raise ConfigError(f"--max-trials: must be at least {MIN_TRIALS_DRAWN}, got {max_trials}")
    check_storage_option(storage)
    path = report(*targets, out=out, plotlyjs=plotlyjs, max_trials=max_trials, storage=storage)
    render.print_report(ReportFile(path))

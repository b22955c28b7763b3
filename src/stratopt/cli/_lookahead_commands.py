"""The look-ahead check of a study's strategy: check-lookahead."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stratopt.cli import _render as render
from stratopt.cli import _render_checks as checks
from stratopt.cli._app import SetOption, app
from stratopt.config import load_study
from stratopt.validation import check_study_lookahead


@app.command("check-lookahead")
def check_lookahead(
    study: Annotated[Path, typer.Argument(help="Study file (YAML or JSON).")],
    set_: SetOption = None,
    points: Annotated[int, typer.Option(min=1, help="Truncation points per data series.")] = 20,
    samples: Annotated[
        int, typer.Option(min=0, help="Points of the space checked besides the fixed params.")
    ] = 10,
    seed: Annotated[int, typer.Option(help="Seed of the sample of the space.")] = 0,
    lookback: Annotated[
        int | None, typer.Option(min=1, help="Bars kept before each point (default: all).")
    ] = None,
    horizon: Annotated[
        int | None,
        typer.Option(min=1, help="Bars after each point in the reference (default: all)."),
    ] = None,
) -> None:
    """Recompute signals on truncated data; exit 1 if removing future bars changes any."""
    cfg = load_study(study, set_ or [])
    report = check_study_lookahead(
        cfg, samples=samples, seed=seed, points=points, lookback=lookback, horizon=horizon
    )
    checks.print_lookahead_errors(report)
    if report.parameter_sets == 0:
        render.error("no parameter set could be checked")
        raise typer.Exit(2)
    checks.print_lookahead(report)
    if not report.clean:
        raise typer.Exit(1)

"""Commands on a study file: backtest, optimize, walk-forward, validate."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from stratopt._jsonable import to_json_value
from stratopt.cli import _render as render
from stratopt.cli._app import SetOption, app, check_storage_option, search_overrides
from stratopt.cli._console import err
from stratopt.config import load_study, method_list
from stratopt.errors import ConfigError
from stratopt.operations import (
    backtest_report,
    equity_frame,
    optimize_study,
    run_backtest,
    study_from_run_folder,
    trades_frame,
    validate_study,
    walk_forward,
    write_csv,
)

StudyArgument = Annotated[Path, typer.Argument(help="Study file (YAML or JSON).")]


@app.command()
def backtest(
    study: StudyArgument,
    set_: SetOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of a table.")
    ] = False,
    equity: Annotated[
        Path | None, typer.Option("--equity", help="Write the equity curve (CSV).")
    ] = None,
    trades: Annotated[
        Path | None, typer.Option("--trades", help="Write the trade list (CSV).")
    ] = None,
) -> None:
    """Run one backtest with the study's fixed params."""
    cfg = load_study(study, set_ or [])
    results = run_backtest(cfg)
    if equity is not None:
        write_csv(equity, equity_frame(results))
    if trades is not None:
        write_csv(trades, trades_frame(results))
    if as_json:
        report = backtest_report(cfg.name, results)
        sys.stdout.write(json.dumps(report, default=to_json_value) + "\n")
        return
    render.print_backtest(cfg.name, results)


@app.command()
def optimize(
    study: StudyArgument,
    trials: Annotated[int | None, typer.Option(help="Completed trials to reach.")] = None,
    method: Annotated[str | None, typer.Option(help=f"{method_list()}.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the search.")] = None,
    jobs: Annotated[int | None, typer.Option(help="Parallel evaluations.")] = None,
    storage: Annotated[str | None, typer.Option(help="Optuna storage URL.")] = None,
    output: Annotated[Path | None, typer.Option(help="Root of run folders.")] = None,
    set_: SetOption = None,
    top: Annotated[int, typer.Option(help="Rows of the result table.")] = 10,
    analysis: Annotated[
        bool, typer.Option(help="Statistics, stability and look-ahead check after the search.")
    ] = True,
) -> None:
    """Search the study's space; print the best candidates and the run folder."""
    overrides = search_overrides(set_, trials=trials, method=method, seed=seed, jobs=jobs)
    if output is not None:
        overrides.append(f"output={json.dumps(str(output.resolve()))}")  # a YAML string
    cfg = load_study(study, overrides)
    check_storage_option(storage)
    with render.progress_bar() as show:
        result = optimize_study(cfg, storage=storage, on_progress=show, analyze=analysis)
    render.print_optimize(result, top)
    if result.counts["complete"] == 0:
        render.error("no candidate completed")
        raise typer.Exit(1)


@app.command("walk-forward")
def walk_forward_command(
    study: StudyArgument,
    set_: SetOption = None,
    storage: Annotated[
        str | None, typer.Option(help="Optuna storage URL for the window studies, or 'memory'.")
    ] = None,
    output: Annotated[Path | None, typer.Option(help="Root of run folders.")] = None,
    jobs: Annotated[int | None, typer.Option(min=1, help="Windows run in parallel.")] = None,
) -> None:
    """Optimize on each train window, test the best on the next (validation.walk_forward)."""
    result = walk_forward(
        study, overrides=list(set_ or []), storage=storage,
        output=output.resolve() if output is not None else None, jobs=jobs,
        on_window=render.print_window_done,
    )  # fmt: skip
    render.print_walk_forward(result)
    if all(w.out_of_sample is None for w in result.windows):
        render.error("no window produced an out-of-sample result")
        raise typer.Exit(1)


@app.command()
def validate(
    target: Annotated[Path, typer.Argument(help="Study file, or a run folder of the study.")],
    set_: SetOption = None,
    storage: Annotated[str | None, typer.Option(help="Optuna storage URL.")] = None,
    output: Annotated[Path | None, typer.Option(help="Root of run folders.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the bootstraps.")] = None,
) -> None:
    """Holdout, statistics, CPCV, stability and Monte Carlo of a finished study."""
    check_storage_option(storage)
    if target.is_dir():
        if set_:
            raise ConfigError("--set: applies to a study file, not to a run folder")
        cfg = study_from_run_folder(target)
    else:
        cfg = load_study(target, list(set_ or []))
    with err.status("validating") as status:
        result = validate_study(
            cfg, storage=storage, output=output.resolve() if output is not None else None,
            seed=seed, on_step=lambda name: status.update(f"validating: {name}"),
        )  # fmt: skip
    render.print_validation(result)

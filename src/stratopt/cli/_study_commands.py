"""Commands on a study file: backtest, optimize, walk-forward, validate."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from stratopt._jsonable import to_json_value
from stratopt.cli import _explain as explain
from stratopt.cli import _grid_render as grid_render
from stratopt.cli import _render as render
from stratopt.cli._app import (
    ReportOption,
    SetOption,
    app,
    check_storage_option,
    search_overrides,
)
from stratopt.cli._console import err
from stratopt.config import load_study, method_list
from stratopt.errors import ConfigError
from stratopt.operations import (
    aggregate_metrics,
    backtest_report,
    equity_frame,
    grid_warnings,
    optimize_study,
    run_backtest,
    study_from_run_folder,
    trades_frame,
    trial_study,
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
    trial: Annotated[
        int | None, typer.Option(help="Backtest this stored trial's parameters instead.")
    ] = None,
    storage: Annotated[str | None, typer.Option(help="Optuna storage URL (with --trial).")] = None,
) -> None:
    """Run one backtest with the study's fixed params (or a stored trial's).

    Example: stratopt backtest study.yaml --trial 12 --trades trades.csv
    """
    cfg = load_study(study, set_ or [])
    if trial is not None:
        cfg = trial_study(cfg, trial, storage=storage)
    results = run_backtest(cfg)
    if equity is not None:
        write_csv(equity, equity_frame(results))
    if trades is not None:
        write_csv(trades, trades_frame(results))
    combined = aggregate_metrics(cfg, results) if len(results) > 1 else None
    if as_json:
        report = backtest_report(cfg.name, results, combined)
        sys.stdout.write(json.dumps(report, default=to_json_value) + "\n")
        return
    grid_render.print_warnings(grid_warnings(cfg, [r.bars for r in results]))
    render.print_backtest(cfg.name, results, (cfg.aggregate, combined) if combined else None)
    grid_render.print_grid_backtest(results)


@app.command()
def optimize(
    study: StudyArgument,
    trials: Annotated[int | None, typer.Option(help="Completed trials to reach.")] = None,
    method: Annotated[str | None, typer.Option(help=f"{method_list()}.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the search.")] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            help=(
                "Worker processes for a user strategy (search.jobs): its candidates run "
                "in that many processes. Built-in strategies ignore it (each batch is one "
                "compiled parallel call). Results do not depend on it."
            ),
        ),
    ] = None,
    storage: Annotated[str | None, typer.Option(help="Optuna storage URL.")] = None,
    output: Annotated[Path | None, typer.Option(help="Root of run folders.")] = None,
    set_: SetOption = None,
    top: Annotated[int, typer.Option(help="Rows of the result table.")] = 10,
    analysis: Annotated[
        bool, typer.Option(help="Statistics, stability and look-ahead check after the search.")
    ] = True,
    report: ReportOption = True,
    fork: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Start a new study NAME from this file (after changing what defines it).",
        ),
    ] = None,
) -> None:
    """Search the study's space; print the best candidates and the run folder.

    Example: stratopt optimize study.yaml --trials 200 --jobs 2
    """
    overrides = search_overrides(set_, trials=trials, method=method, seed=seed, jobs=jobs)
    if output is not None:
        overrides.append(f"output={json.dumps(str(output.resolve()))}")  # a YAML string
    if fork is not None:
        overrides.append(f"name={json.dumps(fork)}")
    cfg = load_study(study, overrides)
    check_storage_option(storage)
    grid_render.print_warnings(grid_warnings(cfg, searched=True))
    with render.progress_bar() as show:
        result = optimize_study(
            cfg,
            storage=storage,
            on_progress=show,
            analyze=analysis,
            report=report,
            new=fork is not None,
        )
    if result.attempts == 0:
        explain.print_nothing_run(result)
    render.print_optimize(result, top)
    explain.print_failures(result.ranked)
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
    report: ReportOption = True,
) -> None:
    """Optimize on each train window, test the best on the next (validation.walk_forward).

    Example: stratopt walk-forward study.yaml --jobs 2
    """
    result = walk_forward(
        study, overrides=list(set_ or []), storage=storage,
        output=output.resolve() if output is not None else None, jobs=jobs,
        on_window=render.print_window_done, report=report,
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
    report: ReportOption = True,
) -> None:
    """Holdout, statistics, CPCV, stability and Monte Carlo of a finished study.

    Example: stratopt validate study.yaml
    """
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
            seed=seed, on_step=lambda name: status.update(f"validating: {name}"), report=report,
        )  # fmt: skip
    render.print_validation(result)

"""Commands over many cells and a few candidates: batch, analyze.

A command's flags are packed into one options object (`BatchFlags`, `AnalyzeRequest`)
before anything else reads them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from stratopt.analysis import AnalysisOptions, parse_sections
from stratopt.cli import _render_batch as render
from stratopt.cli._app import ReportOption, SetOption, app, check_storage_option
from stratopt.config import load_study
from stratopt.errors import ConfigError
from stratopt.operations import (
    AnalyzeRequest,
    BatchRequest,
    ParamSets,
    analyze_target,
    backtest_batch,
    grid_param_sets,
    read_param_sets,
    stored_param_sets,
)


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


@dataclass(frozen=True)
class BatchFlags:
    """`stratopt batch`'s parameter-set flags: exactly one of `params`, `grid`,
    `from_study` (with `top`, `robust` and `storage`)."""

    params: Path | None
    grid: list[str] | None
    from_study: Path | None
    top: int
    robust: bool
    storage: str | None

    def param_sets(self) -> ParamSets:
        given = [x for x in (self.params, self.grid, self.from_study) if x]
        if len(given) != 1:
            raise ConfigError(
                "batch: give exactly one of --params FILE, --grid, --from-study STUDY"
            )
        if self.robust and self.from_study is None:
            raise ConfigError("--robust: applies to --from-study STUDY")
        if self.params is not None:
            return read_param_sets(self.params)
        if self.grid:
            return grid_param_sets(self.grid)
        assert self.from_study is not None
        check_storage_option(self.storage)
        return stored_param_sets(
            load_study(self.from_study), self.top, robust=self.robust, storage=self.storage
        )


@app.command()
def batch(
    study: Annotated[Path, typer.Argument(help="Study file: strategy and backtest settings.")],
    symbols: Annotated[
        list[str] | None, typer.Option("--symbols", help="Data files or globs (comma-separated).")
    ] = None,
    timeframes: Annotated[
        str | None, typer.Option(help="Timeframes to resample to, e.g. 1h,1d.")
    ] = None,
    params: Annotated[
        Path | None, typer.Option("--params", help="YAML/JSON list of parameter sets.")
    ] = None,
    grid: Annotated[
        list[str] | None,
        typer.Option("--grid", help="NAME=v1,v2 or NAME=low:high:step; repeat for a grid."),
    ] = None,
    from_study: Annotated[
        Path | None, typer.Option("--from-study", help="Take candidates of this stored study.")
    ] = None,
    top: Annotated[int, typer.Option(help="How many candidates --from-study takes.")] = 10,
    robust: Annotated[
        bool, typer.Option("--robust", help="--from-study: its robust candidates, not the best.")
    ] = False,
    storage: Annotated[str | None, typer.Option(help="Storage of --from-study.")] = None,
    cluster: Annotated[
        str | None, typer.Option(help="dask://HOST:PORT or local:N (default: this machine).")
    ] = None,
    chunk_size: Annotated[
        int | None, typer.Option(min=1, help="Parameter sets per task (default: all).")
    ] = None,
    metric: Annotated[str | None, typer.Option(help="Metric to rank parameter sets by.")] = None,
    output: Annotated[Path | None, typer.Option(help="Root of run folders.")] = None,
    report: ReportOption = True,
    set_: SetOption = None,
) -> None:
    """Backtest symbols x timeframes x parameter sets; write batch.csv, matrices, summary
    and report.html.

    Example: stratopt batch study.yaml --symbols 'data/*_1d.csv.gz' --grid fast=5,10,20
    """
    cfg = load_study(study, set_ or [])
    chosen = BatchFlags(params, grid, from_study, top, robust, storage).param_sets()
    request = BatchRequest(
        chosen.sets, param_source=chosen.source, symbols=_split(symbols) or None,
        timeframes=_split([timeframes or ""]) or None, cluster=cluster, chunk_size=chunk_size,
        metric=metric, output=output.resolve() if output else None, report=report,
    )  # fmt: skip
    result = backtest_batch(cfg, request)
    render.print_batch(result)


def _ints(flag: str, text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(x) for x in _split([text])]
    except ValueError:
        raise ConfigError(f"{flag}: {text!r} is not a comma-separated list of integers") from None


@app.command()
def analyze(
    target: Annotated[
        str, typer.Argument(help="A run folder (optimize or batch) or a study file.")
    ],
    trials: Annotated[
        str | None, typer.Option(help="Trial numbers of an optimize run (default: the best).")
    ] = None,
    rows: Annotated[
        str | None, typer.Option(help="Row numbers of a batch run's batch.csv.")
    ] = None,
    sections: Annotated[
        str | None,
        typer.Option(help="trades,drawdowns,distribution,correlation,monte_carlo,breakdown"),
    ] = None,
    sims: Annotated[int, typer.Option(min=1, help="Monte Carlo paths.")] = 1000,
    seed: Annotated[int, typer.Option(help="Monte Carlo seed.")] = 0,
    top: Annotated[int, typer.Option(min=1, help="Rows of the drawdown table.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON instead.")] = False,
    set_: SetOption = None,
) -> None:
    """A deep look at candidates: trades, drawdowns, distribution, correlation, luck.

    Example: stratopt analyze runs/my_study/20260101T000000Z --trials 12
    """
    options = AnalysisOptions(sections=parse_sections(sections), top_drawdowns=top,
                              n_sims=sims, seed=seed)  # fmt: skip
    request = AnalyzeRequest(trials=_ints("--trials", trials), rows=_ints("--rows", rows),
                             options=options, overrides=list(set_ or []))  # fmt: skip
    if not Path(target).exists():
        raise ConfigError(f"analyze: {target} does not exist")
    result = analyze_target(target, request)
    if as_json:
        sys.stdout.write(result.path.read_text())
        return
    render.print_analysis(result)

"""The `stratopt` command line. Thin: parse, call the library, print.

Exit codes: 0 success, 1 a failed run, 2 bad input (study file, data, options).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from stratopt import __version__
from stratopt.errors import StratoptError, UserInputError

app = typer.Typer(
    name="stratopt",
    help="Find trading-strategy parameters that hold up out of sample.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_out = Console()
_err = Console(stderr=True, soft_wrap=True)

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a study-file field: dotted.path=value (value parsed as YAML). Repeatable.",
        metavar="KEY=VALUE",
    ),
]


def _version(value: bool) -> None:
    if value:
        _out.print(f"stratopt {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """stratopt: search, score and validate trading-strategy parameters."""


@app.command()
def backtest(
    study: Annotated[Path, typer.Argument(help="Study file (YAML or JSON).")],
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
    from stratopt.backtest import backtest_study
    from stratopt.config import load_study

    cfg = load_study(study, set_ or [])
    results = backtest_study(cfg)
    if equity is not None:
        _write_csv(equity, _equity_frame(results))
    if trades is not None:
        _write_csv(trades, _trades_frame(results))
    if as_json:
        sys.stdout.write(json.dumps(_json_report(cfg.name, results), default=_jsonable) + "\n")
        return
    _print_backtest(cfg.name, results)


@app.command()
def optimize(
    study: Annotated[Path, typer.Argument(help="Study file (YAML or JSON).")],
    trials: Annotated[int | None, typer.Option(help="Completed trials to reach.")] = None,
    method: Annotated[
        str | None, typer.Option(help="grid, random, tpe, cmaes, nsga2 or qmc.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the search.")] = None,
    jobs: Annotated[int | None, typer.Option(help="Parallel evaluations.")] = None,
    storage: Annotated[str | None, typer.Option(help="Optuna storage URL.")] = None,
    output: Annotated[Path | None, typer.Option(help="Root of run folders.")] = None,
    set_: SetOption = None,
    top: Annotated[int, typer.Option(help="Rows of the result table.")] = 10,
) -> None:
    """Search the study's space; print the best candidates and the run folder."""
    from stratopt.config import load_study
    from stratopt.optimization import optimize_study

    overrides = list(set_ or [])
    for key, value in (("trials", trials), ("method", method), ("seed", seed), ("jobs", jobs)):
        if value is not None:
            overrides.append(f"search.{key}={value}")
    if output is not None:
        overrides.append(f"output={json.dumps(str(output.resolve()))}")  # a YAML string
    cfg = load_study(study, overrides)
    with _progress_bar() as show:
        result = optimize_study(cfg, storage=storage, on_progress=show)
    _print_ranked(result.ranked, top, title=f"{result.study_name}: best {top}")
    c = result.counts
    _out.print(
        f"trials: {c['complete']} complete, {c['pruned']} pruned, {c['fail']} failed "
        f"(stopped by {result.stopped_by}, {result.seconds:.1f} s)",
        soft_wrap=True,
    )
    _out.print(f"run folder: {result.run_folder.path.resolve()}", soft_wrap=True, highlight=False)
    if c["complete"] == 0:
        _err.print("error: no candidate completed", highlight=False)
        raise typer.Exit(1)


@app.command()
def studies(
    storage: Annotated[str | None, typer.Option(help="Optuna storage URL.")] = None,
) -> None:
    """List the studies of a storage with their counts and best value."""
    from stratopt.storage import study_summaries

    table = Table()
    for col in ("study", "complete", "pruned", "failed", "best"):
        table.add_column(col, justify="left" if col == "study" else "right")
    for row in study_summaries(_storage_url(storage)):
        best = row["best"]
        table.add_row(
            row["study"],
            str(row["complete"]),
            str(row["pruned"]),
            str(row["fail"]),
            "n/a" if best is None else f"{best:.4g}",
        )
    _out.print(table)


@app.command()
def show(
    study: Annotated[str, typer.Argument(help="Study file or study name.")],
    top: Annotated[int, typer.Option(help="Rows to show.")] = 10,
    storage: Annotated[str | None, typer.Option(help="Optuna storage URL.")] = None,
) -> None:
    """The best trials of a study."""
    from stratopt.storage import load_ranked

    name, url = _study_ref(study, storage)
    _print_ranked(load_ranked(name, url), top, title=f"{name}: best {top}")


@app.command()
def export(
    study: Annotated[str, typer.Argument(help="Study file or study name.")],
    csv: Annotated[Path, typer.Option("--csv", help="CSV file to write.")],
    storage: Annotated[str | None, typer.Option(help="Optuna storage URL.")] = None,
) -> None:
    """Write every trial of a study, ranked, to a CSV file."""
    from stratopt.storage import load_ranked

    name, url = _study_ref(study, storage)
    frame = load_ranked(name, url)
    _write_csv(csv, frame)
    _out.print(f"wrote {len(frame)} trials to {csv}", soft_wrap=True, highlight=False)


@app.command()
def cleanup(
    study: Annotated[str, typer.Argument(help="Study file or study name.")],
    keep_top: Annotated[int, typer.Option("--keep-top", min=0, help="Trials to keep.")],
    storage: Annotated[str | None, typer.Option(help="Optuna storage URL.")] = None,
) -> None:
    """Delete all but the best N trials of a study."""
    from stratopt.storage import keep_top_trials

    name, url = _study_ref(study, storage)
    kept, deleted = keep_top_trials(name, url, keep_top)
    _out.print(f"{name}: kept {kept} trials, deleted {deleted}", soft_wrap=True)


HeartbeatOption = Annotated[
    int, typer.Option(min=1, help="Seconds between heartbeats of a running trial.")
]
GraceOption = Annotated[
    int,
    typer.Option(min=2, help="Seconds without a heartbeat after which a trial is orphaned."),
]


@app.command()
def worker(
    study: Annotated[Path, typer.Argument(help="Study file (YAML or JSON).")],
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
    """Join (or create) a shared study and work until it has its target of trials."""
    from stratopt.config import load_study
    from stratopt.optimization import work_study
    from stratopt.storage import Heartbeat

    overrides = list(set_ or [])
    if trials is not None:
        overrides.append(f"search.trials={trials}")
    cfg = load_study(study, overrides)
    beat = Heartbeat(interval=heartbeat, grace=grace)
    if quiet:
        result = work_study(cfg, storage=storage, heartbeat=beat, report=report)
    else:
        with _progress_bar() as show:
            result = work_study(
                cfg, storage=storage, heartbeat=beat, on_progress=show, report=report
            )
    c = result.counts
    _out.print(
        f"worker {result.worker_id}: study {result.study_name} has {c['complete']} complete, "
        f"{c['pruned']} pruned, {c['fail']} failed; this worker: {result.attempts} attempts, "
        f"{result.pruned} pruned, {result.failed} failed "
        f"(stopped by {result.stopped_by}, {result.seconds:.1f} s)",
        soft_wrap=True,
        highlight=False,
    )
    if result.run_folder is not None:
        _out.print(
            f"run folder: {result.run_folder.path.resolve()}", soft_wrap=True, highlight=False
        )
    if c["complete"] == 0:
        _err.print("error: no candidate completed", highlight=False)
        raise typer.Exit(1)


@app.command()
def launch(
    study: Annotated[Path, typer.Argument(help="Study file (YAML or JSON).")],
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
    """Start N local workers on one study, show their combined progress, wait for them."""
    from stratopt.config import load_study
    from stratopt.launch import launch_workers
    from stratopt.optimization import report_study, study_target
    from stratopt.storage import Heartbeat, resolve_storage_url

    overrides = list(set_ or [])
    if trials is not None:
        overrides.append(f"search.trials={trials}")
    cfg = load_study(study, overrides)
    Heartbeat(interval=heartbeat, grace=grace)  # bad values fail here, not in N workers
    url = resolve_storage_url(storage, cfg.storage, cfg.output_dir)
    args = [f"--set={o}" for o in overrides] + [f"--heartbeat={heartbeat}", f"--grace={grace}"]
    with _launch_progress() as show:
        outcome = launch_workers(
            cfg, study, n, url=url, target=study_target(cfg), worker_args=args, on_progress=show
        )
    for w in outcome.failed:
        _err.print(
            f"[bold red]worker {w.index} failed[/] (exit code {w.returncode}); log: {w.log}",
            highlight=False,
        )
        for line in w.tail:
            _err.print(f"  {escape(line)}", highlight=False)
    result = report_study(cfg, storage=url)
    _print_ranked(result.ranked, top, title=f"{result.study_name}: best {top}")
    c = result.counts
    _out.print(
        f"trials: {c['complete']} complete, {c['pruned']} pruned, {c['fail']} failed "
        f"({n} workers, {outcome.seconds:.1f} s)",
        soft_wrap=True,
    )
    _out.print(f"run folder: {result.run_folder.path.resolve()}", soft_wrap=True, highlight=False)
    if outcome.failed or c["complete"] == 0:
        raise typer.Exit(1)


def _launch_progress() -> Any:
    from contextlib import contextmanager

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    @contextmanager
    def bar() -> Any:
        columns = (
            TextColumn("[bold]workers"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=_err, transient=False) as progress:
            task = progress.add_task("trials", total=None, info="")

            def show(s: Any) -> None:
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

    return bar()


def _storage_url(storage: str | None, base: Path | None = None) -> str:
    from stratopt.storage import resolve_storage_url

    return resolve_storage_url(storage, None, (base or Path.cwd()) / "runs")


def _study_ref(study: str, storage: str | None) -> tuple[str, str]:
    """(study name, storage URL) from a study file or a bare name."""
    path = Path(study)
    if path.suffix.lower() in (".yaml", ".yml", ".json") or path.is_file():
        from stratopt.config import load_study
        from stratopt.storage import resolve_storage_url

        cfg = load_study(path)
        return cfg.name, resolve_storage_url(storage, cfg.storage, cfg.output_dir)
    return study, _storage_url(storage)


def _progress_bar() -> Any:
    from contextlib import contextmanager

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    @contextmanager
    def bar() -> Any:
        columns = (
            TextColumn("[bold]optimizing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=_err, transient=False) as progress:
            task = progress.add_task("trials", total=None, info="")

            def show(p: Any) -> None:
                rate = p.attempts / max(1e-9, _elapsed(p))
                best = "n/a" if p.best is None else f"{p.best:.4g}"
                progress.update(
                    task,
                    total=p.target,
                    completed=min(p.complete, p.target),
                    info=f"best {best} | pruned {p.pruned} | failed {p.failed} | {rate:.1f}/s",
                )

            yield show

    return bar()


def _elapsed(p: Any) -> float:
    import time

    return float(time.monotonic() - p.started)


def _print_ranked(frame: pd.DataFrame, top: int, *, title: str) -> None:
    if frame.empty:
        _out.print("no trials yet")
        return
    head = frame.head(top)
    params = [c for c in head.columns if c.startswith("params.")]
    values = [c for c in head.columns if c == "value" or c.startswith("value_")]
    metrics = [m for m in ("total_return", "max_drawdown", "trades")
               if f"metrics.{m}" in head.columns]  # fmt: skip
    cols = ["rank", *values, *params, *(f"metrics.{m}" for m in metrics)]
    if (head["state"] != "complete").any():
        cols.insert(1, "state")
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    for col in cols:
        label = col.removeprefix("params.").removeprefix("metrics.").rpartition(".")[2]
        table.add_column(_SHORT.get(label, label), justify="right", no_wrap=True)
    for _, row in head.iterrows():
        table.add_row(*(_cell(row[c]) for c in cols))
    _out.print(table)


_SHORT = {"total_return": "return", "max_drawdown": "max_dd"}


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def _equity_frame(results: list[Any]) -> pd.DataFrame:
    frames = []
    for res in results:
        eq = res.equity.rename("equity").reset_index()
        if len(results) > 1:
            eq.insert(0, "symbol", res.bars.symbol)
        frames.append(eq)
    out: pd.DataFrame = pd.concat(frames, ignore_index=True)
    return out


def _trades_frame(results: list[Any]) -> pd.DataFrame:
    frames = []
    for res in results:
        t = res.trades
        if len(results) > 1:
            t.insert(0, "symbol", res.bars.symbol)
        frames.append(t)
    out: pd.DataFrame = pd.concat(frames, ignore_index=True)
    return out


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S")
    except OSError as exc:
        raise UserInputError(f"cannot write {path}: {exc}") from None


def _finite(value: float) -> float | None:
    # JSON has no NaN/inf: non-finite metric values are written as null.
    return value if math.isfinite(value) else None


def _json_report(name: str, results: list[Any]) -> dict[str, Any]:
    per_symbol = {
        res.bars.symbol: {
            "source": res.bars.source,
            "bars": len(res.bars),
            "start": str(res.bars.index[0]),
            "end": str(res.bars.index[-1]),
            "metrics": {k: _finite(v) for k, v in res.metrics.items()},
            "n_trades": res.n_trades,
            "final_equity": res.final_equity,
        }
        for res in results
    }
    first = results[0]
    return {
        "study": name,
        "strategy": first.strategy,
        "params": first.params,
        "settings": first.settings.__dict__,
        "symbol": first.bars.symbol,
        **per_symbol[first.bars.symbol],
        "per_symbol": per_symbol,
    }


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _format(value: float, unit: str) -> str:
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if unit in ("fraction", "%", "percent"):
        return f"{value * 100:,.2f}%"
    if unit in ("count", "bars", "trades"):
        return f"{value:,.0f}"
    if unit in ("currency", "$"):
        return f"{value:,.2f}"
    return f"{value:,.3f}"


def _print_backtest(name: str, results: list[Any]) -> None:
    from stratopt.metrics import METRICS

    params = " ".join(f"{k}={v}" for k, v in results[0].params.items())
    _out.print(f"[bold]{escape(name)}[/]: {results[0].strategy} {escape(params)}", soft_wrap=True)
    table = Table()
    table.add_column("metric")
    for res in results:
        table.add_column(res.bars.symbol or "series", justify="right")
    for info in METRICS:
        cells = [_format(res.metrics[info.id], info.unit) for res in results]
        table.add_row(info.label, *cells)
    _out.print(table)
    for res in results:
        b = res.bars
        _out.print(
            f"{b.symbol}: {len(b)} bars {b.index[0]} → {b.index[-1]}, "
            f"{res.n_trades} trades, final equity {res.final_equity:,.2f}",
            soft_wrap=True,
        )


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `stratopt` console script."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        app(args=argv, standalone_mode=True)
    except UserInputError as exc:
        _err.print("[bold red]error:[/]", escape(str(exc)), highlight=False)
        sys.exit(2)
    except StratoptError as exc:  # e.g. the storage cannot be reached: a failed run
        _err.print("[bold red]error:[/]", escape(str(exc)), highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()

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
    from stratopt import cli_grid
    from stratopt.backtest import backtest_study
    from stratopt.config import load_study
    from stratopt.grid_study import backtest_grid_study, is_grid_study

    cfg = load_study(study, set_ or [])
    _check_whole_study(cfg)
    grid = is_grid_study(cfg)
    if grid:
        cli_grid.check_fixed_params(cfg)
    results: list[Any] = backtest_grid_study(cfg) if grid else backtest_study(cfg)
    if equity is not None:
        _write_csv(equity, _equity_frame(results))
    if trades is not None:
        _write_csv(trades, _trades_frame(results))
    if as_json:
        report = _json_report(cfg.name, results)
        report.update(cli_grid.grid_json(results) if grid else {})
        sys.stdout.write(json.dumps(report, default=_jsonable) + "\n")
        return
    if grid:
        cli_grid.print_warnings(_err, cfg, [r.bars for r in results])
    _print_backtest(cfg.name, results)
    if grid:
        cli_grid.print_grid_backtest(_out, results)


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
    analysis: Annotated[
        bool, typer.Option(help="Statistics, stability and look-ahead check after the search.")
    ] = True,
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
    _check_storage_option(storage)
    grid = _grid_warnings(cfg)
    with _progress_bar() as show:
        result = optimize_study(cfg, storage=storage, on_progress=show, analyze=analysis)
    _print_ranked(result.ranked, top, title=f"{result.study_name}: best {top}")
    if grid:
        from stratopt import cli_grid

        cli_grid.print_path_bands(_out, result.ranked, top)
    if result.holdout is not None:
        _print_holdout(result.holdout)
    c = result.counts
    _out.print(
        f"trials: {c['complete']} complete, {c['pruned']} pruned, {c['fail']} failed "
        f"(stopped by {result.stopped_by}, {result.seconds:.1f} s)",
        soft_wrap=True,
    )
    _out.print(f"run folder: {result.run_folder.path.resolve()}", soft_wrap=True, highlight=False)
    # ---- robustness and look-ahead (stratopt.validation) ----
    checks = json.loads(result.run_folder.summary.read_text())
    _print_robustness(checks.get("robustness"), checks.get("lookahead"))
    _print_verdict(result.statistics)
    if c["complete"] == 0:
        _err.print("error: no candidate completed", highlight=False)
        raise typer.Exit(1)


@app.command("walk-forward")
def walk_forward(
    study: Annotated[Path, typer.Argument(help="Study file (YAML or JSON).")],
    set_: SetOption = None,
    storage: Annotated[
        str | None, typer.Option(help="Optuna storage URL for the window studies, or 'memory'.")
    ] = None,
    output: Annotated[Path | None, typer.Option(help="Root of run folders.")] = None,
    jobs: Annotated[int | None, typer.Option(min=1, help="Windows run in parallel.")] = None,
) -> None:
    """Optimize on each train window, test the best on the next (validation.walk_forward)."""
    from stratopt.validation import walk_forward as run_walk_forward

    def done(w: Any) -> None:
        status = "failed: " + w.error if w.error else f"best trial {w.trial}"
        _err.print(f"window {w.window.index}: {status}", highlight=False, soft_wrap=True)

    result = run_walk_forward(
        study, overrides=list(set_ or []), storage=storage,
        output=output.resolve() if output is not None else None, jobs=jobs, on_window=done,
    )  # fmt: skip
    _print_walk_forward(result)
    if all(w.out_of_sample is None for w in result.windows):
        _err.print("error: no window produced an out-of-sample result", highlight=False)
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
    from stratopt.config import load_study
    from stratopt.errors import ConfigError
    from stratopt.validation import study_from_run_folder, validate_study

    _check_storage_option(storage)
    if target.is_dir():
        if set_:
            raise ConfigError("--set: applies to a study file, not to a run folder")
        cfg = study_from_run_folder(target)
    else:
        cfg = load_study(target, list(set_ or []))
    with _err.status("validating") as status:
        result = validate_study(
            cfg, storage=storage, output=output.resolve() if output is not None else None,
            seed=seed, on_step=lambda name: status.update(f"validating: {name}"),
        )  # fmt: skip
    sections = result.sections
    if result.holdout is not None:
        _print_holdout(result.holdout)
    _print_robustness(sections.get("robustness"), None)
    _print_cpcv(sections.get("cpcv"))
    _print_monte_carlo(sections.get("monte_carlo"))
    _print_statistics((result.folder, sections["statistics"]))
    _out.print(f"validation folder: {result.folder.resolve()}", soft_wrap=True, highlight=False)


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
    # ---- robustness and look-ahead of the last optimization (stratopt.validation) ----
    from stratopt.optimization import ATTR_LOOKAHEAD, ATTR_ROBUSTNESS
    from stratopt.storage import load_study_from

    attrs = load_study_from(name, url).user_attrs
    _print_robustness(attrs.get(ATTR_ROBUSTNESS), attrs.get(ATTR_LOOKAHEAD))
    _print_statistics(_latest_statistics(study, name))


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


# ---- look-ahead check, robustness output (stratopt.validation) ------------------------


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
    from stratopt.config import load_study
    from stratopt.validation import check_study_lookahead

    cfg = load_study(study, set_ or [])
    report = check_study_lookahead(
        cfg, samples=samples, seed=seed, points=points, lookback=lookback, horizon=horizon
    )
    for err in report.errors:
        _err.print(f"skipped {_params_text(err['params'])}: {escape(err['error'])}",
                   highlight=False, soft_wrap=True)  # fmt: skip
    if report.parameter_sets == 0:
        _err.print("error: no parameter set could be checked", highlight=False)
        raise typer.Exit(2)
    checked = (
        f"{report.parameter_sets} parameter set(s) x {report.series} series x "
        f"{report.points} truncation points"
    )
    if report.clean:
        _out.print(f"look-ahead check: clean ({checked})", soft_wrap=True, highlight=False)
        return
    _print_leaks(report.to_dict())
    _out.print(
        f"look-ahead check: {report.n_leaks} leak(s) in {report.leaky_parameter_sets} "
        f"parameter set(s) ({checked})",
        soft_wrap=True,
        highlight=False,
    )
    raise typer.Exit(1)


def _params_text(params: Any) -> str:
    return escape(" ".join(f"{k}={v}" for k, v in dict(params).items()) or "(defaults)")


def _print_leaks(look: dict[str, Any]) -> None:
    table = Table(title="signals that changed when later bars were removed", box=box.SIMPLE_HEAD)
    for col in ("symbol", "bar", "bar time", "cut", "cut time", "signal", "changed", "params"):
        wrap = col in ("symbol", "params")
        table.add_column(
            col,
            justify="left" if wrap else "right",
            no_wrap=not wrap,
            overflow="fold" if wrap else "ellipsis",
        )
    for leak in look.get("details", []):
        table.add_row(
            escape(str(leak["symbol"])), str(leak["bar"]), _short_time(leak["bar_time"]),
            str(leak["cut"]), _short_time(leak["cut_time"]),
            f"{leak['full']}->{leak['truncated']}", str(leak["changed"]),
            _params_text(leak["params"]),
        )  # fmt: skip
    _out.print(table)
    from stratopt.engine import Signal

    codes = ", ".join(f"{int(c)} {c.name.lower()}" for c in Signal)
    _out.print(f"signal: full data -> truncated data ({codes})", highlight=False, soft_wrap=True)


def _short_time(text: str) -> str:
    return text.removesuffix(" 00:00:00")


def _print_robustness(rob: Any, look: Any) -> None:
    """Best vs robust candidate, the plateau/spike verdict, importance, look-ahead."""
    if isinstance(rob, dict) and rob.get("error"):
        _err.print(f"robustness analysis failed: {escape(rob['error'])}", highlight=False)
    elif isinstance(rob, dict) and rob.get("stability"):
        _print_stability(rob)
    if isinstance(look, dict):
        if look.get("error"):
            _err.print(f"look-ahead check failed: {escape(look['error'])}", highlight=False)
        elif look.get("clean") is False:
            _err.print(
                f"[bold yellow]warning:[/] look-ahead: {look['leaks']} signal change(s) when "
                f"future bars were removed, in the best {look['parameter_sets']} candidate(s) — "
                "the strategy uses data it could not have had; run "
                "`stratopt check-lookahead` on the study",
                highlight=False,
                soft_wrap=True,
            )
        elif look.get("clean"):
            _out.print(
                f"look-ahead: clean ({look['parameter_sets']} best candidate(s), "
                f"{look['points']} truncation points)",
                highlight=False,
                soft_wrap=True,
            )


def _print_stability(rob: dict[str, Any]) -> None:
    stab = rob["stability"]
    for o in stab["objectives"]:
        within = "n/a" if o["within"] is None else f"{float(o['within']) * 100:.0f}%"
        _out.print(
            f"stability of the best ({o['label']}): [bold]{o['verdict']}[/] — {within} of "
            f"{stab['neighbours'] - stab['failed']} neighbours within "
            f"{float(stab['tolerance']) * 100:.0f}% of {_cell(float(o['best']))}; "
            f"neighbour mean {_num(o['mean'])}, worst {_num(o['worst'])} "
            f"({stab['mode']} neighbourhood, {stab['infeasible']} infeasible)",
            highlight=False,
            soft_wrap=True,
        )
    best, robust = rob.get("best"), rob.get("robust")
    if best and robust:
        table = Table(title="best vs robust candidate", box=box.SIMPLE_HEAD, pad_edge=False)
        for col in ("", "trial", "value", "nbhd mean", "worst", "params"):
            table.add_column(col, justify="left" if col in ("", "params") else "right")
        for label, cand in (("best", best), ("robust", robust)):
            table.add_row(
                label, str(cand["trial"]), _num(cand["value"]), _num(cand["smoothed"]),
                _num(cand["worst"]), _params_text(cand["params"]),
            )  # fmt: skip
        _out.print(table)
        if rob.get("robust_is_best"):
            top = len(rob.get("region") or [])
            _out.print(f"the best candidate also has the best neighbourhood mean of the top {top}")
    for note in rob.get("notes") or []:
        _out.print(f"note: {escape(str(note))}", highlight=False, soft_wrap=True)
    for entry in (rob.get("importance") or {}).get("per_objective", []):
        if "importances" in entry:
            text = ", ".join(f"{k} {v:.2f}" for k, v in entry["importances"].items())
            _out.print(f"importance ({entry['objective']}): {escape(text)}", highlight=False,
                       soft_wrap=True)  # fmt: skip


def _check_whole_study(cfg: Any) -> None:
    """Refuse a study whose search parts are invalid even though `backtest` does not use them.

    The study file is one document: a typo in `space:` or `objective:` is reported by every
    command, not first by `optimize` after the user trusted its backtest.
    """
    from stratopt.optimization import compile_study
    from stratopt.search._candidates import Router
    from stratopt.search._objective import parse_objective
    from stratopt.search._requirements import parse_requirements
    from stratopt.strategies import get_strategy

    names: tuple[str, ...] = ()
    if cfg.space:
        names = compile_study(cfg).space.names
    else:
        parse_objective(cfg.objective, field="objective")
        parse_requirements(cfg.require, field="require")
    Router(cfg, get_strategy(cfg.strategy, base_dir=cfg.base_dir), names)


def _grid_warnings(cfg: Any) -> bool:
    """For a grid study: print its warnings (a grid step the bar path decides); True."""
    from stratopt import cli_grid
    from stratopt.backtest import study_bars
    from stratopt.grid_study import is_grid_study

    if not is_grid_study(cfg):
        return False
    cli_grid.print_warnings(_err, cfg, study_bars(cfg), searched=True)
    return True


def _check_storage_option(storage: str | None) -> None:
    from stratopt.config import storage_url_problem
    from stratopt.errors import ConfigError

    problem = None if storage is None else storage_url_problem(storage)
    if problem:
        raise ConfigError(f"--storage: {problem}")


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
        # Started by the first report, so an error found before the search (bad study,
        # data or storage) is printed alone, without an empty bar above it.
        progress = Progress(*columns, console=_err, transient=False)
        tasks: list[Any] = []

        def show(p: Any) -> None:
            if not tasks:
                progress.start()
                tasks.append(progress.add_task("trials", total=None, info=""))
            rate = p.attempts / max(1e-9, _elapsed(p))
            best = "n/a" if p.best is None else f"{p.best:.4g}"
            progress.update(
                tasks[0],
                total=p.target,
                completed=min(p.complete, p.target),
                info=f"best {best} | pruned {p.pruned} | failed {p.failed} | {rate:.1f}/s",
            )

        try:
            yield show
        finally:
            if tasks:
                progress.stop()

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


def _pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value * 100:.1f}%"


def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.3g}"


def _print_holdout(report: Any) -> None:
    s = report.summary
    start, end = (str(s[k]).removesuffix(" 00:00:00") for k in ("start", "end"))
    table = Table(
        title=f"holdout {start} → {end} ({s['holdout_bars']} bars): in-sample → out-of-sample",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for col in ("rank", "trial", "Sharpe", "CAGR", "max DD", "trades"):
        table.add_column(col, justify="right", no_wrap=True)
    for c in s["candidates"]:
        i, o = c["in_sample"], c["out_of_sample"]
        table.add_row(
            str(c["rank"]), str(c["trial"]),
            f"{_num(i['sharpe'])} → {_num(o['sharpe'])}",
            f"{_pct(i['cagr'])} → {_pct(o['cagr'])}",
            f"{_pct(i['max_drawdown'])} → {_pct(o['max_drawdown'])}",
            f"{_num(i['trades'])} → {_num(o['trades'])}",
        )  # fmt: skip
    _out.print(table)
    med = s["median_degradation"]
    _out.print(
        f"median degradation out of sample: Sharpe {_pct(med['sharpe'])}, "
        f"CAGR {_pct(med['cagr'])}, max drawdown {_pct(med['max_drawdown'])} "
        "(positive = worse)",
        soft_wrap=True,
    )


def _print_walk_forward(result: Any) -> None:
    table = Table(
        title=f"{result.study_name}: walk-forward, {len(result.windows)} windows",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    cols = ("win", "test window", "params", "IS Sh", "OOS Sh", "OOS ret", "OOS DD", "trades")
    for col in cols:
        left = col in ("test window", "params")
        table.add_column(col, justify="left" if left else "right", no_wrap=col != "params")
    for w in result.windows:
        i, o = w.in_sample or {}, w.out_of_sample or {}
        params = " ".join(f"{k}={_cell(v)}" for k, v in (w.params or {}).items())
        table.add_row(
            str(w.window.index), _span(w.test), escape(params or (w.error or "")),
            _num(i.get("sharpe")), _num(o.get("sharpe")), _pct(o.get("total_return")),
            _pct(o.get("max_drawdown")), _num(o.get("trades")),
        )  # fmt: skip
    _out.print(table)
    m, e = result.stitched, result.efficiency
    if m:
        _out.print(
            f"stitched out of sample ({len(result.equity)} bars): return "
            f"{_pct(m['total_return'])}, CAGR {_pct(m['cagr'])}, Sharpe {_num(m['sharpe'])}, "
            f"max drawdown {_pct(m['max_drawdown'])}, {m['trades']:.0f} trades",
            soft_wrap=True,
        )
    _out.print(
        f"walk-forward efficiency: return {_num(e['return'])}, Sharpe {_num(e['sharpe'])} "
        f"(OOS ÷ mean IS: CAGR {_pct(e['out_of_sample_cagr'])} ÷ "
        f"{_pct(e['mean_in_sample_cagr'])}, Sharpe {_num(e['out_of_sample_sharpe'])} ÷ "
        f"{_num(e['mean_in_sample_sharpe'])})",
        soft_wrap=True,
    )
    for name, d in result.drift.items():
        spread = f", range {_cell(d['range'])}, std {_num(d['std'])}" if "range" in d else ""
        _out.print(
            f"drift {escape(name)}: {d['changes']} change(s) across windows, "
            f"{d['distinct']} distinct value(s){spread}",
            soft_wrap=True,
            highlight=False,
        )
    _out.print(f"run folder: {result.run_folder.resolve()}", soft_wrap=True, highlight=False)


def _span(bounds: tuple[Any, Any]) -> str:
    start, end = bounds
    fmt = "%y-%m-%d" if start.normalize() == start else "%y-%m-%d %H:%M"
    return f"{start.strftime(fmt)}→{'end' if end is None else end.strftime(fmt)}"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def _equity_frame(results: list[Any]) -> pd.DataFrame:
    frames = []
    for res in results:
        # a grid run also writes its exposures and open lots per bar
        frame = getattr(res, "per_bar", None)
        eq = (res.equity.rename("equity") if frame is None else frame).reset_index()
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


# ---- overfitting statistics (summary.json "statistics", stratopt.stats) -------------


def _print_verdict(stats: dict[str, Any] | None) -> None:
    if stats and stats.get("verdict"):
        _out.print(f"overfitting: {stats['verdict']}", soft_wrap=True, highlight=False)


def _latest_statistics(study: str, name: str) -> tuple[Path, dict[str, Any]] | None:
    """The `statistics` of the newest run folder of `name` that has them."""
    path = Path(study)
    root = Path.cwd() / "runs"
    if path.suffix.lower() in (".yaml", ".yml", ".json") or path.is_file():
        from stratopt.config import load_study

        root = load_study(path).output_dir
    folder = root / name
    if not folder.is_dir():
        return None
    for run in sorted((p for p in folder.iterdir() if p.is_dir()), reverse=True):
        try:
            summary = json.loads((run / "summary.json").read_text())
        except (OSError, ValueError):
            continue
        if isinstance(summary.get("statistics"), dict):
            return run, summary["statistics"]
    return None


_STAT_ROWS = (
    ("trials completed", "trials", "completed", "count"),
    ("best Sharpe (annualized)", "best", "sharpe_annualized", "ratio"),
    ("observations", "best", "observations", "count"),
    ("skew", "best", "skew", "ratio"),
    ("kurtosis (excess)", "best", "kurtosis_excess", "ratio"),
    ("PSR (SR > 0)", "psr", "value", "ratio"),
    ("DSR", "dsr", "value", "ratio"),
    ("E[max Sharpe] of the trials (annualized)", "dsr", "expected_max_sharpe_annualized", "ratio"),
    ("PBO", "pbo", "pbo", "ratio"),
    ("PBO: P(OOS loss)", "pbo", "prob_oos_loss", "ratio"),
    ("PBO: degradation slope", "pbo", "degradation_slope", "ratio"),
    ("MinTRL (years)", "min_track_record_length", "years", "ratio"),
    ("MinBTL (years)", "min_backtest_length", "years", "ratio"),
    ("backtest length (years)", "best", "years", "ratio"),
    ("SPA p-value (consistent)", "spa", "pvalue_consistent", "ratio"),
)


def _print_statistics(found: tuple[Path, dict[str, Any]] | None) -> None:
    if found is None:
        return
    run, stats = found
    table = Table(title=f"overfitting statistics (run {run.name})", box=box.SIMPLE_HEAD)
    table.add_column("statistic")
    table.add_column("value", justify="right")
    for label, section, key, unit in _STAT_ROWS:
        part = stats.get(section)
        if not isinstance(part, dict):
            continue
        if part.get("available") is False:
            table.add_row(escape(label), escape(f"n/a ({part.get('reason', '')})"))
            continue
        value = part.get(key)
        if value is None:
            continue
        table.add_row(escape(label), _format(float(value), unit))
    _out.print(table)
    _print_verdict(stats)


def _print_cpcv(cpcv: Any) -> None:
    if not isinstance(cpcv, dict):
        return
    if cpcv.get("available") is False:
        _out.print(f"cross-validation: n/a ({escape(str(cpcv.get('reason')))})", highlight=False)
        return
    table = Table(
        title=(
            f"CPCV: {cpcv['groups']} groups, {cpcv['test_groups']} test groups, "
            f"{cpcv['n_splits']} splits, {cpcv['n_paths']} paths over "
            f"{cpcv['candidates']} candidates (chosen by {cpcv['metric']})"
        ),
        box=box.SIMPLE_HEAD,
    )
    for col in ("path metric", "min", "p5", "median", "p95", "max"):
        table.add_column(col, justify="left" if col == "path metric" else "right")
    for name, d in cpcv["distribution"].items():
        cells = [_num(d.get(k)) for k in ("min", "p5", "p50", "p95", "max")]
        table.add_row(escape(name), *cells)
    _out.print(table)


_MC_METHODS = {"trade_shuffle": "trade order", "bootstrap": "bootstrap"}


def _print_monte_carlo(mc: Any) -> None:
    if not isinstance(mc, dict):
        return
    if mc.get("available") is False:
        _out.print(f"Monte Carlo: n/a ({escape(str(mc.get('reason')))})", highlight=False)
        return
    table = Table(
        title=f"Monte Carlo of the best candidate ({mc['simulations']} paths)",
        box=box.SIMPLE_HEAD,
    )
    for col in ("symbol", "method", "statistic", "actual", "p5", "median", "p95"):
        table.add_column(
            col, justify="left" if col in ("symbol", "method", "statistic") else "right"
        )
    for symbol, parts in mc["symbols"].items():
        for method, res in parts.items():
            if res.get("available") is False:
                table.add_row(escape(symbol), method, escape(f"n/a ({res.get('reason')})"))
                continue
            for stat, label in (("final_equity", "final equity"), ("max_drawdown", "max DD"),
                                ("sharpe", "Sharpe")):  # fmt: skip
                pct = res["percentiles"][stat]
                table.add_row(
                    escape(symbol), _MC_METHODS.get(method, method), label,
                    _num(res["original"].get(stat)),
                    *(_num(pct.get(q)) for q in ("p5", "p50", "p95")),
                )  # fmt: skip
    _out.print(table)


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

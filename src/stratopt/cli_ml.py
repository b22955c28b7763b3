"""`stratopt ml`: two-stage tuning of model-driven strategies (commands and their tables).

Registered on the main app by `stratopt.cli`; errors reach its `main`, which prints one
line and exits 2 for bad input.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

__all__ = ["ml_app"]

ml_app = typer.Typer(
    name="ml",
    help="Two-stage tuning: a model on IC (stage 1), then a trading rule on Sharpe (stage 2).",
    no_args_is_help=True,
)

_out = Console()

StudyArg = Annotated[Path, typer.Argument(help="Two-stage study file (YAML or JSON).")]
StorageOpt = Annotated[str | None, typer.Option(help="Optuna storage URL.")]
OutputOpt = Annotated[Path | None, typer.Option(help="Root of run folders.")]
TrialsOpt = Annotated[int | None, typer.Option(help="Completed trials to reach (this stage).")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a study-file field: dotted.path=value (value parsed as YAML). Repeatable.",
        metavar="KEY=VALUE",
    ),
]


def _overrides(
    set_: list[str] | None, output: Path | None, trials: dict[str, int | None]
) -> list[str]:
    out = list(set_ or [])
    for key, value in trials.items():
        if value is not None:
            out.append(f"{key}={value}")
    if output is not None:
        out.append(f"output={json.dumps(str(output.resolve()))}")
    return out


def _run(study: Path, storage: str | None, overrides: list[str], **kwargs: Any) -> Any:
    # Imported on use, as in stratopt.cli: `stratopt --help` must not load LightGBM.
    from stratopt.ml import TuneOptions, tune

    with _out.status("tuning...") as status:

        def progress(stage: str, done: int, target: int) -> None:
            status.update(f"{stage}: {done}/{target} trials")

        options = TuneOptions(storage=storage, overrides=overrides, progress=progress, **kwargs)
        return tune(study, options)


@ml_app.command("tune")
def tune_command(
    study: StudyArg,
    storage: StorageOpt = None,
    output: OutputOpt = None,
    set_: SetOpt = None,
    trials: TrialsOpt = None,
) -> None:
    """Both stages and the holdout; write the honesty report. `--trials`: stage 1."""
    result = _run(study, storage, _overrides(set_, output, {"stage1.trials": trials}))
    _report(result)


@ml_app.command("stage1")
def stage1_command(
    study: StudyArg,
    storage: StorageOpt = None,
    output: OutputOpt = None,
    set_: SetOpt = None,
    trials: TrialsOpt = None,
) -> None:
    """Stage 1 only: search the model on out-of-fold IC (the holdout is not touched)."""
    overrides = _overrides(set_, output, {"stage1.trials": trials})
    _report(_run(study, storage, overrides, stages="stage1"))


@ml_app.command("stage2")
def stage2_command(
    study: StudyArg,
    storage: StorageOpt = None,
    output: OutputOpt = None,
    set_: SetOpt = None,
    trials: TrialsOpt = None,
    from_trial: Annotated[
        int | None, typer.Option("--from-trial", help="Use this stage-1 trial's predictions.")
    ] = None,
) -> None:
    """Stage 2 on the stored stage-1 predictions, then the holdout and the honesty report."""
    overrides = _overrides(set_, output, {"stage2.trials": trials})
    _report(_run(study, storage, overrides, stages="stage2", from_trial=from_trial))


def _num(value: Any, digits: int = 3) -> str:
    if isinstance(value, int | float) and math.isfinite(float(value)):
        return f"{float(value):.{digits}f}"
    return "n/a"


def _report(result: Any) -> None:
    summary = result.summary
    look = summary.get("lookahead") or {}
    if look and not look.get("clean", True):
        _out.print(f"[bold red]look-ahead in features:[/] {', '.join(sorted(look['leaks']))}")
    for model in summary.get("stage1", {}).get("models", []):
        _print_folds(model)
    if "stage2" in summary:
        _print_stage2(summary["stage2"], summary.get("overfitting", {}))
    t = result.training
    _out.print(f"models fit: {t.trained}, read from the cache: {t.cached}")
    _out.print(f"run folder: {result.run_folder.resolve()}", soft_wrap=True, highlight=False)


def _print_folds(model: dict[str, Any]) -> None:
    dev = model.get("development", {})
    table = Table(
        title=f"stage 1, trial {model['trial']}: rank IC {_num(dev.get('rank_ic'), 4)} "
        f"± {_num(dev.get('rank_ic_se'), 4)}",
        box=box.SIMPLE,
    )
    for col in ("fold", "test", "rank IC", "SE", "IC", "SE"):
        table.add_column(col, justify="right" if col not in ("test",) else "left")
    for f in model.get("folds", []):
        table.add_row(
            str(f["fold"]),
            f"{f['test_start'][:10]} .. {f['test_end'][:10]}",
            _num(f.get("rank_ic"), 4),
            _num(f.get("rank_ic_se"), 4),
            _num(f.get("ic"), 4),
            _num(f.get("ic_se"), 4),
        )
    _out.print(table)
    hold = model.get("holdout") or {}
    if "rank_ic" in hold:
        _out.print(
            f"holdout rank IC {_num(hold['rank_ic'], 4)} ± {_num(hold.get('rank_ic_se'), 4)}"
        )


def _print_stage2(s2: dict[str, Any], stats: dict[str, Any]) -> None:
    table = Table(title=f"stage 2 ({s2.get('objective')})", box=box.SIMPLE)
    for col in ("candidate", "trial", "development Sharpe", "holdout Sharpe", "degradation"):
        table.add_column(col, justify="right")
    for row in (s2.get("best"), s2.get("robust")):
        if row:
            table.add_row(
                str(row["candidate"]),
                str(row["trial"]),
                _num(row.get("development_sharpe")),
                _num(row.get("holdout_sharpe")),
                _num(row.get("degradation")),
            )
    _out.print(table)
    dsr, pbo = stats.get("dsr_development", {}), stats.get("pbo", {})
    _out.print(
        f"deflated Sharpe: {_num(dsr.get('n2'))} (N = {stats.get('stage2_trials')}), "
        f"{_num(dsr.get('n1xn2'))} (N = {stats.get('stage1_trials')} x "
        f"{stats.get('stage2_trials')}); PBO {_num(pbo.get('value'))}"
    )

"""`stratopt ml`: two-stage tuning of model-driven strategies.

A sub-app of the one typer `app`; errors reach its `main`, which prints one line and
exits 2 for bad input. The tables are in `_ml_render`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from stratopt.cli._app import app
from stratopt.cli._console import out
from stratopt.cli._ml_render import print_tuning
from stratopt.ml import TuneOptions, tune

__all__ = ["ml_app"]

ml_app = typer.Typer(
    name="ml",
    help="Two-stage tuning: a model on IC (stage 1), then a trading rule on Sharpe (stage 2).",
    no_args_is_help=True,
)
app.add_typer(ml_app)

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
    with out.status("tuning...") as status:

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
    print_tuning(result)


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
    print_tuning(_run(study, storage, overrides, stages="stage1"))


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
    print_tuning(_run(study, storage, overrides, stages="stage2", from_trial=from_trial))

"""The typer application, the options several commands share, and the entry point.

Exit codes: 0 success, 1 a failed run, 2 bad input (study file, data, options).
"""

from __future__ import annotations

import sys
from typing import Annotated

import optuna
import typer
from rich.markup import escape

from stratopt._version import __version__
from stratopt.cli._console import err, out
from stratopt.cli._title import mask_passwords_in_title
from stratopt.errors import ConfigError, Interrupted, StratoptError, UserInputError
from stratopt.storage import DbRetry, check_url, parse_seconds

__all__ = [
    "DbRetryOption",
    "GraceOption",
    "HeartbeatOption",
    "ReportOption",
    "SetOption",
    "app",
    "check_storage_option",
    "db_retry",
    "main",
    "search_overrides",
]

app = typer.Typer(
    name="stratopt",
    help="Find trading-strategy parameters that hold up out of sample.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a study-file field: dotted.path=value (value parsed as YAML). Repeatable.",
        metavar="KEY=VALUE",
    ),
]
ReportOption = Annotated[
    bool, typer.Option(help="Write report.html into the run folder (needs stratopt[report]).")
]
HeartbeatOption = Annotated[
    int, typer.Option(min=1, help="Seconds between heartbeats of a running trial.")
]
GraceOption = Annotated[
    int,
    typer.Option(min=2, help="Seconds without a heartbeat after which a trial is orphaned."),
]

DbRetryOption = Annotated[
    str,
    typer.Option(
        "--db-retry",
        help="How long to ride out a database outage (e.g. 120s, 5m; 0: give up at once).",
        metavar="DURATION",
    ),
]


def db_retry(text: str) -> DbRetry:
    """`--db-retry` as a policy (ConfigError naming the flag)."""
    return DbRetry(parse_seconds(text, "--db-retry"))


def _version(value: bool) -> None:
    if value:
        out.print(f"stratopt {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """stratopt: search, score and validate trading-strategy parameters."""


def check_storage_option(storage: str | None) -> None:
    """A `--storage` that names no storage fails here, before the study is read."""
    problem = None if storage is None else check_url(storage)
    if problem:
        raise ConfigError(f"--storage: {problem}")


def search_overrides(set_: list[str] | None, **search: object) -> list[str]:
    """The `--set` overrides plus `search.<key>=<value>` for each search flag given."""
    overrides = list(set_ or [])
    overrides += [f"search.{key}={value}" for key, value in search.items() if value is not None]
    return overrides


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `stratopt` console script."""
    mask_passwords_in_title()  # before anything slow: `ps` must not show a password
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        app(args=argv, standalone_mode=True)
    except UserInputError as exc:
        err.print("[bold red]error:[/]", escape(str(exc)), highlight=False)
        sys.exit(2)
    except StratoptError as exc:  # e.g. the storage cannot be reached: a failed run
        err.print("[bold red]error:[/]", escape(str(exc)), highlight=False)
        sys.exit(1)
    except Interrupted as exc:  # a worker or launch asked to stop (it cleaned up)
        err.print(f"[bold red]interrupted[/] by {exc.name}", highlight=False)
        sys.exit(exc.exit_code)

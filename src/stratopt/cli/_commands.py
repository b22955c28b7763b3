"""Every command of the `stratopt` command line, registered on the one typer `app`.

One module per group of commands (`_study_commands`, `_report_commands`,
`_store_commands`, `_lookahead_commands`, `_worker_commands`, `_batch_commands`,
`_strategy_commands`), each registering its commands on the one typer `app` of `_app`;
the `_render*` and `_console` modules print everything. A new command is a function in
one of them (or a new `_<group>_commands.py`, imported below in the order `--help` lists
it).

Exit codes: 0 success, 1 a failed run, 2 bad input (study file, data, options).
"""

from __future__ import annotations

# isort: off
# Imported for the commands they register, in the order `--help` lists them.
from stratopt.cli import _study_commands  # noqa: F401
from stratopt.cli import _report_commands  # noqa: F401
from stratopt.cli import _store_commands  # noqa: F401
from stratopt.cli import _lookahead_commands  # noqa: F401
from stratopt.cli import _worker_commands  # noqa: F401
from stratopt.cli import _strategy_commands  # noqa: F401
from stratopt.cli import _ml_commands  # noqa: F401
from stratopt.cli import _batch_commands  # noqa: F401
from stratopt.cli import _mcp_commands  # noqa: F401

# isort: on
from stratopt.cli._app import app, main

__all__ = ["app", "main"]

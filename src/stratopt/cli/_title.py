"""A password given on the command line is masked in the process's own command line.

`stratopt launch --storage postgresql://quant:pw@db/studies` (or `--set storage=...`)
is world-readable in `ps` and /proc/<pid>/cmdline for as long as the launcher runs. The
CLI rewrites its process title (setproctitle, part of the `postgres` extra) to the same
arguments with every password as `***`, first thing in `main`: the password is visible
only while the interpreter starts and imports the CLI (about a second). The workers
`launch` starts get the URL through the environment, never on their command line.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from stratopt.storage import redact

__all__ = ["mask_passwords_in_title"]


def mask_passwords_in_title(argv: Sequence[str] | None = None) -> bool:
    """Rewrite the process title if an argument holds a password; whether it did."""
    args = list(sys.orig_argv if argv is None else argv)
    masked = [redact(a) for a in args]
    if masked == args:
        return False
    try:
        from setproctitle import setproctitle  # optional: the `postgres` extra
    except ImportError:
        return False
    setproctitle(" ".join(masked))
    return True

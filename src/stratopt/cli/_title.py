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
from collections.abc import Callable, Sequence

from stratopt.storage import redact

_set_title: Callable[[str], None] | None
try:
    from setproctitle import setproctitle as _set_title
except ImportError:  # optional: the `postgres` extra
    _set_title = None

__all__ = ["mask_passwords_in_title"]


def mask_passwords_in_title(argv: Sequence[str] | None = None) -> bool:
    """Rewrite the process title if an argument holds a password; whether it did."""
    args = list(sys.orig_argv if argv is None else argv)
    masked = [redact(a) for a in args]
    if masked == args or _set_title is None:
        return False
    _set_title(" ".join(masked))
    return True

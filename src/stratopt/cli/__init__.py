"""The `stratopt` command line. Thin: parse, call an operation, render.

Exit codes: 0 success, 1 a failed run, 2 bad input (study file, data, options).
"""

from __future__ import annotations

from stratopt.cli._render import app, main

__all__ = ["app", "main"]

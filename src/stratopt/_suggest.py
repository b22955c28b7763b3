"""The one "did you mean ...?" hint of every error message about an unknown name."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["closest", "did_you_mean"]


def closest(name: object, choices: Iterable[str], *, prefix: bool = False) -> str | None:
    """The choice `name` most likely meant, or None.

    difflib's closest match (ratio >= 0.6); with `prefix`, a choice that starts with a
    name of 3 or more characters comes first (`max_d` -> `max_drawdown`).
    """
    text = str(name)
    options = list(choices)
    if prefix and len(text) >= 3:
        for choice in options:
            if choice.startswith(text):
                return choice
    match = difflib.get_close_matches(text, options, n=1)
    return match[0] if match else None


def did_you_mean(name: object, choices: Iterable[str], *, prefix: bool = False) -> str:
    """``"; did you mean 'x'?"`` for the closest choice, or ``""`` when none is close."""
    match = closest(name, choices, prefix=prefix)
    return f"; did you mean {match!r}?" if match is not None else ""

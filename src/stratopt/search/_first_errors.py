"""Stop a study whose first candidates all fail with the same exception.

That is a deterministic bug in the strategy (or the objective), not bad luck: without
this stop it is retried until `max_attempts` (900 times and more), and the user waits
for a table of failures. Once any candidate has run (in this or an earlier run of the
study), failures are left to `max_attempts` as before.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from optuna.trial import FrozenTrial, TrialState

from stratopt.storage import record

__all__ = ["SAME_ERROR_STOP", "FirstErrors"]

SAME_ERROR_STOP = 10
"""Failures with the same exception, before any candidate ran, that stop a study."""

_EXCEPTION = re.compile(r"([A-Za-z_][\w.]*): ")


@dataclass
class FirstErrors:
    """The exception type of each failure so far; None once a candidate has run."""

    kinds: list[str] | None = field(default_factory=list)

    @classmethod
    def of(cls, trials: Iterable[FrozenTrial]) -> FirstErrors:
        ran = any(t.state != TrialState.FAIL and "metrics" in record(t) for t in trials)
        return cls(None if ran else [])

    def note(self, error: str | None) -> None:
        """Count one evaluated candidate: its error (None: it ran)."""
        if self.kinds is None:
            return
        if error is None:
            self.kinds = None
            return
        match = _EXCEPTION.match(error)
        self.kinds.append(match.group(1) if match else error)

    def note_all(self, errors: Iterable[str | None]) -> None:
        """`note` each in turn (nothing to count once a candidate has run)."""
        if self.kinds is None:
            return
        for error in errors:
            self.note(error)

    def stop_reason(self) -> str | None:
        kinds = self.kinds
        if kinds is not None and len(kinds) >= SAME_ERROR_STOP and len(set(kinds)) == 1:
            return f"the first {len(kinds)} candidates failed with the same error ({kinds[0]})"
        return None

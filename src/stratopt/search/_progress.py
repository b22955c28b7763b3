"""What a run reports while it runs (`Progress`) and what it did (`RunResult`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import optuna

from stratopt.storage import MetricRows

__all__ = ["Progress", "RunResult"]


@dataclass
class Progress:
    """Counts the CLI shows while a study runs."""

    target: int
    complete: int = 0
    pruned: int = 0
    failed: int = 0
    attempts: int = 0
    best: float | None = None
    direction: str | None = None  # None: several objectives, no single "best"
    stage: str | None = None  # what runs before the first trial ends (e.g. compiling)
    started: float = field(default_factory=time.monotonic)

    def consider(self, values: Sequence[float]) -> None:
        """Update `best` with the values of a completed trial."""
        if self.direction is None:
            return
        v = values[0]
        if self.best is None or (v > self.best if self.direction == "maximize" else v < self.best):
            self.best = v

    @property
    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.monotonic() - self.started


@dataclass
class RunResult:
    """What one invocation did."""

    study: optuna.Study
    progress: Progress
    stopped_by: str
    seconds: float
    # the metrics recorded by this run, by the evaluator's rows (an in-memory study's):
    # what `ranked_frame` may take them from
    metric_rows: MetricRows | None = None

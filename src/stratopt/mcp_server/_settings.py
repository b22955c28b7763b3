"""The server's settings: the workspace root and the caps on what a tool may ask for."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ServerSettings"]


@dataclass(frozen=True)
class ServerSettings:
    """How `stratopt mcp` serves.

    Attributes:
        root: The workspace: every path a tool reads or writes is resolved under it.
        storage: An Optuna storage URL for every study (`--storage`, else
            $STRATOPT_STORAGE); None: each study's own, which must be SQLite under root.
        max_trials: Most COMPLETE trials one study (or one walk-forward window) may target.
        max_windows: Most walk-forward windows one job may run.
        max_bars: Most bars of generated (synthetic) data.
        max_jobs: Jobs that may run at once (one: the machine is the agent's user's).
        max_wait: Longest `wait_seconds` (many clients give up on a call after 60 s).
        max_jobs_per_study: Search processes a study may ask for (`search.jobs`).
        max_cells: Most cells (series x parameter sets) one backtest_batch may run.
        max_paths: Most Monte Carlo paths one analyze_results may draw.
    """

    root: Path
    storage: str | None = None
    max_trials: int = 5000
    max_windows: int = 60
    max_bars: int = 2_000_000
    max_jobs: int = 1
    max_wait: float = 50.0
    max_jobs_per_study: int = field(default_factory=lambda: os.cpu_count() or 1)
    max_cells: int = 20_000
    max_paths: int = 20_000

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).resolve())

"""Small studies of every kind a report shows, run for real (a few seconds each)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from stratopt.config import load_study
from stratopt.operations import optimize_study

DATA = {"synthetic": {"bars": 1500, "seed": 5, "edge_period": 90, "edge_strength": 0.4}}
SPACE = {
    "fast": {"low": 2, "high": 30},
    "slow": {"low": 20, "high": 120, "step": 5},
    "backtest": {"stop_loss": [0.03, 0.05, 0.08]},
}


def study_file(root: Path, name: str, **changes: Any) -> Path:
    """A study file under `root` (its runs in `root/runs`), with `changes` applied."""
    study: dict[str, Any] = {
        "name": name,
        "data": DATA,
        "strategy": "sma_cross",
        "params": {"mode": "reversal"},
        "space": SPACE,
        "constraints": ["slow >= fast + 10"],
        "backtest": {"cash": 10000, "commission": 0.001, "fill": "next_open"},
        "search": {"method": "tpe", "trials": 24, "seed": 3, "batch": 8},
        "objective": "sharpe",
        "validation": {"holdout": 0.2, "top": 3, "cpcv": {"groups": 5, "test_groups": 2}},
        "output": str(root / "runs"),
    }
    study.update(changes)
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def optimized(root: Path, name: str, **changes: Any) -> Path:
    """Run the study's optimization; its run folder."""
    return optimize_study(load_study(study_file(root, name, **changes))).run_folder.path

"""Reading the folders `optimize`, `walk-forward` and `validate` write (docs/search.md,
docs/validation.md): file names and summary.json keys are stable, so this is all a report
needs to know about them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from stratopt.errors import ConfigError
from stratopt.reporting._inputs import RunKind, StoredRun

__all__ = ["SUMMARY", "folder_kind", "read_run_folder", "sibling_optimize_run"]

SUMMARY = "summary.json"
RANKED = "ranked_results.csv"
HOLDOUT = "holdout.csv"
WALK_FORWARD = "walk_forward.json"
WALK_FORWARD_EQUITY = "walk_forward_equity.csv"
VALIDATION = "validation.json"
CPCV_PATHS = "cpcv_paths.csv"


def folder_kind(folder: Path) -> RunKind | None:
    """Which command wrote `folder`, from the files in it (None: not a run folder)."""
    if (folder / WALK_FORWARD).is_file():
        return "walk-forward"
    if (folder / VALIDATION).is_file():
        return "validate"
    if (folder / SUMMARY).is_file():
        return "optimize"
    return None


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not readable as JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return data


def _csv(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path, keep_default_na=True, low_memory=False)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not readable as CSV ({exc})") from None


def sibling_optimize_run(folder: Path) -> Path | None:
    """The newest optimization run folder of the same study, made no later than `folder`.

    Walk-forward and validate folders live at `<output>/<name>/<command>/<stamp>/`, the
    study's optimization runs at `<output>/<name>/<stamp>/`; stamps sort in time.
    """
    study_dir = folder.parent.parent
    stamp = folder.name
    found = (
        [
            p
            for p in study_dir.iterdir()
            if p.is_dir() and (p / SUMMARY).is_file() and p.name <= stamp
        ]
        if study_dir.is_dir()
        else []
    )
    return max(found, key=lambda p: p.name) if found else None


def read_run_folder(folder: Path) -> StoredRun:
    """A run folder of `optimize`, `walk-forward` or `validate`, as written.

    A validate folder holds no trials: the study's newest optimization run beside it
    (made before it) gives the summary and ranked trials.

    Raises:
        ConfigError: not a run folder, or a file in it is unreadable.
    """
    kind = folder_kind(folder)
    if kind is None:
        raise ConfigError(
            f"{folder}: not a run folder (no {SUMMARY}, {WALK_FORWARD} or {VALIDATION})"
        )
    if kind == "optimize":
        return _optimize_run(folder)
    if kind == "walk-forward":
        wf = _json(folder / WALK_FORWARD)
        return StoredRun(
            kind=kind,
            folder=folder,
            summary={},
            ranked=pd.DataFrame(),
            walk_forward=wf,
            walk_forward_equity=_csv(folder / WALK_FORWARD_EQUITY),
        )
    validation = _json(folder / VALIDATION)
    base = sibling_optimize_run(folder)
    stored = _optimize_run(base) if base is not None else None
    return StoredRun(
        kind=kind,
        folder=folder,
        summary=stored.summary if stored is not None else {},
        ranked=stored.ranked if stored is not None else pd.DataFrame(),
        holdout=_csv(folder / HOLDOUT),
        validation=validation,
        cpcv_paths=_csv(folder / CPCV_PATHS),
    )


def _optimize_run(folder: Path) -> StoredRun:
    summary = _json(folder / SUMMARY)
    ranked = _csv(folder / RANKED)
    return StoredRun(
        kind="optimize",
        folder=folder,
        summary=summary,
        ranked=ranked if ranked is not None else pd.DataFrame(),
        holdout=_csv(folder / HOLDOUT),
    )


def summary_counts(summary: Mapping[str, Any]) -> dict[str, int]:
    """Trial counts by state (complete, pruned, fail, ...) as summary.json has them."""
    counts = summary.get("counts")
    if not isinstance(counts, Mapping):
        return {}
    return {str(k): int(v) for k, v in counts.items() if isinstance(v, int | float)}

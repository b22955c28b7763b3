"""Reading the folders `optimize`, `walk-forward`, `validate`, `ml` and `batch` write
(docs/search.md, docs/validation.md, docs/ml.md, docs/batch.md): file names and
summary.json keys are stable, so this is all a report needs to know about them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from stratopt.errors import ConfigError
from stratopt.metrics import get_metric
from stratopt.reporting._inputs import BatchRun, MlRun, RunKind, StoredRun

__all__ = ["SUMMARY", "folder_kind", "read_run_folder", "sibling_optimize_run"]

SUMMARY = "summary.json"
RANKED = "ranked_results.csv"
HOLDOUT = "holdout.csv"
WALK_FORWARD = "walk_forward.json"
WALK_FORWARD_EQUITY = "walk_forward_equity.csv"
VALIDATION = "validation.json"
CPCV_PATHS = "cpcv_paths.csv"
ML_STAGE1 = "stage1_trials.csv"
ML_FOLDS = "stage1_folds.csv"
ML_STAGE2 = "stage2_trials.csv"
BATCH_CELLS = "batch.csv"


def folder_kind(folder: Path) -> RunKind | None:
    """Which command wrote `folder`, from the files in it (None: not a run folder)."""
    if (folder / WALK_FORWARD).is_file():
        return "walk-forward"
    if (folder / VALIDATION).is_file():
        return "validate"
    if (folder / ML_STAGE1).is_file() and (folder / SUMMARY).is_file():
        return "ml"
    if (folder / BATCH_CELLS).is_file() and (folder / SUMMARY).is_file():
        return "batch"
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


def _csv(path: Path, *, only_empty_is_na: bool = False) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        if only_empty_is_na:
            return pd.read_csv(path, low_memory=False, keep_default_na=False, na_values=[""])
        return pd.read_csv(path, low_memory=False, keep_default_na=True)
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
    """A run folder of `optimize`, `walk-forward`, `validate`, `ml` or `batch`, as written.

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
    if kind == "ml":
        return _ml_run(folder)
    if kind == "batch":
        return _batch_run(folder)
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


def _ml_run(folder: Path) -> StoredRun:
    """A two-stage run: its files as written, and its last stage's search seen as an
    optimization's (objective, direction, counts, robust pick) for the search figures."""
    summary = _json(folder / SUMMARY)
    stage1 = _csv(folder / ML_STAGE1)
    stage2 = _csv(folder / ML_STAGE2)
    folds = _csv(folder / ML_FOLDS)
    ml = MlRun(
        summary=summary,
        stage1=stage1 if stage1 is not None else pd.DataFrame(),
        folds=folds if folds is not None else pd.DataFrame(),
        holdout=_csv(folder / HOLDOUT),
    )
    config = summary.get("config") if isinstance(summary.get("config"), Mapping) else {}
    stage = "stage2" if stage2 is not None else "stage1"
    searched = config.get(stage) if isinstance(config, Mapping) else None
    searched = searched if isinstance(searched, Mapping) else {}
    ranked = stage2 if stage2 is not None else ml.stage1
    view = _search_view(summary, stage, searched, ranked)
    return StoredRun(kind="ml", folder=folder, summary=view, ranked=ranked, ml=ml)


def _batch_run(folder: Path) -> StoredRun:
    """A batch run: summary.json, batch.csv and its matrices (the ranking metric's first)."""
    summary = _json(folder / SUMMARY)
    if summary.get("kind") != "batch":
        raise ConfigError(
            f"{folder / SUMMARY}: kind is {summary.get('kind')!r}, expected 'batch' "
            f"beside {BATCH_CELLS}"
        )
    # As `stratopt analyze` reads it: only an empty field is missing (a symbol "NA" is not).
    cells = _csv(folder / BATCH_CELLS, only_empty_is_na=True)
    metric = str(summary.get("metric") or "")
    names = sorted(p.name for p in folder.glob("matrix_*.csv"))
    names.sort(key=lambda n: n != f"matrix_{metric}.csv")
    matrices: dict[str, pd.DataFrame] = {}
    for name in names:
        try:
            matrices[name.removeprefix("matrix_").removesuffix(".csv")] = pd.read_csv(
                folder / name, index_col=0
            )
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{folder / name}: not readable as CSV ({exc})") from None
    batch = BatchRun(
        summary=summary,
        cells=cells if cells is not None else pd.DataFrame(),
        matrices=matrices,
    )
    return StoredRun(kind="batch", folder=folder, summary=summary, ranked=pd.DataFrame(),
                     batch=batch)  # fmt: skip


def _search_view(
    summary: Mapping[str, Any], stage: str, searched: Mapping[str, Any], ranked: pd.DataFrame
) -> dict[str, Any]:
    objective = str(searched.get("objective") or "value")
    # Stage 1's objectives are all ICs (higher is better); stage 2's are engine metrics.
    try:
        higher = stage == "stage1" or get_metric(objective).higher_is_better
    except (KeyError, ValueError):
        higher = True
    states = ranked["state"].value_counts() if "state" in ranked else pd.Series(dtype=int)
    view: dict[str, Any] = {
        "study": f"{summary.get('study', 'study')} ({stage.replace('stage', 'stage ')})",
        "objective": objective,
        "directions": ["maximize" if higher else "minimize"],
        "config": {"objective": objective, "space": searched.get("space") or {}},
        "counts": {str(k): int(v) for k, v in states.items()},
    }
    part = summary.get(stage)
    robust = part.get("robust") if isinstance(part, Mapping) else None
    if isinstance(robust, Mapping) and robust.get("trial") is not None:
        picked = {"trial": robust["trial"], "smoothed": robust.get("smoothed")}
        view["robustness"] = {"robust": picked}
    return view


def summary_counts(summary: Mapping[str, Any]) -> dict[str, int]:
    """Trial counts by state (complete, pruned, fail, ...) as summary.json has them."""
    counts = summary.get("counts")
    if not isinstance(counts, Mapping):
        return {}
    return {str(k): int(v) for k, v in counts.items() if isinstance(v, int | float)}

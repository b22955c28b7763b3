"""Where studies live (Optuna storages) and what each run writes (run folders)."""

from __future__ import annotations

from stratopt.storage._runfolder import RunFolder, new_run_dir, ranked_frame, write_run_folder
from stratopt.storage._studies import (
    keep_top_trials,
    load_ranked,
    load_study_from,
    study_summaries,
)
from stratopt.storage._urls import (
    ENV_STORAGE,
    Heartbeat,
    StorageError,
    default_storage_url,
    open_storage,
    redact,
    resolve_storage_url,
    study_names,
)

__all__ = [
    "ENV_STORAGE",
    "Heartbeat",
    "RunFolder",
    "StorageError",
    "default_storage_url",
    "keep_top_trials",
    "load_ranked",
    "load_study_from",
    "new_run_dir",
    "open_storage",
    "ranked_frame",
    "redact",
    "resolve_storage_url",
    "study_names",
    "study_summaries",
    "write_run_folder",
]

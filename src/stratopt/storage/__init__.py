"""Where studies live (Optuna storages), how their trials rank, what each run writes.

Storage URLs and opening them; the user-attribute keys stratopt records on Optuna; the
ranking of a study's trials; run folders and the provenance they record.
"""

from __future__ import annotations

from stratopt.storage._attrs import (
    ATTR,
    ATTR_FINGERPRINT,
    ATTR_LOOKAHEAD,
    ATTR_NORMALIZER,
    ATTR_ROBUSTNESS,
    ATTR_SELECTION,
    ATTR_WINDOW,
    record,
)
from stratopt.storage._bulk import HandedTrial, OwnedTrial, add_trials, bulk_written
from stratopt.storage._claims import CLAIM_ATTR
from stratopt.storage._metric_rows import MetricRows
from stratopt.storage._owner import OWNER_ATTR
from stratopt.storage._provenance import git_commit, sha256, versions
from stratopt.storage._ranking import (
    best_trial,
    best_value,
    order_trials,
    pareto_fronts,
    per_symbol_frame,
    ranked_frame,
    trial_counts,
)
from stratopt.storage._resilient import (
    ResilientStorage,
    claim_keys,
    create_claim,
    resilient_backend,
    return_trials,
)
from stratopt.storage._retry import DbRetry, is_transient, parse_seconds
from stratopt.storage._runfolder import (
    RunFolder,
    check_study_name,
    discard_if_empty,
    new_run_dir,
    write_json,
    write_run_folder,
)
from stratopt.storage._studies import (
    keep_top_trials,
    leftover_studies,
    live_trials,
    load_ranked,
    load_study_from,
    study_summaries,
)
from stratopt.storage._trial_cache import forget_finished
from stratopt.storage._urls import (
    ENV_STORAGE,
    MEMORY_URLS,
    Heartbeat,
    StorageError,
    anchor_sqlite_url,
    check_url,
    default_storage_url,
    open_storage,
    redact,
    require_existing,
    resolve_storage_url,
    sqlite_path,
    study_names,
)

__all__ = [
    "ATTR",
    "ATTR_FINGERPRINT",
    "ATTR_LOOKAHEAD",
    "ATTR_NORMALIZER",
    "ATTR_ROBUSTNESS",
    "ATTR_SELECTION",
    "ATTR_WINDOW",
    "CLAIM_ATTR",
    "ENV_STORAGE",
    "MEMORY_URLS",
    "OWNER_ATTR",
    "DbRetry",
    "HandedTrial",
    "Heartbeat",
    "MetricRows",
    "OwnedTrial",
    "ResilientStorage",
    "RunFolder",
    "StorageError",
    "add_trials",
    "anchor_sqlite_url",
    "best_trial",
    "best_value",
    "bulk_written",
    "check_study_name",
    "check_url",
    "claim_keys",
    "create_claim",
    "default_storage_url",
    "discard_if_empty",
    "forget_finished",
    "git_commit",
    "is_transient",
    "keep_top_trials",
    "leftover_studies",
    "live_trials",
    "load_ranked",
    "load_study_from",
    "new_run_dir",
    "open_storage",
    "order_trials",
    "pareto_fronts",
    "parse_seconds",
    "per_symbol_frame",
    "ranked_frame",
    "record",
    "redact",
    "require_existing",
    "resilient_backend",
    "resolve_storage_url",
    "return_trials",
    "sha256",
    "sqlite_path",
    "study_names",
    "study_summaries",
    "trial_counts",
    "versions",
    "write_json",
    "write_run_folder",
]

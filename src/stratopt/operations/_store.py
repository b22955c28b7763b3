"""The storage commands: list studies, show one, export its trials, keep its best.

A study is named by a study file (its name and storage) or by its bare name (in
`--storage`, $STRATOPT_STORAGE or `./runs/stratopt.db`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from optuna.trial import FrozenTrial

from stratopt.config import StudyConfig, load_study
from stratopt.errors import ConfigError, StratoptError
from stratopt.operations._backtest import write_csv
from stratopt.operations._candidate_files import fixed_study
from stratopt.operations._statistics import cleanup_record
from stratopt.storage import (
    ATTR_LOOKAHEAD,
    ATTR_ROBUSTNESS,
    ATTR_SELECTION,
    keep_top_trials,
    leftover_studies,
    live_trials,
    load_ranked,
    load_study_from,
    require_existing,
    resolve_storage_url,
    study_summaries,
)

__all__ = [
    "CleanupPlan",
    "StudyView",
    "cleanup_study",
    "export_study",
    "latest_statistics",
    "list_studies",
    "resolve_study",
    "show_study",
    "stored_trial",
    "studies_storage",
    "study_counts",
    "trial_study",
]

_STUDY_FILE = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class StudyView:
    """A stored study as `stratopt show` presents it.

    `robustness`/`lookahead`: the last optimization's sections (study attributes);
    `statistics`: the newest run folder that has them, and its statistics.
    """

    name: str
    url: str
    ranked: pd.DataFrame
    robustness: dict[str, Any] | None
    lookahead: dict[str, Any] | None
    statistics: tuple[Path, dict[str, Any]] | None


def _is_file(ref: str) -> bool:
    path = Path(ref)
    return path.suffix.lower() in _STUDY_FILE or path.is_file()


def resolve_study(ref: str, storage: str | None) -> tuple[str, str]:
    """(study name, storage URL) from a study file or a bare name, as the study's runs
    resolve it (a relative SQLite path from the study file); ConfigError when that is a
    SQLite file that does not exist: a command that reads never creates a database."""
    if _is_file(ref):
        cfg = load_study(ref)
        url = resolve_storage_url(storage, cfg.storage_url, cfg.output_dir, create=False)
        name = cfg.name
    else:
        name, url = ref, resolve_storage_url(storage, None, Path.cwd() / "runs", create=False)
    require_existing(url)
    return name, url


def studies_storage(ref: str | None, storage: str | None) -> str:
    """The storage `stratopt studies [STUDY_FILE]` reads (checked to exist)."""
    if ref is not None:
        return resolve_study(ref, storage)[1]
    url = resolve_storage_url(storage, None, Path.cwd() / "runs", create=False)
    require_existing(url)
    return url


def list_studies(storage: str | None) -> list[dict[str, Any]]:
    """Per study of the storage: name, counts by state and best value."""
    return study_summaries(studies_storage(None, storage))


def show_study(ref: str, *, storage: str | None = None, output: Path | None = None) -> StudyView:
    """The ranked trials of a study and the analyses of its last runs.

    `output`: where a bare name's run folders are (default ./runs); a study file's are
    in its `output`.
    """
    name, url = resolve_study(ref, storage)
    ranked = load_ranked(name, url)
    attrs = load_study_from(name, url).user_attrs
    if _is_file(ref):
        root = load_study(ref).output_dir
    else:
        root = output if output is not None else Path.cwd() / "runs"
    return StudyView(
        name, url, ranked, attrs.get(ATTR_ROBUSTNESS), attrs.get(ATTR_LOOKAHEAD),
        latest_statistics(root / name),
    )  # fmt: skip


def study_counts(url: str, name: str, *, windows: bool = False) -> dict[str, int]:
    """Trials by state of study `name` in `url`, or summed over its walk-forward window
    studies (`name/wf-*`) with `windows`; all zero when there are none."""
    totals = {s: 0 for s in ("complete", "pruned", "fail", "running")}
    for row in study_summaries(url):
        study = str(row["study"])
        if study.startswith(f"{name}/wf-") if windows else study == name:
            for key in totals:
                totals[key] += int(row.get(key, 0))
    return totals


def latest_statistics(folder: Path) -> tuple[Path, dict[str, Any]] | None:
    """The `statistics` of the newest run folder under `folder` that has them."""
    if not folder.is_dir():
        return None
    for run in sorted((p for p in folder.iterdir() if p.is_dir()), reverse=True):
        try:
            summary = json.loads((run / "summary.json").read_text())
        except (OSError, ValueError):
            continue
        if isinstance(summary.get("statistics"), dict):
            return run, summary["statistics"]
    return None


@dataclass(frozen=True)
class CleanupPlan:
    """What `cleanup_study` is about to do: keep `kept` trials of study `name` (in
    `url`), delete `deleted`; `leftovers`: temporary studies an interrupted cleanup left;
    `declined`: `confirm` said no and nothing was done."""

    name: str
    url: str
    kept: int
    deleted: int
    leftovers: tuple[str, ...]
    declined: bool = False


def cleanup_study(
    ref: str,
    keep: int,
    *,
    storage: str | None = None,
    force: bool = False,
    confirm: Callable[[CleanupPlan], bool] | None = None,
) -> CleanupPlan:
    """Keep the best `keep` trials of a study; what was done.

    Refused (StratoptError) while live workers hold RUNNING trials, unless `force`.
    Before deleting, the study's `ATTR_SELECTION` records every candidate backtested so
    far and their Sharpe moments: the statistics go on counting them. `confirm` is
    asked before a cleanup that deletes trials.
    """
    name, url = resolve_study(ref, storage)
    leftovers = tuple(leftover_studies(name, url))
    study = load_study_from(name, url)
    live = live_trials(name, url)
    if live and not force:
        raise StratoptError(
            f"cleanup: study {name!r} has {live} RUNNING trial(s) held by live workers "
            "(heartbeat within the grace period); stop them first, or pass --force"
        )
    ranked = load_ranked(name, url)
    total = len(study.get_trials(deepcopy=False))
    kept = min(keep, len(ranked))  # ranked: the complete, pruned and failed trials
    plan = CleanupPlan(name, url, kept, total - kept, leftovers)
    if plan.deleted and confirm is not None and not confirm(plan):
        return dataclasses.replace(plan, declined=True)
    directions = [d.name.lower() for d in study.directions]
    previous = study.user_attrs.get(ATTR_SELECTION)
    selection = cleanup_record(ranked, directions, previous, kept=kept, deleted=plan.deleted)
    done = keep_top_trials(name, url, keep, attrs={ATTR_SELECTION: selection})
    return dataclasses.replace(plan, kept=done[0], deleted=done[1])


def export_study(ref: str, csv: Path, *, storage: str | None = None) -> int:
    """Write every trial of a study, ranked, to `csv`; the number of trials."""
    name, url = resolve_study(ref, storage)
    frame = load_ranked(name, url)
    write_csv(csv, frame)
    return len(frame)


def stored_trial(ref: str, number: int, *, storage: str | None = None) -> FrozenTrial:
    """Trial `number` of a stored study (ConfigError naming `--trial` if it has none)."""
    name, url = resolve_study(ref, storage)
    return _find_trial(name, url, number)


def trial_study(study: StudyConfig, number: int, *, storage: str | None = None) -> StudyConfig:
    """`study` with trial `number`'s parameters fixed (its study read from the storage the
    study's runs use), for `stratopt backtest --trial N`."""
    url = resolve_storage_url(storage, study.storage_url, study.output_dir, create=False)
    require_existing(url)
    found = _find_trial(study.name, url, number)
    return fixed_study(study, found.params, source=f"trial {number}")


def _find_trial(name: str, url: str, number: int) -> FrozenTrial:
    trials = load_study_from(name, url).get_trials(deepcopy=False)
    found = next((t for t in trials if t.number == number), None)
    if found is None:
        span = f"0 to {len(trials) - 1}" if trials else "none yet"
        raise ConfigError(f"--trial: study {name!r} has no trial {number} (trials: {span})")
    return found

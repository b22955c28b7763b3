"""Reading and trimming studies in a storage (for `studies`, `show`, `export`, `cleanup`)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Literal

import optuna
import pandas as pd
from optuna.study import StudyDirection
from optuna.trial import TrialState

from stratopt.errors import ConfigError
from stratopt.storage._bulk import optuna_models
from stratopt.storage._lazy_sqlalchemy import sa
from stratopt.storage._owner import owner_ended
from stratopt.storage._ranking import ranked_frame
from stratopt.storage._resilient import resilient_backend
from stratopt.storage._urls import open_storage, redact

__all__ = [
    "keep_top_trials",
    "leftover_studies",
    "live_trials",
    "load_ranked",
    "load_study_from",
    "study_summaries",
]


def _directions(study: optuna.Study) -> list[Literal["minimize", "maximize"]]:
    return ["maximize" if d == StudyDirection.MAXIMIZE else "minimize" for d in study.directions]


def load_study_from(name: str, url: str) -> optuna.Study:
    """The Optuna study `name` in `url` (ConfigError naming both when missing)."""
    storage = open_storage(url)
    names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    if name not in names:
        known = ", ".join(names) or "none"
        raise ConfigError(f"no study {name!r} in {redact(url)} (studies there: {known})")
    return optuna.load_study(study_name=name, storage=storage)


def study_summaries(url: str) -> list[dict[str, Any]]:
    """Per study: name, trial counts by state and the best value (single objective)."""
    storage = open_storage(url)
    rows = []
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        counts = {s: 0 for s in ("complete", "pruned", "fail", "running")}
        for t in study.get_trials(deepcopy=False):
            key = t.state.name.lower()
            counts[key] = counts.get(key, 0) + 1
        best = None
        if len(study.directions) == 1 and counts["complete"]:
            best = study.best_value
        rows.append({"study": summary.study_name, **counts, "best": best})
    return rows


def load_ranked(name: str, url: str) -> pd.DataFrame:
    """`ranked_results.csv` of a stored study, as a DataFrame."""
    study = load_study_from(name, url)
    return ranked_frame(study, _directions(study))


def live_trials(name: str, url: str) -> int:
    """RUNNING trials of study `name` whose worker is alive: a heartbeat within the grace
    period (and no owner known to have ended) or, before its first heartbeat, started
    within it. Without heartbeats (no
    RDB storage) every RUNNING trial counts."""
    study = load_study_from(name, url)
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    backend = resilient_backend(study._storage)
    grace = backend.grace_seconds if backend is not None else None
    if backend is None or grace is None:
        return len(running)
    now, beats = backend._running_beats(study._study_id)
    started = {t._trial_id: t.datetime_start for t in running}
    local = datetime.datetime.now()  # Optuna stamps datetime_start with the local clock
    ages = [
        (now - beat if beat is not None else local - (started.get(tid) or local)).total_seconds()
        for tid, beat, owner in beats
        if beat is None or owner_ended(owner) is None
    ]
    return sum(1 for age in ages if age <= grace)


def leftover_studies(name: str, url: str) -> list[str]:
    """The temporary studies an interrupted cleanup of `name` left behind.

    A `.cleanup-tmp` without the study itself (an older stratopt deleted the study
    before copying the kept trials back) holds the only copy of the kept trials: it
    takes the study's name here, and is not listed.
    """
    storage = open_storage(url)
    names = {s.study_name for s in optuna.get_all_study_summaries(storage)}
    if name not in names and name + _TMP in names and _engine(storage) is not None:
        with _engine(storage).begin() as conn:
            conn.execute(_rename(name + _TMP, name))
        names = (names - {name + _TMP}) | {name}
    return [n for n in (name + _TMP, name + _OLD) if n in names]


def keep_top_trials(
    name: str, url: str, keep: int, *, attrs: Mapping[str, Any] | None = None
) -> tuple[int, int]:
    """Keep the best `keep` trials of study `name` (others deleted); (kept, deleted).

    Optuna cannot delete a trial, so the kept trials (and the study's user attributes,
    updated with `attrs`) are copied into a temporary study, which then takes the
    study's name in one transaction: an interruption at any point leaves the study
    whole, either as it was or trimmed. What an interrupted cleanup left (`.cleanup-tmp`,
    the copy that never took over; `.cleanup-old`, the original not yet deleted) is
    deleted first.
    """
    storage = open_storage(url)
    _drop_leftovers(storage, name, url)
    study = load_study_from(name, url)
    directions = _directions(study)
    ranked = ranked_frame(study, directions)
    by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
    kept = [by_number[int(n)] for n in ranked["trial"].head(keep)] if keep else []
    kept = [t for t in kept if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)]
    tmp = optuna.create_study(study_name=name + _TMP, storage=storage, directions=directions)
    for key, value in {**study.user_attrs, **(attrs or {})}.items():
        tmp.set_user_attr(key, value)
    tmp.add_trials(kept)
    _swap(storage, name)
    optuna.delete_study(study_name=name + _OLD, storage=storage)
    return len(kept), len(by_number) - len(kept)


_TMP = ".cleanup-tmp"
_OLD = ".cleanup-old"


def _drop_leftovers(storage: Any, name: str, url: str) -> None:
    for leftover in leftover_studies(name, url):
        optuna.delete_study(study_name=leftover, storage=storage)


def _swap(storage: Any, name: str) -> None:
    """Rename `name` to its `.cleanup-old` and the `.cleanup-tmp` copy to `name`, in one
    transaction (an RDB storage); elsewhere (in memory) copy, which nothing can interrupt
    halfway but the process itself."""
    engine = _engine(storage)
    if engine is None:
        optuna.copy_study(
            from_study_name=name, from_storage=storage, to_storage=storage,
            to_study_name=name + _OLD,
        )  # fmt: skip
        optuna.delete_study(study_name=name, storage=storage)
        optuna.copy_study(
            from_study_name=name + _TMP, from_storage=storage, to_storage=storage,
            to_study_name=name,
        )  # fmt: skip
        optuna.delete_study(study_name=name + _TMP, storage=storage)
        return
    with engine.begin() as conn:
        conn.execute(_rename(name, name + _OLD))
        conn.execute(_rename(name + _TMP, name))


def _engine(storage: Any) -> Any:
    """The SQLAlchemy engine of an RDB storage (None for another storage)."""
    backend = resilient_backend(storage)
    return getattr(backend if backend is not None else storage, "engine", None)


def _rename(old: str, new: str) -> Any:
    studies = optuna_models().BaseModel.metadata.tables["studies"]
    return sa.update(studies).where(studies.c.study_name == old).values(study_name=new)

"""Reading and trimming studies in a storage (for `studies`, `show`, `export`, `cleanup`)."""

from __future__ import annotations

from typing import Any, Literal

import optuna
import pandas as pd
from optuna.study import StudyDirection
from optuna.trial import TrialState

from stratopt.errors import ConfigError
from stratopt.storage._ranking import ranked_frame
from stratopt.storage._urls import open_storage, redact

__all__ = ["keep_top_trials", "load_ranked", "load_study_from", "study_summaries"]


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


def keep_top_trials(name: str, url: str, keep: int) -> tuple[int, int]:
    """Keep the best `keep` trials of study `name` (others deleted); (kept, deleted).

    Optuna cannot delete a trial, so the kept trials are copied into a fresh study
    of the same name (renumbered from 0). The copy is made under a temporary name
    first: if anything fails midway, the kept trials survive under that name.
    """
    study = load_study_from(name, url)
    directions = _directions(study)
    ranked = ranked_frame(study, directions)
    by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
    kept = [by_number[int(n)] for n in ranked["trial"].head(keep)] if keep else []
    kept = [t for t in kept if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)]
    deleted = len(by_number) - len(kept)
    storage = open_storage(url)
    tmp_name = f"{name}.cleanup-tmp"
    tmp = optuna.create_study(study_name=tmp_name, storage=storage, directions=directions)
    for key, value in study.user_attrs.items():
        tmp.set_user_attr(key, value)
    tmp.add_trials(kept)
    optuna.delete_study(study_name=name, storage=storage)
    optuna.copy_study(
        from_study_name=tmp_name, from_storage=storage, to_storage=storage, to_study_name=name
    )
    optuna.delete_study(study_name=tmp_name, storage=storage)
    return len(kept), deleted

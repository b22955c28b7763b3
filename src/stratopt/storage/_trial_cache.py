"""Keeping Optuna's per-study trial cache from growing with the study.

`optuna.Study` reads an RDB storage through Optuna's trial cache, which keeps every
trial it has read, finished ones for good: with stratopt's record of each trial (every
metric) that is about 5 KB a trial, so a worker that runs for a million trials would
hold gigabytes. A caller that has taken what it needs from a finished trial, and whose
sampler never looks at earlier trials (random search, a grid), lets the cache forget it.

The cache reads a study's new trials as those above the highest finished trial id it
has seen, plus the unfinished ones it holds; a forgotten finished trial is neither, so
it is never read again, and `get_trial` of it goes to the database. A forgotten trial
is missing from `study.get_trials()` of that study object from then on: load the study
again for the whole list.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["forget_finished"]


def forget_finished(storage: Any, study_id: int, numbers: Iterable[int]) -> list[int]:
    """Drop these finished trials of the study from Optuna's cache; the numbers dropped.

    Unfinished trials are kept (the cache must see them finish). A storage without
    Optuna's cache (in memory, or another Optuna version's) is left alone: none.
    """
    studies = getattr(storage, "_studies", None)
    by_id = getattr(storage, "_trial_id_to_study_id_and_number", None)
    by_number = getattr(storage, "_study_id_and_number_to_trial_id", None)
    lock = getattr(storage, "_lock", None)
    if not isinstance(studies, dict) or not isinstance(by_id, dict) or lock is None:
        return []
    if not isinstance(by_number, dict) or study_id not in studies:
        return []
    trials = getattr(studies[study_id], "trials", None)
    if not isinstance(trials, dict):
        return []
    dropped = []
    with lock:
        for number in numbers:
            trial = trials.get(number)
            if trial is None or not trial.state.is_finished():
                continue
            del trials[number]
            by_id.pop(trial._trial_id, None)
            by_number.pop((study_id, number), None)
            dropped.append(number)
    return dropped

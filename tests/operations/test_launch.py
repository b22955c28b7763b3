"""The launcher's progress poll: read from the database, not from every trial."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import optuna
import pytest
from optuna.trial import TrialState

from stratopt.operations._launch import LaunchStatus, _Watcher
from stratopt.storage import open_storage


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_the_progress_poll_counts_in_the_database_and_keeps_no_trial(
    tmp_path: Path, direction: Literal["maximize", "minimize"]
) -> None:
    """The poll ran every 0.5 s over `study.get_trials()`: Optuna's cache then held the
    whole study in the launcher (about 5 KB a trial) and each poll cost more."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(study_name="p", storage=url, direction=direction)
    dist: dict[str, optuna.distributions.BaseDistribution] = {
        "x": optuna.distributions.FloatDistribution(0, 1)
    }
    states = [TrialState.COMPLETE] * 30 + [TrialState.PRUNED] * 5 + [TrialState.FAIL] * 2
    for i, state in enumerate(states):
        value = (i * 7 % 30) / 10 if state == TrialState.COMPLETE else None
        study.add_trial(
            optuna.trial.create_trial(
                state=state, params={"x": i / 40}, distributions=dist, value=value
            )
        )
    study.add_trial(
        optuna.trial.create_trial(state=TrialState.RUNNING, params={"x": 0.99}, distributions=dist)
    )
    watcher = _Watcher("p", open_storage(url), LaunchStatus(target=100, workers=2), started=0.0)
    status = watcher.read([])
    assert (status.complete, status.pruned, status.failed, status.running) == (30, 5, 2, 1)
    assert status.best == (2.9 if direction == "maximize" else 0.0)
    assert watcher.study is not None
    cache = watcher.study._storage  # optuna's _CachedStorage around ours
    assert not any(s.trials for s in cache._studies.values())  # type: ignore[attr-defined]


def test_the_progress_poll_of_a_study_without_a_complete_trial_has_no_best(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    optuna.create_study(study_name="empty", storage=url)
    watcher = _Watcher("empty", open_storage(url), LaunchStatus(target=5, workers=1), 0.0)
    status = watcher.read([])
    assert (status.complete, status.best) == (0, None)

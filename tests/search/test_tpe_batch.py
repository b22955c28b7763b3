"""The batch TPE (`method: tpe_batch`): Optuna's estimator, fitted once per batch."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.trial import TrialState

from stratopt.search._tpe_batch import BatchTPESampler

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _objective(trial: optuna.Trial) -> float:
    x = trial.suggest_int("x", 0, 14)
    y = trial.suggest_categorical("y", ["a", "b", "c"])
    return -((x - 9) ** 2) + {"a": 0.0, "b": 3.0, "c": 1.0}[y]


def _batches(sampler: optuna.samplers.BaseSampler, n: int, batch: int = 4) -> optuna.Study:
    """Ask a batch, then tell it, as stratopt's runner does."""
    study = optuna.create_study(direction="maximize", sampler=sampler)
    while len(study.trials) < n:
        asked = [study.ask() for _ in range(batch)]
        for trial in asked:
            study.tell(trial, _objective(trial))
    return study


def test_same_seed_same_trials() -> None:
    a = _batches(BatchTPESampler(seed=5, n_startup_trials=4), 40)
    b = _batches(BatchTPESampler(seed=5, n_startup_trials=4), 40)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]


def test_draws_avoid_points_already_tried() -> None:
    """45 points, 40 trials: Optuna's TPE revisits its best points; this one asks for
    points not yet tried while its candidates offer any."""
    study = _batches(BatchTPESampler(seed=0, n_startup_trials=4), 40)
    points = [(t.params["x"], t.params["y"]) for t in study.trials]
    assert len(set(points)) >= 36
    assert study.best_value == 3.0  # x = 9, y = "b"


def test_finds_what_optunas_tpe_finds() -> None:
    ours = _batches(BatchTPESampler(seed=1, n_startup_trials=4), 32)
    theirs = _batches(optuna.samplers.TPESampler(seed=1, n_startup_trials=4, multivariate=True), 32)
    assert ours.best_value >= theirs.best_value - 1.0


def test_pruned_and_failed_trials_are_split_like_optuna() -> None:
    """Pruned trials count as worse than complete ones; failed ones are left out."""
    sampler = BatchTPESampler(seed=2, n_startup_trials=3)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    for state, value in [(TrialState.COMPLETE, 1.0), (TrialState.PRUNED, None),
                         (TrialState.FAIL, None), (TrialState.COMPLETE, 5.0),
                         (TrialState.COMPLETE, 2.0)]:  # fmt: skip
        trial = study.ask()
        _objective(trial)
        study.tell(trial, value, state=state)
    trial = study.ask()
    _objective(trial)
    seen = sampler._trials
    assert seen.n == 4  # the failed trial is not an observation
    kinds = dict(zip(seen.number[: seen.n].tolist(), seen.kind[: seen.n].tolist(), strict=True))
    assert kinds == {0: 0, 1: 1, 3: 0, 4: 0}


@pytest.mark.parametrize("n_above", [30, 5])
def test_above_group_is_bounded(n_above: int) -> None:
    """With more trials above the split than `max_above`, a subset stands for them and
    the search still runs."""
    study = _batches(BatchTPESampler(seed=3, n_startup_trials=4, max_above=n_above), 48)
    assert len(study.trials) == 48
    assert all(math.isfinite(t.value) for t in study.trials if t.value is not None)


def test_a_trial_that_finishes_after_later_ones_is_seen_at_the_next_fit() -> None:
    """A trial still running while later batches finish (a slow candidate, another
    worker's) is read when it finishes; failed trials before it are never read."""
    sampler = BatchTPESampler(seed=4, n_startup_trials=4)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    failed = study.ask()
    _objective(failed)
    study.tell(failed, state=TrialState.FAIL)
    slow = study.ask()
    _objective(slow)
    for _ in range(3):
        asked = [study.ask() for _ in range(4)]
        for trial in asked:
            study.tell(trial, _objective(trial))
    assert slow.number not in sampler._trials.seen
    study.tell(slow, 100.0)
    _objective(study.ask())
    assert slow.number in sampler._trials.seen
    assert failed.number not in sampler._trials.seen
    assert sampler._trials.n == 13

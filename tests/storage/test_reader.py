"""The Core trial reader returns exactly the FrozenTrials Optuna's ORM reader builds."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import optuna
import pytest
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState

from stratopt.storage import open_storage
from stratopt.storage._reader import FastReadRDBStorage, reader_supported

optuna.logging.set_verbosity(optuna.logging.ERROR)


def _fill(url: str) -> tuple[int, int]:
    """A single- and a multi-objective study with every kind of trial row."""
    storage = open_storage(url)
    single = optuna.create_study(storage=storage, study_name="single", direction="maximize")
    multi = optuna.create_study(
        storage=storage, study_name="multi", directions=["maximize", "minimize"]
    )

    def draw(t: optuna.Trial) -> tuple[float, int]:
        x = t.suggest_float("x", -5, 5)
        n = t.suggest_int("n", 1, 9, step=2)
        t.suggest_float("lr", 1e-4, 1.0, log=True)
        t.suggest_categorical("c", ["a", None, 3, 2.5, True])
        t.set_user_attr("stratopt", {"metrics": {"m": x, "k": "inf"}, "key": f"({x}, {n})"})
        t.storage.set_trial_system_attr(t._trial_id, "sys", [1, 2])
        return x, n

    def one(t: optuna.Trial) -> float:
        x, n = draw(t)
        t.report(x, 1)
        t.report(float("nan"), 2)
        t.report(float("inf"), 3)
        if n == 3:
            raise optuna.TrialPruned()
        if n == 5:
            raise ValueError("boom")
        return float("-inf") if n == 7 else x

    def two(t: optuna.Trial) -> tuple[float, float]:
        x, n = draw(t)
        if n == 5:
            raise ValueError("boom")
        return x, float("inf") if n == 7 else float(n)

    single.optimize(one, n_trials=20, catch=(ValueError,))
    multi.optimize(two, n_trials=15, catch=(ValueError,))
    single.enqueue_trial({"x": 1.0})  # WAITING, one param
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # heartbeats belong to optimize()
        single.ask()  # RUNNING, the queued params
    return single._study_id, multi._study_id


def _fields(trial: FrozenTrial) -> dict[str, Any]:
    """Every field of `trial`; intermediate values by repr, so NaN equals NaN."""
    fields = dict(vars(trial))
    fields["intermediate_values"] = repr(trial.intermediate_values)
    return fields


def test_the_installed_optuna_has_the_reader_stratopt_replaces() -> None:
    assert reader_supported()


# (states, unfinished trial ids the cache holds, last finished trial id it has seen)
READS: list[tuple[Any, set[int], int]] = [
    (None, set(), -1),
    ((TrialState.COMPLETE,), set(), -1),
    ((TrialState.PRUNED, TrialState.FAIL), set(), -1),
    (None, {3, 5, 40}, 10),  # the cache's re-read: unfinished ids and everything newer
    (None, {3}, -1),
    (None, set(), 10_000),
]


def test_reads_what_optunas_orm_reads(rdb: Callable[[str], str]) -> None:
    url = rdb("reader")
    studies = _fill(url)
    fast, slow = FastReadRDBStorage(url), RDBStorage(url)
    for states, included, after in READS:
        for study_id in studies:
            ours = fast._get_trials(study_id, states, included, after)
            theirs = slow._get_trials(study_id, states, included, after)
            assert [_fields(t) for t in ours] == [_fields(t) for t in theirs]
            for a, b in zip(ours, theirs, strict=True):
                assert [type(v) for v in a.params.values()] == [type(v) for v in b.params.values()]
                assert list(a.params) == list(b.params)
            if states is None and after == -1 and not included:
                assert len(ours) > 10


def test_unknown_study_raises_optunas_key_error(rdb: Callable[[str], str]) -> None:
    url = rdb("missing")
    open_storage(url)  # Optuna's tables, no study
    with pytest.raises(KeyError):
        FastReadRDBStorage(url)._get_trials(999, None, set(), -1)


def test_open_storage_reads_through_core(rdb: Callable[[str], str]) -> None:
    url = rdb("opened")
    _fill(url)
    storage = open_storage(url)
    assert isinstance(storage, FastReadRDBStorage)
    study = optuna.load_study(study_name="single", storage=storage)
    reference = optuna.load_study(study_name="single", storage=RDBStorage(url))
    assert [_fields(t) for t in study.get_trials()] == [_fields(t) for t in reference.get_trials()]
    assert _fields(study.best_trial) == _fields(reference.best_trial)

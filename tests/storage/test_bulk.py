"""The bulk trial writer stores what Optuna's own `add_trial` stores, numbered alike."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest
import sqlalchemy as sa
from optuna.distributions import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState, create_trial

import stratopt
from stratopt.storage import _bulk, open_storage
from stratopt.storage._bulk import HandedTrial, OwnedTrial, add_trials

optuna.logging.set_verbosity(optuna.logging.WARNING)

DISTS = {
    "n": IntDistribution(1, 50, step=7),
    "n_log": IntDistribution(1, 1000, log=True),
    "x": FloatDistribution(-1.0, 1.0),
    "x_log": FloatDistribution(1e-5, 1.0, log=True),
    "x_step": FloatDistribution(0.0, 1.0, step=0.25),
    "kind": CategoricalDistribution(["a", "b", None, 3, 2.5, True]),
}


def _params(i: int) -> dict[str, Any]:
    return {
        "n": 1 + 7 * (i % 8),
        "n_log": 1 + 31 * i,
        "x": -1.0 + 0.013 * i,
        "x_log": 1e-5 * (1.7**i) if i < 20 else 0.5,
        "x_step": 0.25 * (i % 5),
        "kind": DISTS["kind"].choices[i % 6],  # type: ignore[attr-defined]
    }


def _trials(n: int, objectives: int = 1) -> list[FrozenTrial]:
    """Trials of every state, with everything a trial can hold (no NaN values)."""
    out: list[FrozenTrial] = []
    start = dt.datetime(2026, 1, 2, 3, 4, 5, 678901)
    for i in range(n):
        state = [
            TrialState.COMPLETE,
            TrialState.PRUNED,
            TrialState.FAIL,
            TrialState.COMPLETE,
            TrialState.RUNNING,
            TrialState.WAITING,
        ][i % 6]
        values: list[float] | None = None
        if state == TrialState.COMPLETE:
            values = [0.5 * i - 3.25 + k for k in range(objectives)]
            if i == 3:
                values[0] = float("-inf")
        params = _params(i) if i % 7 != 5 else {"x": 0.0}  # one with fewer params
        begun = None if state == TrialState.WAITING else start + dt.timedelta(minutes=i)
        out.append(
            create_trial(
                state=state,
                values=values,
                params=params,
                distributions={k: DISTS[k] for k in params},
                user_attrs={
                    "stratopt": {"key": f"k{i}", "metrics": {"sharpe": 0.1 * i, "s": "inf"}},
                    "list": [i, "two", None, True],
                },
                system_attrs={"constraints": [0.0, -1.5]} if i % 2 else {},
                intermediate_values={0: 1.5, 3: float(i), 4: float("inf")}
                if state == TrialState.PRUNED
                else {},
            )
        )
        trial = out[-1]
        # create_trial stamps "now"; fixed times (and a microsecond part) check the stored form.
        trial.datetime_start = begun
        if state.is_finished():
            trial.datetime_complete = start + dt.timedelta(minutes=i, seconds=1.5)
    return out


def _fields(t: FrozenTrial) -> dict[str, Any]:
    return {
        "number": t.number,
        "state": t.state,
        "values": t.values,
        "datetime_start": t.datetime_start,
        "datetime_complete": t.datetime_complete,
        "params": list(t.params.items()),  # order too: rows are read back by id
        "distributions": t.distributions,
        "user_attrs": t.user_attrs,
        "system_attrs": t.system_attrs,
        "intermediate_values": t.intermediate_values,
    }


def _rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the trial tables, with trial ids replaced by (study, number)."""
    engine = sa.create_engine(url)
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        number = {
            r.trial_id: (r.study_id, r.number)
            for r in conn.execute(sa.text("SELECT trial_id, study_id, number FROM trials"))
        }
        for table, own_id in (
            ("trials", "trial_id"),
            ("trial_params", "param_id"),
            ("trial_values", "trial_value_id"),
            ("trial_user_attributes", "trial_user_attribute_id"),
            ("trial_system_attributes", "trial_system_attribute_id"),
            ("trial_intermediate_values", "trial_intermediate_value_id"),
        ):
            res = conn.execute(sa.text(f"SELECT * FROM {table}"))
            keys = list(res.keys())
            rows = []
            for r in res:
                d = dict(zip(keys, r, strict=True))
                d["trial"] = number[d.pop("trial_id")]
                d.pop(own_id, None)
                rows.append(tuple(sorted((k, repr(v)) for k, v in d.items())))
            out[table] = sorted(rows)
    engine.dispose()
    return out


@pytest.mark.parametrize("objectives", [1, 2])
def test_bulk_rows_equal_add_trial_rows(rdb: Any, objectives: int) -> None:
    trials = _trials(30, objectives)
    directions = ["maximize", "minimize"][:objectives]
    url_a, url_b = rdb("a"), rdb("b")
    a = optuna.create_study(storage=open_storage(url_a), study_name="s", directions=directions)
    b = optuna.create_study(storage=open_storage(url_b), study_name="s", directions=directions)
    for t in trials:
        a.add_trial(t)
    add_trials(b, trials[:10])  # two batches: numbering continues across them
    add_trials(b, trials[10:])

    loaded_a = optuna.load_study(study_name="s", storage=url_a).get_trials()
    loaded_b = optuna.load_study(study_name="s", storage=url_b).get_trials()
    assert [t.number for t in loaded_b] == list(range(30))
    assert [_fields(t) for t in loaded_b] == [_fields(t) for t in loaded_a]
    for t, orig in zip(loaded_b, trials, strict=True):
        assert t.params == orig.params and t.user_attrs == orig.user_attrs
    # Not just the same trials read back: the same rows, column by column.
    assert _rows(url_b) == _rows(url_a)


def test_stored_times_follow_optuna_in_another_time_zone(
    rdb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not hasattr(time, "tzset"):
        pytest.skip("no time.tzset on this platform")
    monkeypatch.setenv("TZ", "America/New_York")  # UTC-5: local and UTC times differ
    time.tzset()
    try:
        trials = _trials(6)
        url_a, url_b = rdb("tz_a"), rdb("tz_b")
        a = optuna.create_study(storage=open_storage(url_a), study_name="s")
        b = optuna.create_study(storage=open_storage(url_b), study_name="s")
        a.add_trials(trials)
        add_trials(b, trials)
        assert _rows(url_b) == _rows(url_a)
        got = optuna.load_study(study_name="s", storage=url_b).get_trials()
        assert [t.datetime_start for t in got] == [t.datetime_start for t in trials]
    finally:
        monkeypatch.undo()
        time.tzset()


def _objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -1.0, 1.0)
    return (x - 0.3) ** 2


@pytest.mark.parametrize(
    "sampler",
    [
        optuna.samplers.TPESampler(seed=1, n_startup_trials=3),
        optuna.samplers.CmaEsSampler(seed=1, n_startup_trials=3),
        optuna.samplers.RandomSampler(seed=1),
    ],
    ids=["tpe", "cmaes", "random"],
)
def test_numbers_continue_and_samplers_resume(
    rdb: Any, sampler: optuna.samplers.BaseSampler
) -> None:
    url = rdb("resume")
    study = optuna.create_study(storage=open_storage(url), study_name="s", sampler=sampler)
    study.optimize(_objective, n_trials=3)
    dist = {"x": FloatDistribution(-1.0, 1.0)}
    batch = [
        create_trial(params={"x": x}, distributions=dist, value=(x - 0.3) ** 2)
        for x in (-0.9, -0.5, 0.29, 0.8, 1.0)
    ]
    add_trials(study, batch)
    study.optimize(_objective, n_trials=4)
    trials = optuna.load_study(study_name="s", storage=url).get_trials()
    assert [t.number for t in trials] == list(range(12))
    assert [t.params["x"] for t in trials[3:8]] == [-0.9, -0.5, 0.29, 0.8, 1.0]
    assert all(t.state == TrialState.COMPLETE for t in trials)
    # The sampler saw the bulk-written trials: the best of them is the study's best so far.
    assert study.best_value <= (0.29 - 0.3) ** 2


def test_a_stale_trial_count_is_corrected_inside_the_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On SQLite the count before the insert runs outside the write transaction: another
    # process may add trials in between. Simulate that the count missed two of them.
    real = _bulk._count

    def stale(conn: Any, table: Any, study_id: int, below: int | None = None) -> int:
        n = real(conn, table, study_id, below)
        return n if below is not None else max(n - 2, 0)

    monkeypatch.setattr(_bulk, "_count", stale)
    url = f"sqlite:///{tmp_path / 'stale.db'}"
    study = optuna.create_study(storage=open_storage(url), study_name="s")
    study.optimize(_objective, n_trials=3)
    add_trials(study, _trials(4))
    trials = optuna.load_study(study_name="s", storage=url).get_trials()
    assert [t.number for t in trials] == list(range(7))


def test_multi_objective_sampler_resumes(rdb: Any) -> None:
    url = rdb("nsga")
    study = optuna.create_study(
        storage=open_storage(url),
        study_name="s",
        directions=["minimize", "minimize"],
        sampler=optuna.samplers.NSGAIISampler(seed=2, population_size=4),
    )
    dist = {"x": FloatDistribution(0.0, 1.0)}
    add_trials(
        study,
        [
            create_trial(params={"x": x}, distributions=dist, values=[x, 1.0 - x])
            for x in (0.1, 0.4, 0.6, 0.9)
        ],
    )
    study.optimize(lambda t: (t.suggest_float("x", 0.0, 1.0), 0.5), n_trials=6)
    trials = study.get_trials()
    assert [t.number for t in trials] == list(range(10))
    assert len(study.best_trials) >= 1


def test_incompatible_distribution_writes_nothing(rdb: Any) -> None:
    url = rdb("incompatible")
    study = optuna.create_study(storage=open_storage(url), study_name="s")
    study.add_trial(create_trial(params={"k": "a"}, distributions={"k": DISTS["kind"]}, value=1))
    ok = create_trial(params={"x": 0.5}, distributions={"x": DISTS["x"]}, value=2.0)
    bad = create_trial(params={"k": 3}, distributions={"k": IntDistribution(0, 5)}, value=3.0)
    with pytest.raises(ValueError):
        add_trials(study, [ok, bad])
    assert len(optuna.load_study(study_name="s", storage=url).get_trials()) == 1
    with pytest.raises(ValueError, match="values"):
        add_trials(study, [create_trial(params={}, distributions={}, values=[1.0, 2.0])])


def _handed(t: FrozenTrial) -> HandedTrial:
    return HandedTrial(
        number=-1,
        state=t.state,
        value=None,
        values=t.values,
        datetime_start=t.datetime_start,
        datetime_complete=t.datetime_complete,
        params=dict(t.params),
        distributions=dict(t.distributions),
        user_attrs=dict(t.user_attrs),
        system_attrs=dict(t.system_attrs),
        intermediate_values=dict(t.intermediate_values),
        trial_id=-1,
    )


def test_non_rdb_storages_go_through_optuna(tmp_path: Path) -> None:
    trials = _trials(8)
    memory = optuna.create_study(storage=open_storage("memory"))
    add_trials(memory, trials)
    journal = optuna.create_study(
        storage=optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(tmp_path / "j.log"))
        )
    )
    add_trials(journal, trials)
    for study in (memory, journal):
        got = study.get_trials()
        assert [t.number for t in got] == list(range(8))
        assert [t.params for t in got] == [t.params for t in trials]
        # A batch with an invalid trial (COMPLETE without a value) adds nothing.
        invalid = _handed(trials[0])
        invalid._values = None
        with pytest.raises(ValueError, match="values should be set"):
            add_trials(study, [trials[0], invalid])
        assert len(study.get_trials()) == 8


def test_handed_trials_are_stored_in_memory_as_plain_ones() -> None:
    """Not deep-copied, yet stored as `study.add_trials` stores a plain trial."""
    trials = _trials(12)
    plain = optuna.create_study(storage=open_storage("memory"))
    plain.add_trials(trials)
    study = optuna.create_study(storage=open_storage("memory"))
    handed = [_handed(t) for t in trials]
    add_trials(study, handed)
    expected = [_fields(t) for t in plain.get_trials()]
    stored = study.get_trials(deepcopy=False)
    assert [type(t) for t in stored] == [FrozenTrial] * 12
    assert [_fields(t) for t in stored] == expected
    assert stored[0].user_attrs["stratopt"] is handed[0].user_attrs["stratopt"]
    # Each stored trial has its own containers: the handed ones may change apart.
    for h in handed:
        h.params.clear()
        h.distributions.clear()
        h.user_attrs.clear()
        h.intermediate_values[9] = 1.0
        if h.values is not None:
            h.values[0] = 123.0
    assert [_fields(t) for t in study.get_trials()] == expected


@pytest.mark.parametrize("directions", [["maximize"], ["minimize"], ["maximize", "minimize"]])
def test_batches_in_memory_keep_optunas_best_trial(directions: list[str]) -> None:
    """Ties, a better value in the middle of a batch, batches without a COMPLETE trial:
    the study's best is the trial Optuna's own `add_trials` makes it."""
    values = [None, 2.0, 5.0, 5.0, 1.0, None, 5.0, 7.0, 7.0, -9.0, 0.0, -9.0, None]
    trials = []
    for v in values:
        done = v is not None
        trials.append(_handed(create_trial(
            state=TrialState.COMPLETE if done else TrialState.PRUNED,
            values=[v, -v][: len(directions)] if done else None,
            params={"x": 0.0}, distributions={"x": DISTS["x"]},
        )))  # fmt: skip
    ours = optuna.create_study(storage=open_storage("memory"), directions=directions)
    theirs = optuna.create_study(storage=open_storage("memory"), directions=directions)
    for batch in ([0], [1, 2, 3, 4], [5], [6, 7, 8, 9], [10, 11, 12]):
        add_trials(ours, [trials[i] for i in batch])
        theirs.add_trials([trials[i] for i in batch])
        best = [s._storage._studies[s._study_id].best_trial_id for s in (ours, theirs)]
        assert best[0] == best[1]
    assert [_fields(t) for t in ours.trials] == [_fields(t) for t in theirs.trials]


def test_unknown_schema_falls_back_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_bulk, "VERIFIED_SCHEMA_REVISION", "v9.9.9.z")
    monkeypatch.setattr(_bulk, "_warned", False)
    url = f"sqlite:///{tmp_path / 'drift.db'}"
    study = optuna.create_study(storage=open_storage(url), study_name="s")
    with caplog.at_level(logging.WARNING, logger="stratopt.storage"):
        add_trials(study, _trials(4))
    assert "v9.9.9.z" in caplog.text and "one at a time" in caplog.text
    assert [t.number for t in study.get_trials()] == [0, 1, 2, 3]
    backend = study._storage._backend  # type: ignore[attr-defined]
    assert _bulk.bulk_supported(backend) is False


def test_current_schema_is_the_verified_one(tmp_path: Path) -> None:
    # Fails when an Optuna upgrade adds a schema migration: re-check the rows, then bump.
    storage = open_storage(f"sqlite:///{tmp_path / 'v.db'}")
    assert isinstance(storage, optuna.storages.RDBStorage)
    assert storage.get_head_version() == _bulk.VERIFIED_SCHEMA_REVISION
    assert _bulk._schema_problem(storage) is None


_WRITER = """
import sys, optuna
from optuna.distributions import FloatDistribution
from optuna.trial import create_trial
from stratopt.storage import open_storage
from stratopt.storage._bulk import add_trials
optuna.logging.set_verbosity(optuna.logging.WARNING)
import pathlib, time
url, mode, tag, sync = sys.argv[1], sys.argv[2], sys.argv[3], pathlib.Path(sys.argv[4])
study = optuna.load_study(study_name="s", storage=open_storage(url))
(sync / tag).touch()  # ready; all writers start together once "go" exists
while not (sync / "go").exists():
    time.sleep(0.01)
dist = {"x": FloatDistribution(0, 1000)}
def trial(i):
    return create_trial(params={"x": float(i)}, distributions=dist, value=float(i),
                        user_attrs={"tag": tag})
for b in range(4):
    batch = [trial(b * 10 + i) for i in range(10)]
    if mode == "bulk":
        add_trials(study, batch)
    elif mode == "optuna":
        for t in batch:
            study.add_trial(t)
    else:
        study.optimize(lambda t: t.suggest_float("x", 0, 1000), n_trials=10)
"""


def test_concurrent_writers_get_distinct_gap_free_numbers(rdb: Any, tmp_path: Path) -> None:
    url = rdb("concurrent")
    sync = tmp_path / "sync"
    sync.mkdir()
    optuna.create_study(storage=open_storage(url), study_name="s")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(Path(stratopt.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]
        ),
    }
    modes = ["bulk", "bulk", "optuna", "ask"]
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, url, m, f"{m}{i}", str(sync)], env=env)
        for i, m in enumerate(modes)
    ]
    deadline = time.monotonic() + 120
    while len(list(sync.iterdir())) < len(modes) and time.monotonic() < deadline:
        if any(w.poll() not in (None, 0) for w in writers):
            break
        time.sleep(0.05)
    (sync / "go").touch()
    assert [w.wait(timeout=300) for w in writers] == [0, 0, 0, 0]
    trials = optuna.load_study(study_name="s", storage=url).get_trials()
    assert len(trials) == 4 * 40
    assert sorted(t.number for t in trials) == list(range(160))
    # Numbers follow ids, as Optuna's do; each bulk batch is one block in its own order.
    by_tag: dict[str, list[FrozenTrial]] = {}
    for t in trials:
        by_tag.setdefault(t.user_attrs.get("tag", "ask"), []).append(t)
    for tag in ("bulk0", "bulk1"):
        xs = [t.params["x"] for t in sorted(by_tag[tag], key=lambda t: t.number)]
        assert xs == [float(i) for i in range(40)]
        numbers = sorted(t.number for t in by_tag[tag])
        blocks = [numbers[k : k + 10] for k in range(0, 40, 10)]
        assert all(b == list(range(b[0], b[0] + 10)) for b in blocks)


GRID_STUDY: dict[str, Any] = {
    "data": {"synthetic": {"bars": 2000, "seed": 5, "edge_period": 90, "edge_strength": 0.5}},
    "strategy": "sma_cross",
    "backtest": {"commission": 0.0005},
    "space": {"fast": {"low": 2, "high": 20, "step": 3}, "slow": [20, 30, 45, 70]},
    "constraints": ["slow - fast >= 12"],
    "objective": "sharpe",
    # trades >= 40 prunes some candidates: pruned trials go through the bulk writer too
    "require": {"trades": ">= 40"},
    "search": {"method": "grid", "batch": 7},
}


def test_grid_optimize_on_sqlite_ranks_as_in_memory(rdb: Any, tmp_path: Path) -> None:
    from stratopt.config import parse_study
    from stratopt.operations import optimize_study

    results = {}
    url = rdb("grid")
    for label, storage in (("memory", "memory"), ("rdb", url)):
        cfg = {**GRID_STUDY, "name": "g", "storage": storage, "output": str(tmp_path / label)}
        study = parse_study(cfg, source="test", base_dir=tmp_path)
        res = optimize_study(study)
        results[label] = pd.read_csv(res.run_folder.ranked).drop(columns=["runtime_s"])
    assert len(results["rdb"]) == 23  # 7 x 4 minus the 5 pairs with slow - fast < 12
    assert set(results["rdb"]["state"]) == {"complete", "pruned"}
    pd.testing.assert_frame_equal(results["rdb"], results["memory"])
    stored = optuna.load_study(study_name="g", storage=url).get_trials()
    assert [t.number for t in stored] == list(range(23))
    # A rerun of the finished grid writes nothing new.
    cfg = {**GRID_STUDY, "name": "g", "storage": url, "output": str(tmp_path / "again")}
    optimize_study(parse_study(cfg, source="test", base_dir=tmp_path))
    assert len(optuna.load_study(study_name="g", storage=url).get_trials()) == 23


def _broken_copies() -> list[FrozenTrial]:
    """Trials each failing one of `FrozenTrial._validate`'s checks."""
    base = _handed(_trials(1)[0])  # COMPLETE, every param
    out = []
    for change in (
        {"_datetime_start": None},
        {"datetime_complete": None},
        {"state": TrialState.RUNNING},  # a finish time on an unfinished trial
        {"state": TrialState.FAIL},  # with values
        {"_values": None},
        {"_values": [float("nan")]},
        {"_params": {**base.params, "extra": 1}},
        {"_params": {**base.params, "n": 2}},  # off the step grid
        {"_params": {**base.params, "kind": "z"}},  # not a choice
        {"_params": {**base.params, "n": True}},  # equal to 1, which is contained, but a bool
        {"_params": {**base.params, "x": [0.5]}},  # unhashable
    ):
        t = _handed(base)
        t.__dict__.update(change)
        out.append(t)
    return out


def test_validate_all_raises_what_validate_raises() -> None:
    """Every trial `_validate` passes passes; every other raises the same error, also
    after a valid trial sharing its distributions checked the same param (cached)."""
    trials = _trials(30)
    _bulk.validate_all(trials)
    for t in trials:
        t._validate()
    raised = 0
    for bad in _broken_copies():
        shared = _handed(trials[0])
        shared._distributions = bad._distributions = dict(shared.distributions)
        try:
            bad._validate()
        except Exception as exc:
            raised += 1
            with pytest.raises(type(exc), match=re.escape(str(exc))):
                _bulk.validate_all([shared, bad])
        else:  # `n = True` (1.0 inside): Optuna accepts it
            _bulk.validate_all([shared, bad])
    assert raised == 10


def test_owned_trials_are_stored_as_they_are() -> None:
    """In memory an `OwnedTrial` is stored itself, a plain FrozenTrial, equal to what
    `study.add_trials` stores."""
    trials = _trials(12)
    plain = optuna.create_study(storage=open_storage("memory"))
    plain.add_trials(trials)
    expected = [_fields(t) for t in plain.get_trials()]
    owned = [OwnedTrial(**_init_args(_handed(t))) for t in trials]
    study = optuna.create_study(storage=open_storage("memory"))
    add_trials(study, owned)
    stored = study.get_trials(deepcopy=False)
    assert [type(t) for t in stored] == [FrozenTrial] * 12
    assert all(s is o for s, o in zip(stored, owned, strict=True))
    assert [_fields(t) for t in stored] == expected


def _init_args(t: FrozenTrial) -> dict[str, Any]:
    return {
        "number": -1,
        "state": t.state,
        "value": None,
        "values": t.values,
        "datetime_start": t.datetime_start,
        "datetime_complete": t.datetime_complete,
        "params": t.params,
        "distributions": t.distributions,
        "user_attrs": t.user_attrs,
        "system_attrs": t.system_attrs,
        "intermediate_values": t.intermediate_values,
        "trial_id": -1,
    }


@pytest.mark.parametrize("fields_known", [True, False])
def test_a_finished_owned_trial_is_what_its_init_makes(
    monkeypatch: pytest.MonkeyPatch, fields_known: bool
) -> None:
    """`OwnedTrial.finished_now` (its fields set at once) gives the trial
    `OwnedTrial(...)` gives: the same fields in the same order (`repr` walks
    them), its own values list; and so does its fallback, `OwnedTrial(...)` itself."""
    monkeypatch.setattr(_bulk, "_FIELDS_KNOWN", fields_known)
    for t in _trials(12):
        values = None if t.values is None else list(t.values)
        made = OwnedTrial.finished_now(
            t.state, values, t.datetime_start, dict(t.params), dict(t.distributions),
            dict(t.user_attrs),
        )  # fmt: skip
        expected = OwnedTrial(**{**_init_args(t), "system_attrs": {}, "intermediate_values": {}})
        expected.datetime_complete = made.datetime_complete  # "now" on each side
        assert type(made) is OwnedTrial
        assert list(made.__dict__) == list(expected.__dict__)
        assert made.__dict__ == expected.__dict__
        assert repr(made) == repr(expected)
        assert made.values is not values or values is None
        assert made.datetime_complete is not None


def test_validate_all_judges_every_state_as_validate_does() -> None:
    """Every state, a member or its int, with and without a finish time and values:
    `validate_all` raises exactly when `_validate` does, the same error."""
    base = _handed(_trials(1)[0])
    judged = 0
    for state in [*TrialState, *(int(s) for s in TrialState)]:
        for complete in (None, base.datetime_complete):
            for values in (None, [1.0]):
                t = _handed(base)
                t.__dict__.update(state=state, datetime_complete=complete, _values=values)
                try:
                    t._validate()
                except Exception as exc:
                    with pytest.raises(type(exc), match=re.escape(str(exc))):
                        _bulk.validate_all([t])
                else:
                    _bulk.validate_all([t])
                    judged += 1  # (an int state raises: it has no `is_finished`)
    assert judged == 8  # COMPLETE with values, FAIL without; PRUNED, RUNNING, WAITING: 2 each

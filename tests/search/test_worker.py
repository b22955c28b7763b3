"""The worker loop in one process: claims, stale trials of another worker, the target."""

from __future__ import annotations

import time
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from stratopt.config import load_study
from stratopt.operations import PreparedStudy, work_study
from stratopt.search import (
    ATTR,
    DUPLICATE,
    OVER_TARGET,
    WorkerOptions,
    _worker,
    open_study,
    record,
    work,
    worker_seed,
)
from stratopt.storage import Heartbeat, open_storage
from tests.workers.test_workers import _study_file


def test_a_worker_takes_over_another_workers_orphaned_grid_claim(tmp_path: Path) -> None:
    path = _study_file(tmp_path, "takeover", method="grid", trials=20)
    url = f"sqlite:///{tmp_path / 's.db'}"
    beat = Heartbeat(interval=1, grace=2)
    study = optuna.create_study(
        study_name="takeover", storage=open_storage(url, heartbeat=beat), direction="maximize"
    )
    # "Another worker" claimed k=3 and k=150, beat once, and died.
    dist = {"k": optuna.distributions.IntDistribution(0, 199)}
    for k in (3, 150):
        study.add_trial(
            optuna.trial.create_trial(
                state=TrialState.RUNNING, params={"k": k}, distributions=dist,
                user_attrs={ATTR: {"key": repr((k,))}},
            )
        )  # fmt: skip
    for t in study.get_trials(states=(TrialState.RUNNING,)):
        study._storage.record_heartbeat(t._trial_id)
    cfg = load_study(path, ["search.batch=4"])
    res = work_study(cfg, storage=url, heartbeat=beat, report=False,
                     worker=WorkerOptions(worker_id="w1", poll=0.2))  # fmt: skip
    assert res.stopped_by == "target"
    trials = optuna.load_study(study_name="takeover", storage=url).trials
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 20
    ks = [t.params["k"] for t in complete]
    assert len(set(ks)) == 20
    # The dead claims counted as live until they went stale (20 minus 2 free slots),
    # so the worker waited for them: failed, and k=3's retry (at least) ran.
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert {t.params["k"] for t in failed} == {3} or {t.params["k"] for t in failed} == {3, 150}
    retried = [t for t in complete if t.system_attrs.get("failed_trial") is not None]
    assert 3 in {t.params["k"] for t in retried}


def test_a_queued_retry_is_taken_when_it_is_all_that_is_left(tmp_path: Path) -> None:
    # 19 of 20 complete and the last one queued for a retry: the target is fully
    # claimed (the queued trial is live), yet the worker must take the retry.
    path = _study_file(tmp_path, "last", method="grid", trials=20)
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(study_name="last", storage=url, direction="maximize")
    dist = {"k": optuna.distributions.IntDistribution(0, 199)}
    for k in range(20):
        study.add_trial(
            optuna.trial.create_trial(
                state=TrialState.COMPLETE if k < 19 else TrialState.WAITING,
                value=0.0 if k < 19 else None, params={"k": k}, distributions=dist,
                user_attrs={ATTR: {"key": repr((k,))}},
            )
        )  # fmt: skip
    res = work_study(load_study(path), storage=url, report=False,
                     worker=WorkerOptions(worker_id="w", poll=0.2))  # fmt: skip
    assert res.attempts == 1 and res.stopped_by == "target"
    trials = optuna.load_study(study_name="last", storage=url).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 20


def test_retries_queued_after_the_target_was_met_are_pruned_as_a_claim_would_be(
    tmp_path: Path,
) -> None:
    # The race of a shared grid's last trials: a worker fails an orphan (k=7) and queues
    # its retry in two transactions; in between another worker claims k=7 afresh and
    # finishes the study. Nobody takes the retry then, yet it must not stay WAITING.
    path = _study_file(tmp_path, "late", method="grid", trials=20)
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(study_name="late", storage=url, direction="maximize")
    dist = {"k": optuna.distributions.IntDistribution(0, 199)}

    def add(k: int, state: TrialState, **attrs: object) -> None:
        study.add_trial(
            optuna.trial.create_trial(
                state=state, value=0.0 if state == TrialState.COMPLETE else None,
                params={"k": k}, distributions=dist, user_attrs={ATTR: {"key": repr((k,))}},
                system_attrs=attrs,
            )
        )  # fmt: skip

    add(7, TrialState.FAIL)
    for k in range(20):
        add(k, TrialState.COMPLETE)
    add(7, TrialState.WAITING, failed_trial=0, retry_history=[0])
    # The same race where the freed slot went to another point: the retry is over target.
    add(150, TrialState.FAIL)
    add(150, TrialState.WAITING, failed_trial=22, retry_history=[22])
    add(151, TrialState.WAITING)  # a point queued by hand, held by nothing: left alone
    res = work_study(load_study(path), storage=url, report=False,
                     worker=WorkerOptions(worker_id="w", poll=0.2))  # fmt: skip
    assert res.attempts == 0 and res.stopped_by == "target"
    trials = optuna.load_study(study_name="late", storage=url).trials
    held, over, queued = trials[-4], trials[-2], trials[-1]
    assert [held.state, over.state] == [TrialState.PRUNED] * 2
    assert record(held)["pruned"] == DUPLICATE
    assert record(over)["pruned"] == OVER_TARGET
    assert queued.state == TrialState.WAITING
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 20


def test_a_worker_joining_a_finished_study_runs_nothing(tmp_path: Path) -> None:
    path = _study_file(tmp_path, "done", method="random", trials=6, seed=1)
    url = f"sqlite:///{tmp_path / 's.db'}"
    first = work_study(load_study(path), storage=url, report=False)
    assert first.counts["complete"] == 6
    start = time.monotonic()
    second = work_study(load_study(path), storage=url, report=False)
    assert second.attempts == 0 and second.counts["complete"] == 6
    assert time.monotonic() - start < 120


def test_workers_get_different_seeds() -> None:
    seeds = {worker_seed(0, f"host:{pid}") for pid in range(100)}
    assert len(seeds) == 100
    assert worker_seed(5, "a") == worker_seed(5, "a")


def test_a_random_worker_keeps_no_finished_trial_in_optunas_cache(tmp_path: Path) -> None:
    """Optuna's trial cache kept every finished trial (5 KB each with its record): a
    worker's memory grew with the study. A random worker's forgets each once folded."""
    path = _study_file(tmp_path, "flat", method="random", trials=40, seed=1)
    prepared = PreparedStudy.from_config(load_study(path), storage=f"sqlite:///{tmp_path}/s.db")
    study = open_study(prepared.name, prepared.url, prepared.plan)
    evaluator = prepared.evaluator()
    try:
        result = work(study, prepared.plan, evaluator, worker=WorkerOptions(worker_id="w"))
    finally:
        evaluator.close()
    cached = study._storage._studies[study._study_id].trials  # type: ignore[attr-defined]
    assert not [t for t in cached.values() if t.state.is_finished()]
    # What the run returns lists every trial all the same.
    trials = result.study.get_trials(deepcopy=False)
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 40


def test_two_ask_workers_drawing_one_point_run_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`study.ask()` creates a trial before its sampler draws the params. Worker A asks
    trial 0; before A has drawn or written anything (no params, no heartbeat), worker B
    claims trial 1, draws the same point and runs it. A's check of trial 0, lower-numbered,
    saw nothing below it and ran the point again: two COMPLETE trials of one candidate."""
    path = _study_file(tmp_path, "once", method="tpe", trials=2, seed=1)
    cfg = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**cfg, "space": {"k": {"values": [4]}}}))  # one point
    url = f"sqlite:///{tmp_path / 's.db'}"
    beat = Heartbeat(interval=1, grace=60)
    real_ask, asked = _worker.ask, []

    def ask(study: optuna.Study) -> optuna.Trial:
        trial = real_ask(study)
        asked.append(trial.number)
        if len(asked) == 1:  # A's first claim exists: B runs a whole claim in the gap
            b_cfg = load_study(path, ["search.max_attempts=1"])
            b = work_study(b_cfg, storage=url, heartbeat=beat, report=False,
                           worker=WorkerOptions(worker_id="B"))  # fmt: skip
            assert b.counts["complete"] == 1
        return trial

    monkeypatch.setattr(_worker, "ask", ask)
    a = work_study(load_study(path, ["search.batch=1"]), storage=url, heartbeat=beat, report=False,
                   worker=WorkerOptions(worker_id="A", poll=0.2))  # fmt: skip
    trials = optuna.load_study(study_name="once", storage=url).get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.PRUNED, TrialState.COMPLETE]
    assert record(trials[0])["pruned"] == DUPLICATE  # A's trial 0 lost the point to B's
    assert a.stopped_by == "space exhausted"  # not 20 more asks of a point that is held

"""Claims of a key in the storage (`claim_keys`): of workers claiming one key, exactly one
wins it, on SQLite and PostgreSQL, however their transactions interleave."""

from __future__ import annotations

import threading
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from stratopt.storage import CLAIM_ATTR, _bulk, claim_keys, open_storage

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _trials(storage: Any, study_id: int, n: int) -> list[int]:
    return [storage.create_new_trial(study_id) for _ in range(n)]


def test_of_workers_claiming_one_key_at_once_exactly_one_wins(rdb: Any) -> None:
    url = rdb("claims")
    study = optuna.create_study(study_name="s", storage=open_storage(url))
    workers, rounds = 4, 12
    storages = [open_storage(url) for _ in range(workers)]  # an engine each, as processes
    ids = [_trials(storages[0], study._study_id, rounds) for _ in range(workers)]
    start = threading.Barrier(workers, timeout=60)
    won: list[list[int]] = [[] for _ in range(workers)]

    def claim(w: int) -> None:
        for r in range(rounds):
            start.wait()  # every worker claims key r at the same moment
            won[w] += claim_keys(storages[w], study._study_id, {ids[w][r]: f"({r},)"}, 0)

    threads = [threading.Thread(target=claim, args=(w,), daemon=True) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    winners = [[w for w in range(workers) if ids[w][r] in won[w]] for r in range(rounds)]
    assert [len(ws) for ws in winners] == [1] * rounds, winners


def test_a_failed_trial_holds_nothing_and_a_queued_one_keeps_its_key(tmp_path: Any) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 's.db'}")
    study = optuna.create_study(study_name="s", storage=storage)
    sid = study._study_id
    a, b, c, d, e = _trials(storage, sid, 5)
    # Of one worker's claims sharing a key, the lowest wins; another key is free.
    assert claim_keys(storage, sid, {b: "x", a: "x", c: "y"}, 0) == {a, c}
    assert claim_keys(storage, sid, {d: "x"}, 0) == set()  # a (RUNNING) holds "x"
    storage.set_trial_state_values(a, TrialState.FAIL)  # a failed candidate holds nothing
    assert claim_keys(storage, sid, {d: "x"}, 0) == {d}
    # A claim carrying its mark (given back, or Optuna's retry copy) is claimed again.
    assert claim_keys(storage, sid, {d: "x"}, 0) == {d}
    assert storage.get_trial(d).system_attrs[CLAIM_ATTR] == "x"
    storage.set_trial_state_values(d, TrialState.COMPLETE, [1.0])
    assert claim_keys(storage, sid, {e: "x"}, 0) == set()  # COMPLETE holds
    # Trials below `since` are the caller's to check (it read them all, finished).
    assert claim_keys(storage, sid, {e: "x"}, e) == {e}


def test_an_unverified_schema_claims_everything_without_a_mark(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_bulk, "VERIFIED_SCHEMA_REVISION", "not-this-one")
    monkeypatch.setattr(_bulk, "_warned", True)
    storage = open_storage(f"sqlite:///{tmp_path / 's.db'}")
    study = optuna.create_study(study_name="s", storage=storage)
    a, b = _trials(storage, study._study_id, 2)
    assert claim_keys(storage, study._study_id, {a: "x", b: "x"}, 0) == {a, b}
    assert CLAIM_ATTR not in storage.get_trial(a).system_attrs

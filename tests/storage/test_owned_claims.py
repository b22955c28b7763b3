"""A claimed trial is owned from the transaction that claims it: a worker that loses the
database (or dies) right after claiming leaves no trial without an owner, so the next
worker on this machine takes it over at once instead of waiting out the grace period."""

from __future__ import annotations

import socket
import subprocess
import sys
from typing import Any

import optuna
from optuna.trial import TrialState

from stratopt.storage import Heartbeat, open_storage, resilient_backend

optuna.logging.set_verbosity(optuna.logging.WARNING)

# Claims three trials (one from the queue, one new by `ask`, one new by a grid worker's
# `create_claim`) and exits before any heartbeat thread could record one: what a worker
# that gave up right after claiming leaves.
_CLAIM = """
import optuna, os, sys
from optuna.trial import TrialState, create_trial
from stratopt.storage import Heartbeat, create_claim, open_storage
storage = open_storage(sys.argv[1], heartbeat=Heartbeat(interval=1, grace=600))
study = optuna.load_study(study_name="s", storage=storage)
grid = create_trial(state=TrialState.RUNNING)
create_claim(study._storage, study._study_id, grid)
print(study.ask().number, study.ask().number, os.getpid())
"""


def test_trials_claimed_by_a_process_that_ended_are_stale_at_once(rdb: Any) -> None:
    url = rdb("owned")
    storage = open_storage(url, heartbeat=Heartbeat(interval=1, grace=600))
    study = optuna.create_study(study_name="s", storage=storage)
    study.enqueue_trial({"x": 1.0})
    done = subprocess.run([sys.executable, "-c", _CLAIM, url], capture_output=True, text=True,
                          check=True, timeout=120)  # fmt: skip
    *numbers, pid = done.stdout.split()
    assert numbers == ["0", "2"], done.stdout
    trials = study.get_trials(states=(TrialState.RUNNING,))
    assert [t.number for t in trials] == [0, 1, 2]
    backend = resilient_backend(study._storage)
    assert backend is not None
    stale = backend.stale_trials(study._study_id)
    assert sorted(stale) == sorted(t._trial_id for t in trials), stale
    assert {s.ended for s in stale.values()} == {f"{socket.gethostname()}:{pid}"}


def test_this_process_claims_are_owned_and_not_stale(rdb: Any) -> None:
    storage = open_storage(rdb("mine"), heartbeat=Heartbeat(interval=1, grace=600))
    study = optuna.create_study(study_name="s", storage=storage)
    study.enqueue_trial({"x": 1.0})
    queued, new = study.ask(), study.ask()
    backend = resilient_backend(study._storage)
    assert backend is not None
    assert backend.stale_trials(study._study_id) == {}
    ages = backend.heartbeat_ages(study._study_id)
    assert set(ages) == {queued._trial_id, new._trial_id}
    # The heartbeat was written by the claim itself, not first seen now by this reader.
    assert backend._unbeaten == {}
    # A queued trial another process holds is not claimed twice.
    assert storage.set_trial_state_values(queued._trial_id, TrialState.RUNNING) is False
    # A RUNNING trial added as it is (not claimed) has no owner: its heartbeats say.
    study.add_trial(optuna.trial.create_trial(state=TrialState.RUNNING))
    assert len(backend.heartbeat_ages(study._study_id)) == 3 and len(backend._unbeaten) == 1


def test_a_trial_finished_without_a_beat_is_no_longer_held_as_owned(rdb: Any) -> None:
    """`claim_beat` skips the trials this process's claim already beat and owned, and
    forgets them; a trial finished without it (a candidate pruned before its batch's
    heartbeats: a constraint, a duplicate) was held for the rest of the run, one id per
    such trial (thousands in a long study). Finished, returned or failed as an orphan, a
    trial is forgotten; one still running is kept, and still skipped by `claim_beat`."""
    storage = open_storage(rdb("forgotten"), heartbeat=Heartbeat(interval=1, grace=600))
    study = optuna.create_study(study_name="s", storage=storage)
    backend = resilient_backend(study._storage)
    assert backend is not None
    trials = [study.ask() for _ in range(6)]
    assert backend._owned == {t._trial_id for t in trials}
    study.tell(trials[0], state=TrialState.PRUNED)
    study.tell(trials[1], 1.0)
    study.tell(trials[2], state=TrialState.FAIL)
    assert backend.return_trial(trials[3]._trial_id)
    assert backend.fail_orphan(trials[4]._trial_id, "gone")
    assert backend._owned == {trials[5]._trial_id}
    again = study.ask()  # the returned trial, claimed from the queue: owned again
    assert again._trial_id == trials[3]._trial_id
    assert backend._owned == {trials[5]._trial_id, again._trial_id}
    backend.claim_beat([trials[5]._trial_id, again._trial_id])
    assert backend._owned == set()

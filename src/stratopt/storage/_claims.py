"""Which trial runs a candidate: a worker wins its key in the storage, or does not run it.

Workers sharing a study each claim trials and check them against the study. A grid claim
is created with its parameters, so the lowest-numbered trial holding a combination can
win; but `study.ask()` (random, TPE, CMA-ES, ...) creates a trial first and its sampler
draws the parameters after, so two workers that draw one point can each check before
the other's parameters are written, and both run it.

The claim decides it in the storage instead: one transaction, with the study's row
locked (PostgreSQL; SQLite's `BEGIN IMMEDIATE` locks the whole file), looks for a trial
of the study marked with the key (the trial system attribute `CLAIM_ATTR`) that has
not FAILED, and marks the claims whose key nobody holds. Transactions of one study run
one after another, so of two claims of one key exactly one is marked. A FAILED trial
holds nothing: its parameters may be run again (Optuna's retry of a dead worker's
trial, a candidate that raised). A queued trial (WAITING: a retry, or one a stopping
worker gave back) keeps its mark, and its own worker's claim of it keeps it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from optuna.trial import TrialState

from stratopt.storage._bulk import optuna_models
from stratopt.storage._lazy_sqlalchemy import sa

__all__ = ["CLAIM_ATTR", "mark_claims"]

CLAIM_ATTR = "stratopt:claim"


def mark_claims(
    engine: sa.Engine, study_id: int, claims: Mapping[int, str], since: int
) -> set[int]:
    """Mark each of `claims` (trial id -> key) whose key no other trial of the study holds;
    the ids marked. Of claims sharing a key, the lowest id wins.

    Only trials with an id from `since` on are looked at: the caller knows every
    trial below it (all finished when it last read the study) and which keys they hold.
    """
    tables = optuna_models().BaseModel.metadata.tables
    studies, trials = tables["studies"], tables["trials"]
    attrs = tables["trial_system_attributes"]
    wanted = {trial_id: json.dumps(key) for trial_id, key in claims.items()}
    holders = (
        sa.select(attrs.c.value_json)
        .join(trials, trials.c.trial_id == attrs.c.trial_id)
        .where(
            trials.c.study_id == study_id,
            trials.c.trial_id >= since,
            trials.c.state != TrialState.FAIL,
            attrs.c.key == CLAIM_ATTR,
            attrs.c.value_json.in_(set(wanted.values())),
            attrs.c.trial_id.not_in(list(wanted)),
        )
    )
    with engine.begin() as conn:
        # As Optuna's trial creation: the study row locked makes every other claim (and
        # trial creation) of this study wait until this transaction ends.
        conn.execute(
            sa.select(studies.c.study_id).where(studies.c.study_id == study_id).with_for_update()
        )
        held = set(conn.execute(holders).scalars())
        won: dict[int, str] = {}
        for trial_id in sorted(wanted):
            if wanted[trial_id] not in held:
                held.add(wanted[trial_id])
                won[trial_id] = wanted[trial_id]
        if won:
            # A claim may carry its mark already: a trial given back, or retried (Optuna's
            # retry copies the failed trial's system attributes), claimed anew.
            mine = sa.and_(attrs.c.trial_id.in_(list(won)), attrs.c.key == CLAIM_ATTR)
            conn.execute(sa.delete(attrs).where(mine))
            rows = [{"trial_id": t, "key": CLAIM_ATTR, "value_json": v} for t, v in won.items()]
            conn.execute(sa.insert(attrs), rows)
    return set(won)

"""Opening a study for a search: create or resume it, refusing one it cannot continue."""

from __future__ import annotations

import optuna
from optuna.study import StudyDirection

from stratopt.errors import ConfigError
from stratopt.search._plan import SearchPlan
from stratopt.search._space import SearchSpace
from stratopt.storage import DbRetry, Heartbeat, open_storage

__all__ = ["open_study"]


def open_study(
    name: str,
    url: str,
    plan: SearchPlan,
    *,
    heartbeat: Heartbeat | None = None,
    retry: DbRetry | None = None,
) -> optuna.Study:
    """Create or load study `name` in storage `url`; refuse other directions or another
    space (ConfigError). `heartbeat`: Optuna's heartbeat interval and grace period;
    `retry`: how long its operations ride out a database outage (default 120 s)."""
    study = optuna.create_study(
        study_name=name,
        storage=open_storage(url, heartbeat=heartbeat, retry=retry),
        directions=list(plan.objective.directions),
        load_if_exists=True,
    )
    wanted = [
        StudyDirection.MAXIMIZE if d == "maximize" else StudyDirection.MINIMIZE
        for d in plan.objective.directions
    ]
    if list(study.directions) != wanted:
        raise ConfigError(
            f"objective: study {name!r} already exists with other directions; "
            "use another name or storage"
        )
    _check_same_space(study, plan.space, name)
    return study


def _check_same_space(study: optuna.Study, space: SearchSpace, name: str) -> None:
    """A resumed study must search the same distributions (Optuna refuses otherwise)."""
    current = space.distributions()
    for t in study.get_trials(deepcopy=False):
        for key, dist in t.distributions.items():
            if key in current:
                try:
                    optuna.distributions.check_distribution_compatibility(dist, current[key])
                except ValueError:
                    raise ConfigError(
                        f"space.{key}: study {name!r} already has trials over {dist!r}, "
                        f"which cannot be resumed as {current[key]!r}; "
                        "use a new study name (or another storage)"
                    ) from None
        return

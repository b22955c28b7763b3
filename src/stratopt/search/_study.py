"""Opening a study for a search: create or resume it, refusing one it cannot continue."""

from __future__ import annotations

from collections.abc import Mapping

import optuna
from optuna.study import StudyDirection

from stratopt.errors import ConfigError
from stratopt.search._plan import SearchPlan
from stratopt.search._space import SearchSpace
from stratopt.storage import ATTR_FINGERPRINT, DbRetry, Heartbeat, open_storage

__all__ = ["open_study"]

_SHOWN = 4  # changes listed in the refusal; the rest are counted


def open_study(
    name: str,
    url: str,
    plan: SearchPlan,
    *,
    heartbeat: Heartbeat | None = None,
    fingerprint: Mapping[str, str] | None = None,
    new: bool = False,
    retry: DbRetry | None = None,
) -> optuna.Study:
    """Create or load study `name` in storage `url`; refuse other directions or another
    space (ConfigError). `heartbeat`: Optuna's heartbeat interval and grace period;
    `retry`: how long its operations ride out a database outage (default 120 s).

    `fingerprint`: what defines the study (name -> text); a study holding another one is
    refused with the list of what changed, so two studies are never ranked together.
    `new`: refuse a study that already has trials (`--fork NAME`).
    """
    storage = open_storage(url, heartbeat=heartbeat, retry=retry)
    if new and name in optuna.get_all_study_names(storage):
        raise ConfigError(
            f"--fork: study {name!r} already exists in this storage; fork to a new name"
        )
    study = optuna.create_study(
        study_name=name,
        storage=storage,
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
    _check_same_space(study, plan.space, name)  # the more precise message, when it applies
    if fingerprint is not None:
        _check_fingerprint(study, dict(fingerprint), name)
    return study


def _check_fingerprint(study: optuna.Study, fingerprint: dict[str, str], name: str) -> None:
    """Record `fingerprint` on a new study; refuse a stored study defined otherwise."""
    held = study.user_attrs.get(ATTR_FINGERPRINT)
    if not isinstance(held, dict):  # new, or run before fingerprints were recorded
        study.set_user_attr(ATTR_FINGERPRINT, fingerprint)
        return
    changed = [k for k in sorted(set(held) | set(fingerprint)) if held.get(k) != fingerprint.get(k)]
    if not changed:
        return
    shown = "; ".join(
        f"{k}: {_short(held.get(k))} -> {_short(fingerprint.get(k))}" for k in changed[:_SHOWN]
    )
    more = f" (and {len(changed) - _SHOWN} more)" if len(changed) > _SHOWN else ""
    raise ConfigError(
        f"name: study {name!r} was run with another definition ({shown}{more}); its trials "
        "would be ranked with this run's. Use a new study name, or `--fork NEW_NAME` to "
        "start a new study (only --trials may change on a rerun)"
    )


def _short(value: object) -> str:
    text = "(none)" if value is None else str(value)
    return text if len(text) <= 48 else text[:45] + "..."


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
                        "use a new study name or `--fork NEW_NAME` (or another storage)"
                    ) from None
        return

"""What stratopt records on Optuna studies and trials: the user-attribute keys, one place.

Everything stratopt records on a trial lives in one user attribute (one storage write per
trial): {"metrics", "components", "violations", "error", "pruned", "runtime_s",
"per_symbol", "key", "shortfall", "dup"}. On the study: the objective's normalizer
state, the robustness and look-ahead sections of the last optimization, a
walk-forward window's train range and the study's fingerprint.
"""

from __future__ import annotations

from typing import Any

from optuna.trial import FrozenTrial

__all__ = [
    "ATTR",
    "ATTR_FINGERPRINT",
    "ATTR_LOOKAHEAD",
    "ATTR_NORMALIZER",
    "ATTR_ROBUSTNESS",
    "ATTR_SELECTION",
    "ATTR_WINDOW",
    "record",
]

ATTR = "stratopt"
ATTR_NORMALIZER = "stratopt:normalizer"
ATTR_ROBUSTNESS = "stratopt:robustness"
ATTR_LOOKAHEAD = "stratopt:lookahead"
ATTR_WINDOW = "stratopt:window"
# Written by `cleanup` before it deletes trials: how many candidates were backtested and
# their Sharpe moments, so the overfitting statistics keep counting the deleted ones.
ATTR_SELECTION = "stratopt:selection"
# What defines the study (data hashes, strategy and its source, settings, objective,
# space...): a rerun with another definition is refused instead of mixing two studies.
ATTR_FINGERPRINT = "stratopt:fingerprint"


def record(trial: FrozenTrial) -> dict[str, Any]:
    """What stratopt recorded on `trial` (empty for trials it did not run)."""
    rec = trial.user_attrs.get(ATTR)
    return rec if isinstance(rec, dict) else {}

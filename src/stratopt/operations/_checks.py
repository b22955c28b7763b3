"""The analyses after a search: robustness of the best and the look-ahead check.

Both run while the search's evaluator is open (every missing point in one batch), write
their section of summary.json and keep it on the study (user attributes) for `stratopt
show`. A failure in either is recorded in its section; it never costs the search.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from optuna.trial import FrozenTrial, TrialState

from stratopt._jsonable import clean
from stratopt.config import StudyConfig
from stratopt.data import Bars
from stratopt.evaluation import DataKey, Evaluator
from stratopt.operations._results import LookaheadCheck, RobustnessCheck
from stratopt.search import RunResult, SearchPlan
from stratopt.storage import ATTR_LOOKAHEAD, ATTR_ROBUSTNESS, order_trials
from stratopt.validation import assess_robustness, check_study_lookahead

__all__ = ["LOOKAHEAD_TOP", "lookahead_check", "robustness_check"]

log = logging.getLogger("stratopt.validation")

LOOKAHEAD_TOP = 3  # best candidates checked for look-ahead after every optimization


def robustness_check(
    result: RunResult, plan: SearchPlan, evaluator: Evaluator, run_dir: Path
) -> RobustnessCheck:
    """Stability of the best and the robust region; stability.csv and sensitivity.csv."""
    try:
        report = assess_robustness(
            result.study,
            space=plan.space,
            objective=plan.objective,
            evaluator=evaluator,
            constraints=plan.constraints,
            fixed=plan.fixed,
            requirements=plan.requirements,
        )
        report.write_csv(run_dir)
        check = RobustnessCheck(report)
    except Exception as exc:  # a bug here must not cost the search's results
        log.exception("robustness analysis failed")
        check = RobustnessCheck(None, f"{type(exc).__name__}: {exc}")
    result.study.set_user_attr(ATTR_ROBUSTNESS, clean(check.to_dict()))
    return check


def lookahead_check(
    result: RunResult,
    plan: SearchPlan,
    study: StudyConfig,
    bars_for: Callable[[DataKey], list[Bars]],
) -> LookaheadCheck:
    """The bounded look-ahead check on the best `LOOKAHEAD_TOP` candidates."""
    done = result.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    directions = plan.objective.directions
    top = order_trials([t for t in done if t.values], directions)[:LOOKAHEAD_TOP]
    if top:
        check = _check_top(top, study, bars_for)
    else:
        check = LookaheadCheck(None, note="no completed candidate to check")
    result.study.set_user_attr(ATTR_LOOKAHEAD, clean(check.to_dict()))
    return check


def _check_top(
    top: list[FrozenTrial], study: StudyConfig, bars_for: Callable[[DataKey], list[Bars]]
) -> LookaheadCheck:
    start = time.perf_counter()
    try:
        report = check_study_lookahead(
            study,
            candidates=[dict(t.params) for t in top],
            bars_for=bars_for,
            points=5,
            lookback=2000,
            horizon=250,
        )
    except Exception as exc:  # a bug here must not cost the search's results
        log.exception("look-ahead check failed")
        return LookaheadCheck(None, error=f"{type(exc).__name__}: {exc}")
    seconds = round(time.perf_counter() - start, 3)
    return LookaheadCheck(report, [t.number for t in top], seconds)

"""Evaluation: a candidate's parameters -> its metrics, returns or segment results.

`Router` splits searched parameters between the strategy, the backtest settings and the
data; the evaluators run candidates through the engine (`StudyEvaluator`) or a user's
function (`CallableEvaluator`) and give one `Outcome` each; `SegmentRunner` measures a
candidate on a time segment (holdout, walk-forward test windows) and `candidate_returns`
collects candidates' per-bar returns for the statistics. Nothing here knows Optuna.
"""

from __future__ import annotations

from stratopt.evaluation._data import DataKey, StudyData, with_data
from stratopt.evaluation._evaluators import (
    CallableEvaluator,
    Evaluator,
    Outcome,
    StudyEvaluator,
    aggregate,
    metrics_from_result,
    portfolio_metrics,
)
from stratopt.evaluation._returns import CandidateReturns, bin_returns, candidate_returns
from stratopt.evaluation._router import Candidate, Router
from stratopt.evaluation._segments import SegmentResult, SegmentRunner, time_axis

__all__ = [
    "CallableEvaluator",
    "Candidate",
    "CandidateReturns",
    "DataKey",
    "Evaluator",
    "Outcome",
    "Router",
    "SegmentResult",
    "SegmentRunner",
    "StudyData",
    "StudyEvaluator",
    "aggregate",
    "bin_returns",
    "candidate_returns",
    "metrics_from_result",
    "portfolio_metrics",
    "time_axis",
    "with_data",
]

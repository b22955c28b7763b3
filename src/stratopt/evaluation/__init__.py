"""Evaluation: a candidate's parameters -> its metrics, returns or segment results.

`Router` splits searched parameters between the strategy, the backtest settings and the
data; the evaluators run candidates through the engine (`StudyEvaluator`), a user's
function (`CallableEvaluator`) or a study's external evaluator (`External`: a Python
function, a command or a backtesting.py class; `StudyEvaluator` hands such a study's
candidates to `ExternalEvaluator`) and give one `Outcome` each; `SegmentRunner` measures a
candidate on a time segment (holdout, walk-forward test windows) and `candidate_returns`
collects candidates' per-bar returns for the statistics. Nothing here knows Optuna.
"""

from __future__ import annotations

from stratopt.evaluation._contract import ExternalFailure, ExternalRun, Period
from stratopt.evaluation._data import DataKey, StudyData, time_axis, with_data
from stratopt.evaluation._evaluators import (
    CallableEvaluator,
    StudyEvaluator,
    aggregate,
    metrics_from_result,
    portfolio_metrics,
)
from stratopt.evaluation._external import Context, EvaluatorIdentity, External, evaluator_identity
from stratopt.evaluation._external_eval import ExternalEvaluator
from stratopt.evaluation._grid_segments import SegmentRun, grid_segment
from stratopt.evaluation._outcome import CandidatePool, Evaluator, Outcome
from stratopt.evaluation._returns import (
    NO_CURVE,
    CandidateReturns,
    bin_returns,
    candidate_returns,
)
from stratopt.evaluation._router import Candidate, Router
from stratopt.evaluation._segments import SegmentResult, SegmentRunner

__all__ = [
    "NO_CURVE",
    "CallableEvaluator",
    "Candidate",
    "CandidatePool",
    "CandidateReturns",
    "Context",
    "DataKey",
    "Evaluator",
    "EvaluatorIdentity",
    "External",
    "ExternalEvaluator",
    "ExternalFailure",
    "ExternalRun",
    "Outcome",
    "Period",
    "Router",
    "SegmentResult",
    "SegmentRun",
    "SegmentRunner",
    "StudyData",
    "StudyEvaluator",
    "aggregate",
    "bin_returns",
    "candidate_returns",
    "evaluator_identity",
    "grid_segment",
    "metrics_from_result",
    "portfolio_metrics",
    "time_axis",
    "with_data",
]

"""Two-stage tuning of model-driven strategies (seed 003): a model on IC, then a rule on Sharpe.

Stage 1 searches LightGBM's parameters on the information coefficient of out-of-fold
predictions (purged, embargoed folds); each configuration's predictions are cached on
disk under a SHA-256 of every input. Stage 2 searches a trading rule acting on
quantiles or z-scores of those predictions, running only the engine. A final holdout
that neither stage sees measures what survives; the run folder reports fold ICs with
standard errors, development and holdout Sharpe, the deflated Sharpe ratio, the PBO and
the robust pick. See docs/ml.md.

Example:
    >>> from stratopt import ml
    >>> result = ml.tune("examples/ml_two_stage_synthetic.yaml")  # doctest: +SKIP
    >>> result.summary["stage2"]["best"]["holdout_sharpe"]  # doctest: +SKIP
"""

from __future__ import annotations

from stratopt.ml._cache import CachedArrays, PredictionCache, cache_key
from stratopt.ml._config import (
    IC_OBJECTIVES,
    MIN_CROSS_SECTION,
    SCALE_ONLY,
    MlStudy,
    load_ml_study,
    parse_ml_study,
)
from stratopt.ml._features import FeatureMatrix, FeatureSpec, compute_features
from stratopt.ml._folds import Fold, FoldPlan, FoldSettings, inner_split, plan_folds
from stratopt.ml._ic import IcSummary, block_ic, per_date_ic, summarize
from stratopt.ml._labels import forward_returns
from stratopt.ml._lookahead import FeatureLookahead, check_feature_lookahead
from stratopt.ml._panel import Panel, load_panel, planted_signal, synthetic_panel
from stratopt.ml._predict import (
    Predictions,
    fold_predictions,
    holdout_predictions,
    model_params,
    prediction_key,
)
from stratopt.ml._prepare import Prepared, prepare
from stratopt.ml._stage1 import ModelScore, evaluate_model
from stratopt.ml._stage2 import RULE_DEFAULTS, PredictionSet, RuleBacktester, RuleRun
from stratopt.ml._tune import TuneResult, tune

__all__ = [
    "IC_OBJECTIVES",
    "MIN_CROSS_SECTION",
    "RULE_DEFAULTS",
    "SCALE_ONLY",
    "CachedArrays",
    "FeatureLookahead",
    "FeatureMatrix",
    "FeatureSpec",
    "Fold",
    "FoldPlan",
    "FoldSettings",
    "IcSummary",
    "MlStudy",
    "ModelScore",
    "Panel",
    "PredictionCache",
    "PredictionSet",
    "Predictions",
    "Prepared",
    "RuleBacktester",
    "RuleRun",
    "TuneResult",
    "block_ic",
    "cache_key",
    "check_feature_lookahead",
    "compute_features",
    "evaluate_model",
    "fold_predictions",
    "forward_returns",
    "holdout_predictions",
    "inner_split",
    "load_ml_study",
    "load_panel",
    "model_params",
    "parse_ml_study",
    "per_date_ic",
    "plan_folds",
    "planted_signal",
    "prediction_key",
    "prepare",
    "summarize",
    "synthetic_panel",
    "tune",
]

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
    >>> options = ml.TuneOptions(storage="memory", overrides=["stage1.trials=5"])
    >>> result = ml.tune("examples/ml_two_stage_synthetic.yaml", options)  # doctest: +SKIP
    >>> result.summary["stage2"]["best"]["holdout_sharpe"]  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Imported on first use: `stratopt.ml._cache` alone (a cache writer) needs only numpy,
# and the study-file schema does not load LightGBM.
_LAZY = {
    "CachedArrays": "stratopt.ml._cache",
    "PredictionCache": "stratopt.ml._cache",
    "cache_key": "stratopt.ml._cache",
    "IC_OBJECTIVES": "stratopt.ml._config",
    "MIN_CROSS_SECTION": "stratopt.ml._config",
    "MlStudy": "stratopt.ml._config",
    "SCALE_ONLY": "stratopt.ml._config",
    "load_ml_study": "stratopt.ml._config",
    "parse_ml_study": "stratopt.ml._config",
    "FeatureMatrix": "stratopt.ml._features",
    "FeatureSpec": "stratopt.ml._features",
    "compute_features": "stratopt.ml._features",
    "Fold": "stratopt.ml._folds",
    "FoldPlan": "stratopt.ml._folds",
    "FoldSettings": "stratopt.ml._folds",
    "inner_split": "stratopt.ml._folds",
    "plan_folds": "stratopt.ml._folds",
    "IcSummary": "stratopt.ml._ic",
    "block_ic": "stratopt.ml._ic",
    "per_date_ic": "stratopt.ml._ic",
    "summarize": "stratopt.ml._ic",
    "forward_returns": "stratopt.ml._labels",
    "FeatureLookahead": "stratopt.ml._lookahead",
    "check_feature_lookahead": "stratopt.ml._lookahead",
    "Panel": "stratopt.ml._panel",
    "PanelSpec": "stratopt.ml._panel",
    "load_panel": "stratopt.ml._panel",
    "planted_signal": "stratopt.ml._panel",
    "synthetic_panel": "stratopt.ml._panel",
    "Predictions": "stratopt.ml._predict",
    "fold_predictions": "stratopt.ml._predict",
    "holdout_predictions": "stratopt.ml._predict",
    "model_params": "stratopt.ml._predict",
    "prediction_key": "stratopt.ml._predict",
    "Prepared": "stratopt.ml._prepare",
    "prepare": "stratopt.ml._prepare",
    "ModelScore": "stratopt.ml._stage1",
    "evaluate_model": "stratopt.ml._stage1",
    "PredictionSet": "stratopt.ml._stage2",
    "RULE_DEFAULTS": "stratopt.ml._stage2",
    "RuleBacktester": "stratopt.ml._stage2",
    "RuleRun": "stratopt.ml._stage2",
    "TuneOptions": "stratopt.ml._tune",
    "TuneResult": "stratopt.ml._tune",
    "tune": "stratopt.ml._tune",
}

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
    "PanelSpec",
    "PredictionCache",
    "PredictionSet",
    "Predictions",
    "Prepared",
    "RuleBacktester",
    "RuleRun",
    "TuneOptions",
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

if TYPE_CHECKING:
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
    from stratopt.ml._panel import Panel, PanelSpec, load_panel, planted_signal, synthetic_panel
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
    from stratopt.ml._tune import TuneOptions, TuneResult, tune


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'stratopt.ml' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

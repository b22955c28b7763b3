"""Stage 1: score a model configuration by the IC of its out-of-fold predictions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from stratopt.ml._ic import IcSummary, block_ic, per_date_ic, summarize
from stratopt.ml._predict import Predictions, fold_predictions, model_params
from stratopt.ml._prepare import Prepared

__all__ = ["ModelScore", "evaluate_model", "score_predictions"]


@dataclass(frozen=True, eq=False)
class ModelScore:
    """A configuration's IC metrics, its per-fold ICs and its predictions."""

    metrics: dict[str, float]
    folds: list[dict[str, Any]]
    predictions: Predictions


def _ics(prepared: Prepared, pred: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-date (cross-sectional) or per-block (time-series) IC and rank IC."""
    if prepared.study.ic == "cross_sectional":
        return per_date_ic(pred, label, rank=False), per_date_ic(pred, label, rank=True)
    rows = np.arange(pred.shape[0])
    block = prepared.study.stage1.ic_block
    return (
        block_ic(pred, label, rows, block=block, rank=False),
        block_ic(pred, label, rows, block=block, rank=True),
    )


def _summary_metrics(ic: IcSummary, ric: IcSummary) -> dict[str, float]:
    return {
        "ic": ic.mean,
        "ic_std": ic.std,
        "icir": ic.ir,
        "ic_se": ic.se,
        "rank_ic": ric.mean,
        "rank_ic_std": ric.std,
        "rank_icir": ric.ir,
        "rank_ic_se": ric.se,
        "dates": float(ric.n),
    }


def score_predictions(
    prepared: Prepared, oof: Predictions
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """The IC metrics over all folds and one row per fold (with standard errors)."""
    all_ic, all_ric, rows = [], [], []
    for fold, pred, best in zip(prepared.plan.folds, oof.folds, oof.best_iterations, strict=True):
        ic, ric = _ics(prepared, pred, prepared.label[fold.test])
        all_ic.append(ic)
        all_ric.append(ric)
        s_ic, s_ric = summarize(ic), summarize(ric)
        rows.append(
            {
                "fold": fold.index,
                "test_start": str(prepared.panel.index[int(fold.test[0])]),
                "test_end": str(prepared.panel.index[int(fold.test[-1])]),
                "train_samples": int(fold.train.size),
                "test_samples": int(fold.test.size),
                "best_iteration": int(best),
                **_summary_metrics(s_ic, s_ric),
            }
        )
    metrics = _summary_metrics(
        summarize(np.concatenate(all_ic)), summarize(np.concatenate(all_ric))
    )
    fold_ric = [v for r in rows if isinstance(v := r["rank_ic"], float) and np.isfinite(v)]
    metrics["worst_fold"] = min(fold_ric) if fold_ric else float("nan")
    return metrics, rows


def evaluate_model(prepared: Prepared, searched: Mapping[str, Any]) -> ModelScore:
    """Out-of-fold predictions of one configuration (cached) and their IC metrics."""
    oof = fold_predictions(prepared, model_params(prepared, searched))
    metrics, folds = score_predictions(prepared, oof)
    return ModelScore(metrics, folds, oof)

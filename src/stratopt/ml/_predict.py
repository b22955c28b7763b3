"""Out-of-fold and holdout predictions of one model configuration, through the cache.

`fold_predictions` fits one model per fold (training rows: the fold's purged training
samples with a label; early stopping on their purged inner tail) and predicts the fold's
test samples. `holdout_predictions` fits the final model on every development sample and
predicts the holdout bars. Both are cached under a key of every input (`prediction_key`);
a cached configuration is never trained again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from stratopt.ml._cache import cache_key
from stratopt.ml._folds import inner_split
from stratopt.ml._model import FitData, FitSettings, fit_predict, lightgbm_version
from stratopt.ml._prepare import Prepared

__all__ = [
    "Predictions",
    "fold_predictions",
    "holdout_predictions",
    "model_params",
    "path_predictions",
    "prediction_key",
]


@dataclass(frozen=True, eq=False)
class Predictions:
    """Predictions of one configuration and whether this call trained models for them.

    Attributes:
        folds: Out-of-fold runs: per fold, (test samples, N) predictions. Holdout: one
            array of (holdout bars, N).
        best_iterations: Boosting rounds kept per fit.
        key: The cache key.
        trained: Models were fit by this call (False: read from the cache).
    """

    folds: list[np.ndarray]
    best_iterations: list[int]
    key: str
    trained: bool


def model_params(prepared: Prepared, searched: Mapping[str, Any]) -> dict[str, Any]:
    """LightGBM's parameters: the fixed ones, then the searched values."""
    return {**prepared.study.model.fixed, **dict(searched)}


def prediction_key(prepared: Prepared, params: Mapping[str, Any], kind: str) -> str:
    """The cache key of `kind` (``oof`` or ``holdout``) predictions of `params`."""
    model = prepared.study.model
    stop = model.early_stopping
    return cache_key(
        {
            "kind": kind,
            **prepared.fingerprint,
            "model": dict(params),
            "rounds": model.rounds,
            "early_stopping": None if stop is None else stop.model_dump(),
            "lightgbm": lightgbm_version(),
        }
    )


def _rows(prepared: Prepared, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of `samples` as flat rows, the rows without a label dropped."""
    f = prepared.features.values
    x = f[samples].reshape(-1, f.shape[2])
    y = prepared.label[samples].reshape(-1)
    ok = np.isfinite(y)
    return x[ok], y[ok]


def _fit(
    prepared: Prepared, train: np.ndarray, params: Mapping[str, Any], predict: np.ndarray
) -> tuple[np.ndarray, int]:
    model = prepared.study.model
    stop = model.early_stopping
    if stop is None:
        head, tail = train, train[:0]
    else:
        head, tail = inner_split(train, fraction=stop.fraction, purge=prepared.plan.purge)
    x_fit, y_fit = _rows(prepared, head)
    x_val, y_val = _rows(prepared, tail)
    f = prepared.features.values
    x_pred = f[predict].reshape(-1, f.shape[2])
    fit = fit_predict(
        FitData(x_fit, y_fit, x_val, y_val),
        [x_pred],
        FitSettings(params, model.rounds, None if stop is None else stop.rounds),
    )
    return fit.predictions[0].reshape(len(predict), -1), fit.best_iteration


def fold_predictions(prepared: Prepared, params: Mapping[str, Any]) -> Predictions:
    """Out-of-fold predictions of every fold (from the cache when there)."""
    key = prediction_key(prepared, params, "oof")
    folds = prepared.plan.folds
    hit = prepared.cache.load(key)
    if hit is not None and all(f"fold{f.index}" in hit.arrays for f in folds):
        preds = [hit.arrays[f"fold{f.index}"] for f in folds]
        return Predictions(preds, list(hit.meta["best_iterations"]), key, trained=False)
    preds, best = [], []
    for fold in folds:
        p, b = _fit(prepared, fold.train, params, fold.test)
        preds.append(p)
        best.append(b)
    prepared.cache.store(
        key,
        {f"fold{f.index}": p for f, p in zip(folds, preds, strict=True)},
        {"kind": "oof", "best_iterations": best, "params": dict(params)},
    )
    return Predictions(preds, best, key, trained=True)


def holdout_predictions(prepared: Prepared, params: Mapping[str, Any]) -> Predictions:
    """Predictions of the final model (all development samples) on the holdout bars."""
    key = prediction_key(prepared, params, "holdout")
    hit = prepared.cache.load(key)
    if hit is not None and "holdout" in hit.arrays:
        return Predictions([hit.arrays["holdout"]], list(hit.meta["best_iterations"]), key, False)
    train = np.arange(prepared.n_samples, dtype=np.int64)
    bars = np.arange(prepared.holdout_start, prepared.panel.n_bars, dtype=np.int64)
    p, b = _fit(prepared, train, params, bars)
    prepared.cache.store(
        key, {"holdout": p}, {"kind": "holdout", "best_iterations": [b], "params": dict(params)}
    )
    return Predictions([p], [b], key, trained=True)


def path_predictions(prepared: Prepared, oof: Predictions) -> tuple[np.ndarray, np.ndarray]:
    """Per backtest path, the prediction at every bar (NaN where none) and its fold.

    Returns:
        ``(values, fold)``: float64 (paths, T, N) and int64 (paths, T) with -1 where no
        fold predicts the bar.
    """
    plan = prepared.plan
    n_paths = plan.paths.shape[0]
    t, n = prepared.panel.n_bars, prepared.panel.n_assets
    values = np.full((n_paths, t, n), np.nan)
    fold_of = np.full((n_paths, t), -1, dtype=np.int64)
    fold_of[:, : plan.n_samples] = plan.paths
    by_index = {f.index: (f, p) for f, p in zip(plan.folds, oof.folds, strict=True)}
    for j in range(n_paths):
        for k, (fold, pred) in by_index.items():
            rows = np.flatnonzero(plan.paths[j] == k)
            if rows.size:
                pos = np.searchsorted(fold.test, rows)
                values[j, rows] = pred[pos]
    return values, fold_of

"""LightGBM: one fit with early stopping on a purged inner tail, and its predictions.

LightGBM is imported when a model is trained (the `ml` extra), so study files validate
without it. Training looks `lightgbm.train` up at each call, which lets a test count
the calls. Determinism: stratopt's defaults (`deterministic`, `force_col_wise`, a fixed
`seed`) give bit-identical predictions for 1 and 2 threads; training runs in this
process, never in a forked worker (LightGBM's OpenMP threads can hang after a fork).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stratopt.errors import StratoptError

__all__ = ["FitData", "FitResult", "FitSettings", "fit_predict", "lightgbm_version"]


class MissingExtra(StratoptError):
    """LightGBM (or its OpenMP runtime) is not installed."""


def _lightgbm() -> Any:
    try:
        return importlib.import_module("lightgbm")
    except ImportError as exc:
        raise MissingExtra(
            f"stratopt.ml needs LightGBM: pip install 'stratopt[ml]' ({exc}); on Debian or "
            "Ubuntu it also needs the OpenMP runtime: apt-get install libgomp1"
        ) from None


def lightgbm_version() -> str:
    """The installed LightGBM version (part of every cache key)."""
    return str(_lightgbm().__version__)


@dataclass(frozen=True, eq=False)
class FitResult:
    """Predictions of one fitted model, and the boosting rounds it kept."""

    predictions: list[np.ndarray]
    best_iteration: int


@dataclass(frozen=True, eq=False)
class FitData:
    """Rows to fit on and rows to stop early on (may be empty: no early stopping)."""

    x_fit: np.ndarray
    y_fit: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray


@dataclass(frozen=True)
class FitSettings:
    """LightGBM's parameters, the boosting rounds and early stopping's patience."""

    params: Mapping[str, Any]
    rounds: int
    stopping_rounds: int | None = None


def fit_predict(data: FitData, predict: Sequence[np.ndarray], settings: FitSettings) -> FitResult:
    """Fit on `data`, stop early on its validation rows, predict each of `predict`."""
    lgb = _lightgbm()
    x_fit, y_fit, x_valid, y_valid = data.x_fit, data.y_fit, data.x_valid, data.y_valid
    params, rounds, stopping_rounds = settings.params, settings.rounds, settings.stopping_rounds
    p = dict(params)
    p.setdefault("verbosity", -1)
    train_set = lgb.Dataset(x_fit, y_fit, params={"verbosity": -1}, free_raw_data=True)
    valid_sets: list[Any] = []
    callbacks: list[Any] = []
    if stopping_rounds is not None and len(y_valid) >= 2:
        valid_sets = [lgb.Dataset(x_valid, y_valid, reference=train_set)]
        callbacks = [lgb.early_stopping(stopping_rounds, verbose=False)]
    booster = lgb.train(
        p, train_set, num_boost_round=rounds, valid_sets=valid_sets, callbacks=callbacks
    )
    best = int(booster.best_iteration) if valid_sets and booster.best_iteration > 0 else rounds
    threads = int(p.get("num_threads", 1))
    preds = [
        np.asarray(booster.predict(x, num_iteration=best, num_threads=threads), dtype=np.float64)
        if len(x)
        else np.zeros(0)
        for x in predict
    ]
    return FitResult(preds, best)

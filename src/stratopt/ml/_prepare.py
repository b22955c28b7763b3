"""A two-stage study made ready once: data, features, labels, holdout, folds, cache.

Everything both stages share is computed here, once per run; the fingerprint holds
what the prediction cache key needs besides the model (see `stratopt.ml._cache`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from stratopt.errors import ConfigError
from stratopt.ml._cache import PredictionCache
from stratopt.ml._config import MIN_CROSS_SECTION, MlStudy, optional_space
from stratopt.ml._features import (
    FeatureMatrix,
    FeatureSpec,
    compute_features,
    load_feature_function,
)
from stratopt.ml._folds import FoldPlan, FoldSettings, plan_folds
from stratopt.ml._labels import forward_returns
from stratopt.ml._panel import Panel, PanelSpec, load_panel, synthetic_panel
from stratopt.search import SearchSpace
from stratopt.validation import holdout_start

__all__ = ["Prepared", "feature_spec", "fold_settings", "prepare", "replan", "study_panel"]


@dataclass(frozen=True, eq=False)
class Prepared:
    """What both stages read: the panel, features, labels, holdout cut and folds.

    Attributes:
        holdout_start: First holdout bar `H`; bars ``[H, T)`` are seen by neither stage.
        n_samples: Development samples ``[0, H - reach)``: their labels end before `H`.
    """

    study: MlStudy
    panel: Panel
    features: FeatureMatrix
    feature_spec: FeatureSpec
    label: np.ndarray
    holdout_start: int
    plan: FoldPlan
    model_space: SearchSpace | None
    cache: PredictionCache
    fingerprint: dict[str, Any]

    @property
    def n_samples(self) -> int:
        return self.plan.n_samples


def study_panel(study: MlStudy) -> Panel:
    """The study's assets (files or the synthetic panel)."""
    data = study.data
    if data.synthetic is not None:
        s = data.synthetic
        return synthetic_panel(PanelSpec(**s.model_dump(), lead=study.label.lag + 1))
    return load_panel(
        [study.resolve_path(p) for p in data.paths],
        start=data.start,
        end=data.end,
        timeframe=data.timeframe,
        periods_per_year=data.periods_per_year,
    )


def feature_spec(study: MlStudy) -> FeatureSpec:
    f = study.features
    fn = load_feature_function(f.function, study.base_dir) if f.function else None
    return FeatureSpec(set=f.set, windows=f.windows, function=fn, function_name=f.function)


def fold_settings(study: MlStudy, *, purge: int | None = None) -> FoldSettings:
    f = study.folds
    return FoldSettings(
        scheme=f.scheme,
        mode=f.mode,
        train=f.train,
        test=f.test,
        step=f.step,
        groups=f.groups,
        test_groups=f.test_groups,
        purge=study.purge if purge is None else purge,
        embargo=f.embargo,
    )


def prepare(study: MlStudy, *, panel: Panel | None = None) -> Prepared:
    """Load, compute and check everything a run needs before the first model is fit.

    Raises:
        ConfigError: cross-sectional IC over fewer than `MIN_CROSS_SECTION` assets, a
            holdout or folds the data cannot hold, a failing feature function.
    """
    panel = panel if panel is not None else study_panel(study)
    if study.ic == "cross_sectional" and panel.n_assets < MIN_CROSS_SECTION:
        raise ConfigError(
            f"ic: cross_sectional needs at least {MIN_CROSS_SECTION} assets, the data has "
            f"{panel.n_assets}; a per-date correlation over so few names is noise "
            "(use ic: time_series)"
        )
    spec = feature_spec(study)
    features = compute_features(panel, spec)
    label = forward_returns(panel.close, lag=study.label.lag, horizon=study.label.horizon)
    cut = holdout_start(panel.time, study.holdout, field="holdout")
    plan = plan_folds(panel.time, cut - study.label.reach, fold_settings(study))
    fingerprint: dict[str, Any] = {
        "data": panel.fingerprint(),
        "features": {**spec.describe(), "names": list(features.names), "code": spec.code_hash()},
        "label": {"lag": study.label.lag, "horizon": study.label.horizon},
        "holdout_start": cut,
        "folds": _folds_fingerprint(plan),
    }
    return Prepared(
        study=study,
        panel=panel,
        features=features,
        feature_spec=spec,
        label=label,
        holdout_start=cut,
        plan=plan,
        model_space=optional_space(study.model.space, "model.space"),
        cache=PredictionCache(study.cache_dir),
        fingerprint=fingerprint,
    )


def _folds_fingerprint(plan: FoldPlan) -> dict[str, Any]:
    return {
        "scheme": plan.scheme,
        "boundaries": plan.boundaries(),
        "purge": plan.purge,
        "embargo": plan.embargo,
    }


def replan(prepared: Prepared, settings: FoldSettings) -> Prepared:
    """The same study on other folds, bypassing the file's checks (e.g. no purge).

    For experiments such as showing the leak of unpurged folds; the cache key follows
    the new folds.
    """
    plan = plan_folds(prepared.panel.time, prepared.n_samples, settings)
    fingerprint = {**prepared.fingerprint, "folds": _folds_fingerprint(plan)}
    return dataclasses.replace(prepared, plan=plan, fingerprint=fingerprint)

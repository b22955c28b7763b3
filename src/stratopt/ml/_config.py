"""The two-stage study file: features, label, IC, model, folds, holdout, stage 1, stage 2.

Parsed once into frozen models; every problem is one `ConfigError` line naming the file,
the dotted field and the value. Combinations that cannot mean what the user thinks are
refused here, before any data is read (see `MlStudy` and docs/ml.md):

* `bagging_fraction` searched or fixed below 1 while `bagging_freq` is 0 (LightGBM then
  never bags);
* a scale-only parameter (`size`, `leverage`) searched in stage 2 against a
  scale-invariant objective (Sharpe, Sortino): every value scores the same;
* `folds.purge` below `label.lag + label.horizon` (training labels would overlap the test
  block);
* cross-sectional IC with fewer than `MIN_CROSS_SECTION` assets (checked once the data is
  known, in `stratopt.ml.prepare`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic import model_validator as _model_validator

from stratopt.config import (
    BacktestConfig,
    DataConfig,
    apply_overrides,
    read_study_mapping,
    storage_url_problem,
)
from stratopt.data import parse_timeframe
from stratopt.errors import ConfigError
from stratopt.metrics import get_metric
from stratopt.search import SAMPLERS, SearchSpace

__all__ = [
    "ENGINE_PARAMS",
    "IC_OBJECTIVES",
    "MIN_CROSS_SECTION",
    "RULE_PARAMS",
    "SCALE_ONLY",
    "FeaturesConfig",
    "FoldsConfig",
    "LabelConfig",
    "MlDataConfig",
    "MlStudy",
    "ModelConfig",
    "PanelSyntheticConfig",
    "Stage1Config",
    "Stage2Config",
    "load_ml_study",
    "optional_space",
    "parse_ml_study",
]

MIN_CROSS_SECTION = 5
"""Fewest assets for a cross-sectional IC: with fewer, a per-date correlation is noise."""

IC_OBJECTIVES = ("rank_ic", "ic", "icir", "rank_icir", "worst_fold")
"""Stage-1 objectives: mean (rank) IC over dates, its IR, or the worst fold's rank IC."""

RULE_PARAMS = ("score", "entry", "exit", "window", "min_periods", "hold")
"""Parameters of the `signal_threshold` rule (see `stratopt.ml.RuleBacktester`)."""

ENGINE_PARAMS = ("stop_loss", "take_profit", "trailing_stop", "direction", "size", "leverage")
"""Stage-2 parameters passed to the engine's settings (`leverage` is `size`)."""

SCALE_ONLY = ("size", "leverage")
"""Stage-2 parameters that only scale positions: Sharpe and Sortino cannot see them."""

_SCALE_FREE_OBJECTIVES = ("sharpe", "sortino")
_METHODS = tuple(m for m in SAMPLERS if m not in ("grid", "nsga2"))
_DEFAULT_MODEL = {
    "objective": "regression",
    "deterministic": True,
    "force_col_wise": True,  # histograms per feature: the same sums for any thread count
    "num_threads": 1,
    "seed": 0,
    "verbosity": -1,
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PanelSyntheticConfig(_Model):
    """A generated panel with a planted nonlinear signal (`stratopt.ml.synthetic_panel`)."""

    assets: int = Field(default=20, ge=1, le=2000)
    bars: int = Field(default=1500, ge=50, le=1_000_000)
    features: int = Field(default=10, ge=4, le=200)
    strength: float = Field(default=0.5, ge=0)
    noise: float = Field(default=0.01, gt=0)
    seed: int = Field(default=0, ge=0)
    interval: str = "1D"
    start: str = "2000-01-03"

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        try:
            parse_timeframe(value)
        except ConfigError:
            raise ValueError("not a bar length such as '1D' or '4h'") from None
        return value


class MlDataConfig(DataConfig):
    """The assets: one OHLCV file per symbol, or a synthetic panel (else as `DataConfig`)."""

    synthetic: PanelSyntheticConfig | None = None  # type: ignore[assignment]


class FeaturesConfig(_Model):
    """Which features: the built-in Alpha158-style set, the data's own columns, a function."""

    set: Literal["alpha158", "columns", "none"] = "alpha158"
    windows: tuple[int, ...] = (5, 10, 20, 30, 60)
    function: str | None = None  # "file.py:fn" or "package.module:fn"

    @field_validator("windows")
    @classmethod
    def _windows(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(w < 2 for w in value) or len(set(value)) != len(value):
            raise ValueError(f"expected distinct window lengths >= 2, got {list(value)}")
        return tuple(value)

    @_model_validator(mode="after")
    def _some(self) -> FeaturesConfig:
        if self.set == "none" and self.function is None:
            raise ValueError("features: set 'none' needs a features.function")
        return self


class LabelConfig(_Model):
    """Forward return from the close `lag` bars ahead over the next `horizon` bars."""

    horizon: int = Field(default=1, ge=1, le=10_000)
    lag: int = Field(default=1, ge=0, le=10_000)

    @property
    def reach(self) -> int:
        """Bars past its own bar that one sample's label reads: ``lag + horizon``."""
        return self.lag + self.horizon


class EarlyStoppingConfig(_Model):
    """Early stopping on the inner tail of each training set (purged from the rest)."""

    rounds: int = Field(default=20, ge=1)
    fraction: float = Field(default=0.2, gt=0, lt=0.9)


class ModelConfig(_Model):
    """LightGBM: fixed parameters, the searched ones, rounds and early stopping."""

    params: dict[str, Any] = Field(default_factory=dict)
    space: dict[str, Any] = Field(default_factory=dict)
    rounds: int = Field(default=200, ge=1, le=100_000)
    early_stopping: EarlyStoppingConfig | None = Field(default_factory=EarlyStoppingConfig)

    @property
    def fixed(self) -> dict[str, Any]:
        """The fixed parameters with stratopt's defaults filled in."""
        return {**_DEFAULT_MODEL, **self.params}


class FoldsConfig(_Model):
    """Walk-forward (anchored or rolling) or CPCV folds over the development samples."""

    scheme: Literal["walk_forward", "cpcv"] = "walk_forward"
    mode: Literal["anchored", "rolling"] = "anchored"
    train: int | str | None = None
    test: int | str | None = None
    step: int | str | None = None
    groups: int = Field(default=6, ge=2)
    test_groups: int = Field(default=2, ge=1)
    purge: int | Literal["auto"] = "auto"
    embargo: int = Field(default=0, ge=0)

    @field_validator("purge")
    @classmethod
    def _purge(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 0:
            raise ValueError(f"expected 'auto' or an integer >= 0, got {value}")
        return value


class Stage1Config(_Model):
    """The model search: objective on the out-of-fold IC."""

    objective: Literal["rank_ic", "ic", "icir", "rank_icir", "worst_fold"] = "rank_ic"
    trials: int = Field(default=30, ge=1)
    method: str = "tpe"
    seed: int = Field(default=0, ge=0, lt=2**32)
    ic_block: int = Field(default=250, ge=10)  # time-series IC: bars per block

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        return _known_method(value)


_FROM = re.compile(r"^(best|top(\d+)|trial\s+(\d+))$")


class Stage2Config(_Model):
    """The trading-rule search on the cached predictions of stage 1."""

    from_: str = Field(default="best", alias="from")
    rule: Literal["signal_threshold"] = "signal_threshold"
    params: dict[str, Any] = Field(default_factory=dict)
    space: dict[str, Any] = Field(default_factory=dict)
    backtest: BacktestConfig = Field(default_factory=BacktestConfig)
    objective: str = "sharpe"
    trials: int = Field(default=100, ge=1)
    method: str = "tpe"
    seed: int = Field(default=0, ge=0, lt=2**32)
    top: int = Field(default=5, ge=1)  # candidates re-run on the holdout

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("from_")
    @classmethod
    def _from(cls, value: str) -> str:
        if not _FROM.match(str(value).strip()):
            raise ValueError(f"expected best, topK (e.g. top3) or 'trial N', got {value!r}")
        return str(value).strip()

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        return _known_method(value)

    @field_validator("objective")
    @classmethod
    def _objective(cls, value: str) -> str:
        try:
            get_metric(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value

    def selection(self) -> tuple[str, int]:
        """``("best", 1)``, ``("top", K)`` or ``("trial", N)``."""
        m = _FROM.match(self.from_)
        assert m is not None  # checked by the validator
        if m.group(2):
            return "top", int(m.group(2))
        if m.group(3):
            return "trial", int(m.group(3))
        return "best", 1


class MlStudy(_Model):
    """One two-stage study file."""

    name: str = Field(min_length=1)
    data: MlDataConfig
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    label: LabelConfig = Field(default_factory=LabelConfig)
    ic: Literal["cross_sectional", "time_series"] = "cross_sectional"
    model: ModelConfig = Field(default_factory=ModelConfig)
    folds: FoldsConfig = Field(default_factory=FoldsConfig)
    holdout: float | str = 0.25
    stage1: Stage1Config = Field(default_factory=Stage1Config)
    stage2: Stage2Config = Field(default_factory=Stage2Config)
    storage: str | None = None
    output: str = "runs"
    cache: str | None = None
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("holdout", mode="before")
    @classmethod
    def _holdout(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not 0 < float(value) < 1:
                raise ValueError(f"a fraction must be in (0, 1), got {value}")
            return float(value)
        return str(value)

    @field_validator("storage")
    @classmethod
    def _storage(cls, value: str | None) -> str | None:
        problem = None if value is None else storage_url_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @property
    def purge(self) -> int:
        """The purge in bars (`auto`: the label's reach, lag + horizon)."""
        p = self.folds.purge
        return self.label.reach if p == "auto" else int(p)

    @property
    def output_dir(self) -> Path:
        p = Path(self.output).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    @property
    def cache_dir(self) -> Path:
        """Where out-of-fold predictions are kept (default: ``<output>/ml_cache``)."""
        if self.cache is None:
            return self.output_dir / "ml_cache"
        p = Path(self.cache).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def resolve_path(self, path: str) -> str:
        if path.startswith("pkg://"):
            return path
        p = Path(path).expanduser()
        return str(p if p.is_absolute() else self.base_dir / p)


def _known_method(value: str) -> str:
    if value not in _METHODS:
        raise ValueError(f"unknown method {value!r}{_hint(value, _METHODS)}")
    return value


def _hint(value: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; expected one of {list(choices)}"


def load_ml_study(path: str | Path, overrides: Sequence[str] = ()) -> MlStudy:
    """Read, override (`key.sub=value`) and validate a two-stage study file.

    Raises:
        ConfigError: one line naming the file, the field and the value.
    """
    file = Path(path)
    raw = apply_overrides(read_study_mapping(file), overrides, source=str(file))
    return parse_ml_study(raw, source=str(file), base_dir=file.resolve().parent)


def parse_ml_study(raw: Mapping[str, Any], *, source: str, base_dir: Path) -> MlStudy:
    """Validate a study given as a mapping, then the combinations (module docs)."""
    try:
        study = MlStudy.model_validate({**raw, "base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_first_problem(exc)}") from None
    try:
        check_combinations(study)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return study


def _first_problem(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join("from" if p == "from_" else str(p) for p in err["loc"]) or "(top level)"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return f"{loc}: unknown field"
    if err["type"] == "missing":
        return f"{loc}: required field is missing"
    if msg.startswith(f"{loc.rpartition('.')[0]}.") and "." in msg.split(":")[0]:
        return msg  # a model rule that names its own field
    return f"{loc}: {msg} (got {err.get('input')!r:.80})"


def check_combinations(study: MlStudy) -> None:
    """Refuse the combinations listed in the module docs (all but the asset count)."""
    fixed = study.model.fixed
    if fixed.get("deterministic") is not True:
        raise ConfigError(
            f"model.params.deterministic: must be true (results are reproducible bit for "
            f"bit), got {fixed.get('deterministic')!r}"
        )
    model_space = optional_space(study.model.space, "model.space")
    searched = model_space.names if model_space is not None else ()
    overlap = sorted(set(searched) & set(study.model.params))
    if overlap:
        raise ConfigError(f"model.space.{overlap[0]}: also fixed in model.params; keep one")
    _check_bagging(study, searched)
    if study.purge < study.label.reach:
        raise ConfigError(
            f"folds.purge: {study.folds.purge} is below label.lag + label.horizon = "
            f"{study.label.reach}; training labels would overlap the test block (use auto)"
        )
    stage2_space = optional_space(study.stage2.space, "stage2.space")
    _check_rule_names(stage2_space.names if stage2_space else (), "stage2.space")
    _check_rule_names(tuple(study.stage2.params), "stage2.params")
    objective = study.stage2.objective
    for name in stage2_space.names if stage2_space is not None else ():
        if name in SCALE_ONLY and objective in _SCALE_FREE_OBJECTIVES:
            raise ConfigError(
                f"stage2.space.{name}: only scales positions, which {objective} cannot see; "
                f"fix it in stage2.params or choose another stage2.objective"
            )


def optional_space(raw: Mapping[str, Any], field: str) -> SearchSpace | None:
    """The space of `raw`; None for an empty mapping (one fixed candidate)."""
    return SearchSpace.from_config(raw, field=field) if raw else None


def _check_rule_names(names: Sequence[str], field: str) -> None:
    """Refuse a parameter the rule does not read (a typo would be silently ignored)."""
    known = (*RULE_PARAMS, *ENGINE_PARAMS)
    for name in names:
        if name not in known:
            raise ConfigError(
                f"{field}.{name}: not a parameter of signal_threshold{_hint(name, known)}"
            )


def _check_bagging(study: MlStudy, searched: Sequence[str]) -> None:
    fixed = study.model.fixed
    names = set(searched)
    bag_freq_searched = "bagging_freq" in names
    freq = fixed.get("bagging_freq", 0)
    if bag_freq_searched:
        return
    bagging_set = "bagging_fraction" in names or fixed.get("bagging_fraction", 1.0) != 1.0
    if bagging_set and not (isinstance(freq, int) and freq > 0):
        where = "model.space" if "bagging_fraction" in names else "model.params"
        raise ConfigError(
            f"{where}.bagging_fraction: has no effect unless bagging_freq > 0 "
            f"(model.params.bagging_freq is {freq!r}); set it, e.g. to 1"
        )

"""The study file: YAML or JSON parsed once into frozen, validated models.

Every problem is reported as a `ConfigError` whose message names the file, the
field (as a dotted path), the value and what was expected.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from stratopt.engine import ExecSettings
from stratopt.errors import ConfigError

__all__ = [
    "BacktestConfig",
    "DataConfig",
    "StudyConfig",
    "SyntheticConfig",
    "ValidationConfig",
    "apply_overrides",
    "load_study",
    "parse_study",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SyntheticConfig(_Model):
    """Generated data instead of a file (see `stratopt.data.synthetic_bars`)."""

    bars: int = Field(gt=1)
    seed: int = 0
    interval: str = "1D"
    start: str = "2000-01-03"
    volatility: float = Field(default=0.01, gt=0)
    edge_period: int | None = Field(default=None, ge=4)
    edge_strength: float = Field(default=0.5, gt=0)
    symbol: str = "SYN"


class DataConfig(_Model):
    """Where the bars come from, which part of them, at which timeframe."""

    path: str | list[str] | None = None
    synthetic: SyntheticConfig | None = None
    start: str | None = None
    end: str | None = None
    timeframe: str | None = None
    periods_per_year: float | None = Field(default=None, gt=0)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _date_text(cls, value: Any) -> Any:
        # YAML reads 2005-01-01 as a date object; keep the text form.
        return None if value is None else str(value)

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        if (self.path is None) == (self.synthetic is None):
            raise ValueError("give exactly one of 'path' and 'synthetic'")
        if isinstance(self.path, list) and not self.path:
            raise ValueError("'path' is an empty list")
        return self

    @property
    def paths(self) -> list[str]:
        if self.path is None:
            return []
        return [self.path] if isinstance(self.path, str) else list(self.path)


class BacktestConfig(_Model):
    """Execution settings; the fields and rules of `stratopt.engine.ExecSettings`."""

    cash: float = 10_000.0
    commission: float = 0.0
    commission_fixed: float = 0.0
    slippage_bps: float = 0.0
    fill: Literal["next_open", "close"] = "next_open"
    direction: Literal["both", "long", "short"] = "both"
    sizing: Literal["fraction", "units", "risk"] = "fraction"
    size: float = 1.0
    whole_units: bool = False
    max_leverage: float = 1.0
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None
    max_bars: int | None = None
    holding_cost: float = 0.0

    @model_validator(mode="after")
    def _engine_rules(self) -> BacktestConfig:
        try:
            self.to_settings()
        except ConfigError as exc:
            raise ValueError(str(exc).removeprefix("backtest.")) from None
        return self

    def to_settings(self, **overrides: Any) -> ExecSettings:
        return ExecSettings(**{**self.model_dump(), **overrides})


Method = Literal["grid", "random", "tpe", "cmaes", "nsga2", "qmc"]
Aggregate = Literal["mean", "median", "worst", "portfolio"]


class SearchConfig(_Model):
    """How candidates are proposed and run."""

    method: Method = "tpe"
    trials: int | None = Field(default=None, ge=1)
    seed: int = 0
    jobs: int = Field(default=1, ge=1)
    batch: int | None = Field(default=None, ge=1)
    trial_timeout: float | None = Field(default=None, gt=0)
    retries: int = Field(default=0, ge=0)
    max_attempts: int | None = Field(default=None, ge=1)
    time_budget: float | None = Field(default=None, gt=0)
    startup_trials: int | None = Field(default=None, ge=0)
    ei_candidates: int | None = Field(default=None, ge=1)
    population: int | None = Field(default=None, ge=2)
    refresh: int = Field(default=20, ge=1)


class WalkForwardConfig(_Model):
    """Walk-forward windows (see docs/validation.md): lengths in bars or durations."""

    train: int | str
    test: int | str
    step: int | str | None = None
    mode: Literal["rolling", "anchored"] = "rolling"
    purge: int | str = 0

    @field_validator("train", "test", "step", "purge", mode="before")
    @classmethod
    def _span(cls, value: Any, info: Any) -> Any:
        from stratopt.validation._windows import parse_span

        if value is None:
            return value
        try:
            parse_span(value, field=info.field_name, allow_zero=info.field_name == "purge")
        except ConfigError as exc:
            raise ValueError(str(exc).partition(": ")[2]) from None
        return value


class CpcvConfig(_Model):
    """Combinatorial purged cross-validation: N groups, k test groups, gaps in bars."""

    groups: int = Field(default=6, ge=2)
    test_groups: int = Field(default=2, ge=1)
    purge: int = Field(default=0, ge=0)
    embargo: int = Field(default=0, ge=0)
    metric: str = "sharpe"  # how a split chooses its candidate on the train bars

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        from stratopt.validation._cpcv import SELECTION_METRICS

        if value not in SELECTION_METRICS:
            hint = difflib.get_close_matches(value, list(SELECTION_METRICS), n=1)
            more = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ValueError(f"unknown selection metric{more} (one of {list(SELECTION_METRICS)})")
        return value

    @model_validator(mode="after")
    def _k_below_n(self) -> CpcvConfig:
        if self.test_groups >= self.groups:
            raise ValueError(
                f"test_groups ({self.test_groups}) must be less than groups ({self.groups})"
            )
        return self


class ValidationConfig(_Model):
    """Out-of-sample checks: a holdout tail, walk-forward windows, CPCV."""

    holdout: str | float | None = None
    top: int = Field(default=10, ge=1)
    walk_forward: WalkForwardConfig | None = None
    cpcv: CpcvConfig | None = None

    @field_validator("holdout", mode="before")
    @classmethod
    def _holdout(cls, value: Any) -> Any:
        from stratopt.validation._windows import parse_holdout

        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = float(value)
        elif not isinstance(value, str | float):
            value = str(value)  # YAML reads 2011-01-01 as a date: keep its text
        try:
            parse_holdout(value)
        except ConfigError as exc:
            raise ValueError(str(exc).partition(": ")[2]) from None
        return value


class StudyConfig(_Model):
    """One study file."""

    name: str = Field(min_length=1)
    data: DataConfig
    strategy: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    space: dict[str, Any] = Field(default_factory=dict)
    constraints: list[str] = Field(default_factory=list)
    backtest: BacktestConfig = Field(default_factory=BacktestConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    objective: str | dict[str, Any] = "sharpe"
    require: dict[str, Any] = Field(default_factory=dict)
    aggregate: Aggregate = "mean"
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    storage: str | None = None
    output: str = "runs"
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("constraints", mode="before")
    @classmethod
    def _one_constraint(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @property
    def output_dir(self) -> Path:
        """The run-folder root, relative to the study file."""
        p = Path(self.output).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def resolve_path(self, path: str) -> str:
        """A data path relative to the study file (pkg:// paths are left alone)."""
        if path.startswith("pkg://"):
            return path
        p = Path(path).expanduser()
        return str(p if p.is_absolute() else self.base_dir / p)


def load_study(path: str | Path, overrides: Sequence[str] = ()) -> StudyConfig:
    """Read, override (`key.sub=value`) and validate a study file.

    Raises:
        ConfigError: unreadable file, bad YAML/JSON, bad override or invalid field.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read the study file: {exc}") from None
    try:
        raw = json.loads(text) if file.suffix.lower() == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{file}: not valid YAML/JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: the study file must be a mapping of fields, got {raw!r:.60}")
    raw = apply_overrides(raw, overrides, source=str(file))
    return parse_study(raw, source=str(file), base_dir=file.resolve().parent)


def parse_study(raw: Mapping[str, Any], *, source: str, base_dir: Path) -> StudyConfig:
    """Validate a study given as a mapping (what a study file holds)."""
    try:
        return StudyConfig.model_validate({**raw, "base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, raw, source)) from None


def apply_overrides(
    raw: Mapping[str, Any], overrides: Sequence[str], *, source: str = "--set"
) -> dict[str, Any]:
    """A copy of `raw` with each `dotted.key=value` set (value parsed as a YAML scalar)."""
    out: dict[str, Any] = json.loads(json.dumps(raw, default=str))
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. params.fast=20")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        parts = key.strip().split(".")
        node: Any = out
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                where = ".".join(parts[: depth + 1])
                raise ConfigError(f"--set {item!r}: {where} is {child!r}, not a mapping")
            node = child
        node[parts[-1]] = value
    return out


def _describe(exc: ValidationError, raw: Mapping[str, Any], source: str) -> str:
    lines = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            lines.append(_unknown_key(err["loc"], source))
            continue
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            lines.append(f"{source}: {loc}: required field is missing")
        else:
            lines.append(f"{source}: {loc}: {msg} (got {err['input']!r:.80})")
    more = len(exc.errors()) - len(lines)
    if more > 0:
        lines.append(f"... and {more} more problem(s)")
    return "\n".join(lines)


def _unknown_key(loc: tuple[int | str, ...], source: str) -> str:
    model: type[BaseModel] = StudyConfig
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        ann = getattr(field, "annotation", None) if field else None
        candidates = [a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type)]
        nested = [a for a in candidates if issubclass(a, BaseModel)]
        if not nested:
            break
        model = nested[0]
    known = [k for k in model.model_fields if k != "base_dir"]
    key = str(loc[-1])
    hint = difflib.get_close_matches(key, known, n=1)
    more = f"; did you mean {hint[0]!r}?" if hint else ""
    where = ".".join(str(p) for p in loc)
    return f"{source}: {where}: unknown field{more} (expected one of: {', '.join(known)})"

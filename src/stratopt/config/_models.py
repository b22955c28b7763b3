"""The study file's models: frozen, validated, one per section.

`backtest:` is `stratopt.engine.ExecSettings` itself (its fields, defaults and rules);
`search.method` is one of `METHODS`; spans and holdouts use `stratopt.config._spans`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import pydantic
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from stratopt._suggest import did_you_mean
from stratopt._urls import anchor_sqlite_url, check_url
from stratopt.config._grid import GridConfig
from stratopt.config._methods import METHODS, method_list
from stratopt.config._spans import parse_holdout, parse_span
from stratopt.data import ISO_HINT, parse_time, parse_timeframe
from stratopt.engine import ExecSettings
from stratopt.errors import ConfigError
from stratopt.stats import SELECTION_METRICS

__all__ = [
    "PLACEHOLDERS",
    "BacktestConfig",
    "CpcvConfig",
    "DataConfig",
    "EvaluatorConfig",
    "SearchConfig",
    "StudyConfig",
    "SyntheticConfig",
    "ValidationConfig",
    "WalkForwardConfig",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _time_text(value: Any) -> Any:
    """A date or datetime kept as text; ValueError unless it is ISO 8601 (never guessed)."""
    if value is None:
        return None
    # YAML reads 2005-01-01 as a date object; keep the text form.
    text = str(value)
    try:
        parse_time(text, field="")
    except ConfigError:
        raise ValueError(f"not an ISO 8601 date (month or day first?); {ISO_HINT}") from None
    return text


def _timeframe_text(value: Any) -> Any:
    """A bar length such as 4h, checked with the parser the data loader uses."""
    if value is None:
        return None
    try:
        parse_timeframe(str(value))
    except ConfigError:
        raise ValueError(
            "not a bar length; expected a number and a unit such as '5m', '4h', '1D' or '1W'"
        ) from None
    return str(value)


def _one_of(value: str, choices: Mapping[str, Any], what: str, listed: str) -> str:
    """`value` if it names one of `choices`, else the error pydantic reports for the field."""
    if value not in choices:
        raise ValueError(f"unknown {what}{did_you_mean(value, choices)} (one of {listed})")
    return value


class SyntheticConfig(_Model):
    """Generated data instead of a file (see `stratopt.data.synthetic_bars`)."""

    # At most 10 million bars: each is 48 bytes of arrays, and more would be a typo.
    bars: int = Field(gt=1, le=10_000_000)
    seed: int = Field(default=0, ge=0)
    interval: Annotated[str, BeforeValidator(_timeframe_text)] = "1D"
    start: Annotated[str, BeforeValidator(_time_text)] = "2000-01-03"
    volatility: float = Field(default=0.01, gt=0)
    edge_period: int | None = Field(default=None, ge=4)
    edge_strength: float = Field(default=0.5, gt=0)
    symbol: str = "SYN"


class DataConfig(_Model):
    """Where the bars come from, which part of them, at which timeframe."""

    path: str | list[str] | None = None
    synthetic: SyntheticConfig | None = None
    start: Annotated[str | None, BeforeValidator(_time_text)] = None
    end: Annotated[str | None, BeforeValidator(_time_text)] = None
    timeframe: Annotated[str | None, BeforeValidator(_timeframe_text)] = None
    periods_per_year: float | None = Field(default=None, gt=0)

    @field_validator("path", mode="before")
    @classmethod
    def _path_type(cls, value: Any) -> Any:
        # One message instead of one per member of the union type.
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        raise ValueError("expected a file path or a list of file paths")

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        if (self.path is None) == (self.synthetic is None):
            raise ValueError("give exactly one of 'path' and 'synthetic'")
        if isinstance(self.path, list) and not self.path:
            raise ValueError("'path' is an empty list")
        if self.start is not None and self.end is not None:
            end, bare = parse_time(self.end, field="data.end")
            if bare:  # a bare end date keeps its whole day
                end += pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
            if parse_time(self.start, field="data.start")[0] > end:
                raise ValueError(f"data.start {self.start!r} is after data.end {self.end!r}")
        return self

    @property
    def paths(self) -> list[str]:
        if self.path is None:
            return []
        return [self.path] if isinstance(self.path, str) else list(self.path)


@pydantic.dataclasses.dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class BacktestConfig(ExecSettings):
    """The study file's `backtest:` section: an `ExecSettings`, read with pydantic.

    Its fields, defaults and rules are `ExecSettings`' own (one schema); pydantic checks
    each field's type and `ExecSettings.__post_init__` the engine's rules.
    """

    def to_settings(self, **overrides: Any) -> ExecSettings:
        """These settings as a plain `ExecSettings`, with `overrides` applied (checked)."""
        return ExecSettings(**{**dataclasses.asdict(self), **overrides})

    # The pydantic-model methods this section had when it declared its own fields.
    def model_dump(self) -> dict[str, Any]:
        """The settings as a dict of field values."""
        return dataclasses.asdict(self)

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> BacktestConfig:
        """A copy with the fields of `update` changed (checked again)."""
        return BacktestConfig(**{**dataclasses.asdict(self), **(update or {})})


Aggregate = Literal["mean", "median", "worst", "portfolio"]

PLACEHOLDERS = ("params_json", "params_file", "start", "end", "data_start", "symbol", "data",
                "seed", "scratch", "result", "timeframe")  # fmt: skip
"""What a `command:` argument may be, whole, in braces (docs/external.md)."""

_EVALUATOR_KINDS = ("python", "command", "backtesting_py")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class EvaluatorConfig(_Model):
    """An external evaluator instead of a stratopt strategy (docs/external.md).

    Exactly one of `python` (``pkg.mod:function`` or ``file.py:function``), `command`
    (an argument list, run without a shell) and `backtesting_py` (``file.py:Class``, a
    backtesting.py Strategy); `options` are `Backtest(...)` keyword arguments of
    the adapter; `cwd` is the command's working directory (default: the study folder).
    """

    python: str | None = Field(default=None, min_length=3)
    command: list[str] | None = Field(default=None, min_length=1)
    backtesting_py: str | None = Field(default=None, min_length=3)
    options: dict[str, Any] = Field(default_factory=dict)
    cwd: str = "."

    @model_validator(mode="after")
    def _one_kind(self) -> EvaluatorConfig:
        given = [k for k in _EVALUATOR_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of {', '.join(_EVALUATOR_KINDS)}"
                + (f" (got {', '.join(given)})" if given else "")
            )
        for key in ("python", "backtesting_py"):
            ref = getattr(self, key)
            if ref is not None and (":" not in ref or not all(ref.rpartition(":")[::2])):
                raise ValueError(
                    f"{key}: expected 'package.module:name' or 'file.py:name', got {ref!r}"
                )
        if self.options and self.backtesting_py is None:
            raise ValueError("options: only the backtesting_py adapter takes options")
        if self.command is not None:
            _check_command(self.command)
        return self

    @property
    def kind(self) -> str:
        return next(k for k in _EVALUATOR_KINDS if getattr(self, k) is not None)

    @property
    def target(self) -> str:
        """The function, class or program the evaluator names."""
        if self.command is not None:
            return " ".join(self.command)
        return str(self.python or self.backtesting_py)


def _check_command(command: list[str]) -> None:
    """Placeholders are whole arguments (`{start}`), never spliced into other text."""
    for i, arg in enumerate(command):
        found = _PLACEHOLDER.findall(arg)
        unknown = [name for name in found if name not in PLACEHOLDERS]
        if unknown:
            raise ValueError(
                f"command[{i}]: unknown placeholder {{{unknown[0]}}}"
                f"{did_you_mean(unknown[0], PLACEHOLDERS)} (known: {', '.join(PLACEHOLDERS)})"
            )
        if found and arg != "{" + found[0] + "}":
            raise ValueError(
                f"command[{i}]: {arg!r}: a placeholder must be a whole argument "
                f"(give '{{{found[0]}}}' as its own list item; values are never spliced "
                "into other text)"
            )


class SearchConfig(_Model):
    """How candidates are proposed and run (a study file's `search:`; `optimize()`'s
    options are validated into it too)."""

    method: str = "tpe"
    trials: int | None = Field(default=None, ge=1)
    seed: int = Field(default=0, ge=0, lt=2**32)  # what numpy's generators behind Optuna take
    jobs: int = Field(default=1, ge=1, le=1024)
    batch: int | None = Field(default=None, ge=1)
    trial_timeout: float | None = Field(default=None, gt=0)
    retries: int = Field(default=0, ge=0)
    max_attempts: int | None = Field(default=None, ge=1)
    time_budget: float | None = Field(default=None, gt=0)
    startup_trials: int | None = Field(default=None, ge=0)
    ei_candidates: int | None = Field(default=None, ge=1)
    population: int | None = Field(default=None, ge=2)

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        return _one_of(value, METHODS, "search method", method_list())


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
        return _one_of(value, SELECTION_METRICS, "selection metric", str(list(SELECTION_METRICS)))

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
    strategy: str | None = Field(default=None, min_length=1)
    evaluator: EvaluatorConfig | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    space: dict[str, Any] = Field(default_factory=dict)
    constraints: list[str] = Field(default_factory=list)
    backtest: BacktestConfig = Field(default_factory=BacktestConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    objective: str | dict[str, Any] = "sharpe"
    require: dict[str, Any] = Field(default_factory=dict)
    aggregate: Aggregate = "mean"
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    grid: GridConfig | None = None  # grid strategies only (docs/grid.md)
    storage: str | None = None
    output: str = "runs"
    base_dir: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _evaluator_data(cls, raw: Any) -> Any:
        """`evaluator.data` (the adapter's form) is the study's `data:`, moved there."""
        if not isinstance(raw, Mapping):
            return raw
        evaluator = raw.get("evaluator")
        if not isinstance(evaluator, Mapping) or "data" not in evaluator:
            return raw
        if raw.get("data") is not None:
            raise ValueError("data: given twice, at the top and in evaluator.data; keep one")
        data = evaluator["data"]
        rest = {k: v for k, v in evaluator.items() if k != "data"}
        return {**raw, "evaluator": rest, "data": {"path": data} if isinstance(data, str) else data}

    @model_validator(mode="after")
    def _strategy_or_evaluator(self) -> StudyConfig:
        if (self.strategy is None) == (self.evaluator is None):
            raise ValueError(
                "give exactly one of 'strategy' (a stratopt strategy) and 'evaluator' "
                "(an external one: python, command or backtesting_py)"
            )
        return self

    @field_validator("constraints", mode="before")
    @classmethod
    def _one_constraint(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("objective", mode="before")
    @classmethod
    def _objective_type(cls, value: Any) -> Any:
        # One message instead of one per member of the union type.
        if isinstance(value, str | dict):
            return value
        raise ValueError(
            "expected a metric id such as sharpe, or a mapping such as {weights: {...}} "
            "or {maximize: [...], minimize: [...]}"
        )

    @field_validator("storage")
    @classmethod
    def _storage_url(cls, value: str | None) -> str | None:
        problem = None if value is None else check_url(value)
        if problem:
            raise ValueError(problem)
        return value

    @property
    def storage_url(self) -> str | None:
        """`storage:`, a relative SQLite path taken relative to the study file."""
        return None if self.storage is None else anchor_sqlite_url(self.storage, self.base_dir)

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

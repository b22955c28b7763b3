"""The study file: YAML or JSON parsed once into frozen, validated models.

Every problem is reported as a `ConfigError` whose message names the file, the
field (as a dotted path), the value and what was expected.

The file is untrusted text: it is read with PyYAML's safe loader (no Python tags), at most
`MAX_STUDY_BYTES` of it, duplicate keys are refused instead of silently overwritten, and
the parsed tree may not nest deeper than `MAX_STUDY_DEPTH` nor hold more than
`MAX_STUDY_VALUES` values counting each YAML alias in full (an alias bomb is refused before
anything expands it).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from stratopt.data import parse_timeframe
from stratopt.engine import ExecSettings
from stratopt.errors import ConfigError
from stratopt.grid_config import GridConfig

__all__ = [
    "MAX_STUDY_BYTES",
    "MAX_STUDY_DEPTH",
    "MAX_STUDY_VALUES",
    "BacktestConfig",
    "DataConfig",
    "StudyConfig",
    "SyntheticConfig",
    "ValidationConfig",
    "apply_overrides",
    "load_study",
    "parse_study",
    "storage_url_problem",
]

MAX_STUDY_BYTES = 1_000_000
"""Largest accepted study file; a real one is a few kilobytes."""
MAX_STUDY_DEPTH = 50
"""Deepest accepted nesting of mappings and lists in a study file."""
MAX_STUDY_VALUES = 100_000
"""Most values (keys, list items, scalars) a study file may hold, each alias counted in full."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _time_text(value: Any) -> Any:
    """A date or datetime kept as text; ValueError when pandas cannot read it as one."""
    if value is None:
        return None
    # YAML reads 2005-01-01 as a date object; keep the text form.
    text = str(value)
    try:
        readable = not pd.isna(pd.Timestamp(text))
    except (ValueError, TypeError, OverflowError):
        readable = False
    if not readable:
        raise ValueError("not a date or datetime (e.g. 2020-01-31 or 2020-01-31T09:30:00Z)")
    return text


_BARE_DATE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")


def _naive_utc(text: str) -> pd.Timestamp:
    ts = pd.Timestamp(text)
    return ts if ts.tz is None else ts.tz_convert("UTC").tz_localize(None)


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
            end = _naive_utc(self.end)
            if _BARE_DATE.match(self.end):  # a bare end date keeps its whole day
                end += pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
            if _naive_utc(self.start) > end:
                raise ValueError(f"data.start {self.start!r} is after data.end {self.end!r}")
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
            raise ValueError(str(exc)) from None  # "backtest.<field> ...": names its field
        return self

    def to_settings(self, **overrides: Any) -> ExecSettings:
        return ExecSettings(**{**self.model_dump(), **overrides})


Method = Literal["grid", "random", "tpe", "cmaes", "nsga2", "qmc"]
Aggregate = Literal["mean", "median", "worst", "portfolio"]


class SearchConfig(_Model):
    """How candidates are proposed and run."""

    method: Method = "tpe"
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
    grid: GridConfig | None = None  # grid strategies only (docs/grid.md)
    storage: str | None = None
    output: str = "runs"
    base_dir: Path = Field(default=Path("."), exclude=True)

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
        problem = None if value is None else storage_url_problem(value)
        if problem:
            raise ValueError(problem)
        return value

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
    raw = apply_overrides(_read_mapping(file), overrides, source=str(file))
    return parse_study(raw, source=str(file), base_dir=file.resolve().parent)


def _read_mapping(file: Path) -> dict[str, Any]:
    """The mapping a study file holds, read as untrusted text (see the module docs)."""
    try:
        with file.open("rb") as fh:
            data = fh.read(MAX_STUDY_BYTES + 1)
            size = max(len(data), file.stat().st_size)
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the study file: {exc}") from None
    if len(data) > MAX_STUDY_BYTES:
        raise ConfigError(
            f"{file}: the study file is {size:,} bytes; at most {MAX_STUDY_BYTES:,} are read "
            "(is this the right file?)"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{file}: not UTF-8 text: byte 0x{data[exc.start]:02x} on line {line}; "
            "save the file as UTF-8"
        ) from None
    is_json = file.suffix.lower() == ".json"
    try:
        raw = _parse_json(text) if is_json else yaml.load(text, Loader=_StudyLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: {_yaml_problem(exc, text)}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{file}: line {exc.lineno}, column {exc.colno}: not valid JSON: {exc.msg}"
        ) from None
    except _DuplicateKey as exc:
        raise ConfigError(f"{file}: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{file}: nested more than {MAX_STUDY_DEPTH} levels deep") from None
    if raw is None:
        raise ConfigError(f"{file}: the study file is empty")
    if not isinstance(raw, dict):
        got = f"a list {raw!r:.60}" if isinstance(raw, list) else f"{raw!r:.60}"
        raise ConfigError(
            f"{file}: the study file must be a mapping of fields (name: ..., data: ..., "
            f"strategy: ...), got {got}"
        )
    return raw


class _DuplicateKey(ValueError):
    """A key given twice in one mapping (YAML and JSON would keep the last silently)."""


class _StudyLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: the base class reports it
            if first is not None:
                raise _DuplicateKey(
                    f"line {line}: duplicate key {key!r} (first given on line {first})"
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _parse_json(text: str) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise _DuplicateKey(f"duplicate key {key!r}")
            out[key] = value
        return out

    return json.loads(text, object_pairs_hook=pairs)


def _yaml_problem(exc: yaml.YAMLError, text: str) -> str:
    """One line: where (line, column) and what, instead of PyYAML's multi-line report."""
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        return f"line {line}: not valid YAML: {exc.reason} (character #x{exc.character:04x})"
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}"
        context = ""
        if exc.context and exc.context_mark is not None:
            context = f" ({exc.context} started on line {exc.context_mark.line + 1})"
        return f"{where}: not valid YAML: {exc.problem}{context}"
    return f"not valid YAML: {' '.join(str(exc).split())}"


def _check_shape(value: Any, *, source: str) -> None:
    """Refuse trees nested too deeply, holding too many values, or containing themselves.

    Walked with each alias counted in full, so a "billion laughs" alias bomb stops at the
    budget instead of being expanded by whatever reads the tree next.
    """
    budget = [MAX_STUDY_VALUES]

    def walk(node: Any, path: str, ancestors: frozenset[int]) -> None:
        if not isinstance(node, dict | list):
            return
        where = f"{source}: {path}" if path else source
        if id(node) in ancestors:
            raise ConfigError(f"{where}: refers to itself (a YAML alias inside its own anchor)")
        if len(ancestors) >= MAX_STUDY_DEPTH:
            raise ConfigError(f"{where}: nested more than {MAX_STUDY_DEPTH} levels deep")
        inner = ancestors | {id(node)}
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            budget[0] -= 1
            if budget[0] < 0:
                raise ConfigError(
                    f"{source}: more than {MAX_STUDY_VALUES:,} values, counting every use of "
                    "YAML aliases (*name) in full; a study file needs far fewer"
                )
            walk(child, f"{path}.{key}" if path else str(key), inner)

    walk(value, "", frozenset())


def parse_study(raw: Mapping[str, Any], *, source: str, base_dir: Path) -> StudyConfig:
    """Validate a study given as a mapping (what a study file holds)."""
    try:
        return StudyConfig.model_validate({**raw, "base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, raw, source)) from None


def apply_overrides(
    raw: Mapping[str, Any], overrides: Sequence[str], *, source: str = "--set"
) -> dict[str, Any]:
    """A copy of `raw` with each `dotted.key=value` set (value parsed as YAML).

    Raises:
        ConfigError: a malformed override, a path through a non-mapping, or a tree (`raw` or
            a value) nested too deeply, holding too many values or containing itself.
    """
    _check_shape(raw, source=source)
    out: dict[str, Any] = _plain(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        parts = key.strip().split(".")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. params.fast=20")
        if not all(p.strip() for p in parts):
            raise ConfigError(f"--set {item!r}: empty part in the key {key.strip()!r}")
        value = _override_value(item, text)
        node: Any = out
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                where = ".".join(parts[: depth + 1])
                raise ConfigError(f"--set {item!r}: {where} is {child!r:.60}, not a mapping")
            node = child
        node[parts[-1]] = value
    return out


def _override_value(item: str, text: str) -> Any:
    """The value of one `--set key=value`: YAML when it parses, else the text itself."""
    if not text.strip():
        return ""
    try:
        value = yaml.load(text, Loader=_StudyLoader)
    except yaml.YAMLError:
        return text
    except (_DuplicateKey, RecursionError) as exc:
        problem = str(exc) if isinstance(exc, _DuplicateKey) else "nested too deeply"
        raise ConfigError(f"--set {item!r}: {problem}") from None
    _check_shape(value, source=f"--set {item!r}")
    return _plain(value)


def _plain(value: Any) -> Any:
    """A copy made of dicts, lists and JSON scalars; anything else (a date, a set) as text."""
    if isinstance(value, dict):
        return {k if _is_scalar(k) else str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value if _is_scalar(value) else str(value)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float)


def storage_url_problem(url: str) -> str | None:
    """Why `url` cannot name an Optuna storage (it is not opened), or None when it can."""
    if url in ("memory", ":memory:", "inmemory"):
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from stratopt.storage import redact

    scheme, sep, _ = url.partition("://")
    if not sep or not scheme:
        return f"{redact(url)!r} is not a URL (e.g. sqlite:///runs/stratopt.db)"
    try:
        make_url(url).get_dialect()
    except ArgumentError:  # also NoSuchModuleError, its subclass
        return (
            f"{redact(url)!r} has scheme {scheme!r}, which no installed database dialect "
            "reads (e.g. sqlite:///runs/stratopt.db or postgresql://user@host/db)"
        )
    return None


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
        elif msg.startswith(f"{loc}."):  # a model's rule that names its own field
            lines.append(f"{source}: {msg}")
        elif _shows_value(msg, err["input"]) or err["loc"][:1] == ("storage",):
            lines.append(f"{source}: {loc}: {msg}")  # (a storage URL is shown redacted)
        else:
            lines.append(f"{source}: {loc}: {msg} (got {err['input']!r:.80})")
    more = len(exc.errors()) - len(lines)
    if more > 0:
        lines.append(f"... and {more} more problem(s)")
    return "\n".join(lines)


def _shows_value(msg: str, value: Any) -> bool:
    return f"got {value!r}" in msg or f"got {value}" in msg


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

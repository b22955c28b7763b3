"""Reading a study file: untrusted text -> a mapping -> validated models, with clear errors.

Every problem is reported as a `ConfigError` whose message names the file, the
field (as a dotted path), the value and what was expected.

The file is untrusted text: it is read with PyYAML's safe loader (no Python tags), at most
`MAX_STUDY_BYTES` of it, duplicate keys are refused instead of silently overwritten, and
the parsed tree may not nest deeper than `MAX_STUDY_DEPTH` nor hold more than
`MAX_STUDY_VALUES` values counting each YAML alias in full (an alias bomb is refused before
anything expands it).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from stratopt._suggest import did_you_mean
from stratopt.config._models import SearchConfig, StudyConfig
from stratopt.errors import ConfigError

__all__ = [
    "MAX_STUDY_BYTES",
    "MAX_STUDY_DEPTH",
    "MAX_STUDY_VALUES",
    "apply_overrides",
    "load_study",
    "parse_search",
    "parse_study",
    "read_study_mapping",
]

MAX_STUDY_BYTES = 1_000_000
"""Largest accepted study file; a real one is a few kilobytes."""
MAX_STUDY_DEPTH = 50
"""Deepest accepted nesting of mappings and lists in a study file."""
MAX_STUDY_VALUES = 100_000
"""Most values (keys, list items, scalars) a study file may hold, each alias counted in full."""

M = TypeVar("M", bound=BaseModel)


def load_study(path: str | Path, overrides: Sequence[str] = ()) -> StudyConfig:
    """Read, override (`key.sub=value`) and validate a study file.

    Raises:
        ConfigError: unreadable file, bad YAML/JSON, bad override or invalid field.
    """
    file = Path(path)
    raw = apply_overrides(_read_mapping(file), overrides, source=str(file))
    return parse_study(raw, source=str(file), base_dir=file.resolve().parent)


def read_study_mapping(path: str | Path) -> dict[str, Any]:
    """The mapping a study file holds, read as untrusted text (see the module docs).

    For study files of other schemas (e.g. `stratopt.ml`), which validate it themselves.

    Raises:
        ConfigError: unreadable, too large, not UTF-8, bad YAML/JSON, a duplicate key or
            not a mapping; the message names the file.
    """
    return _read_mapping(Path(path))


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
    return _validate(StudyConfig, {**raw, "base_dir": base_dir}, source)


def parse_search(raw: Mapping[str, Any], *, source: str) -> SearchConfig:
    """Validate a study file's `search:` section given as a mapping, with the errors a
    study file gets (fields named relative to the section: `trials`, `method`)."""
    return _validate(SearchConfig, raw, source)


def _validate(model: type[M], raw: Mapping[str, Any], source: str) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, model, source)) from None


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


# How pydantic reports a key a model (extra_forbidden) or a dataclass does not have.
_UNKNOWN_KEY = ("extra_forbidden", "unexpected_keyword_argument")


def _describe(exc: ValidationError, model: type[BaseModel], source: str) -> str:
    lines = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] in _UNKNOWN_KEY:
            lines.append(_unknown_key(model, err["loc"], source))
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


def _fields(model: type[Any]) -> dict[str, Any]:
    """Field name -> annotation of a pydantic model or a dataclass."""
    if isinstance(model, type) and issubclass(model, BaseModel):
        return {k: f.annotation for k, f in model.model_fields.items()}
    return {f.name: f.type for f in dataclasses.fields(model)}


def _unknown_key(root: type[BaseModel], loc: tuple[int | str, ...], source: str) -> str:
    model: type[Any] = root
    for part in loc[:-1]:
        ann = _fields(model).get(str(part))
        candidates = [a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type)]
        nested = [a for a in candidates if issubclass(a, BaseModel) or dataclasses.is_dataclass(a)]
        if not nested:
            break
        model = nested[0]
    known = [k for k in _fields(model) if k != "base_dir"]
    key = str(loc[-1])
    more = did_you_mean(key, known)
    where = ".".join(str(p) for p in loc)
    return f"{source}: {where}: unknown field{more} (expected one of: {', '.join(known)})"

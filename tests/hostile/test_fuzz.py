"""Fuzzing the study parser: whatever the input, everything that runs before the first
backtest either succeeds or raises the project's own `UserInputError`, never anything else.

Deterministic (derandomized) and bounded so the suite stays fast on a 2-core CI machine.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stratopt.backtest import study_bars
from stratopt.config import StudyConfig, load_study
from stratopt.errors import UserInputError
from stratopt.operations import check_study
from stratopt.search import Constraint

HERE = Path(__file__).resolve().parent
VALID_TEXT = (HERE / "valid.yaml").read_text(encoding="utf-8")
VALID = yaml.safe_load(VALID_TEXT)

FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    # Module-scoped: hypothesis reruns the test body, which a function-scoped tmp_path
    # would not follow. The data path of the valid study is made absolute below.
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def _prepare(cfg: StudyConfig) -> None:
    """What `backtest` and `optimize` do with a study before running any candidate."""
    check_study(cfg)
    if cfg.data.synthetic is None:  # (synthetic series are generated, not parsed)
        study_bars(cfg)


def _survives(path: Path, overrides: list[str] | None = None) -> None:
    try:
        _prepare(load_study(path, overrides or []))
    except UserInputError as exc:
        assert str(exc).strip(), "an error without a message"


# --- text that looks like YAML (or JSON)

_FRAGMENTS = [
    "name: ", "data:", "  path: ", "strategy: sma_cross", "space:", "  fast: ", "params: ",
    "constraints: ", "search: ", "objective: ", "require: ", "backtest: ", "{", "}", "[", "]",
    ", ", ": ", "- ", "\n", "  ", "\t", "&a ", "*a", "<<: *a", "!!str ", "!!python/name:os ",
    "? ", "|", ">", "#", "'", '"', "%YAML 1.1", "---", "...", "~", "null", "true", "no",
    "1e5", "1.0e+308", "-0", ".nan", ".inf", "2020-01-01", "0x1F", "low: 5", "high: 1",
    "step: 0", "log: true", "fast < slow", "__import__('os')", "\x00", "\ufeff", "é",
]  # fmt: skip

yamlish = st.one_of(
    st.lists(st.sampled_from(_FRAGMENTS), max_size=40).map("".join),
    st.text(max_size=200),
    st.tuples(st.integers(0, len(VALID_TEXT)), st.integers(0, 40), st.text(max_size=10)).map(
        lambda t: VALID_TEXT[: t[0]] + t[2] + VALID_TEXT[t[0] + t[1] :]
    ),
)


@FUZZ
@given(text=yamlish, suffix=st.sampled_from([".yaml", ".json"]))
def test_any_text(folder: Path, text: str, suffix: str) -> None:
    path = folder / f"study{suffix}"
    path.write_text(text.replace("data/good.csv", str(HERE / "data" / "good.csv")), "utf-8")
    _survives(path)


@FUZZ
@given(data=st.binary(max_size=300))
def test_any_bytes(folder: Path, data: bytes) -> None:
    path = folder / "study.yaml"
    path.write_bytes(data)
    _survives(path)


# --- arbitrary values merged into the valid study

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["sharpe", "grid", "tpe", "5m", "2020-01-01", ">= 1", "fast < slow", ""]),
)
keys = st.one_of(
    st.sampled_from(["low", "high", "step", "log", "values", "path", "fast", "slow", "weights"]),
    st.text(max_size=6),
    st.integers(-3, 3),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)

_PATHS = [
    (), ("name",), ("data",), ("data", "path"), ("data", "start"), ("data", "end"),
    ("data", "timeframe"), ("data", "synthetic"), ("strategy",), ("params",),
    ("params", "fast"), ("space",), ("space", "fast"), ("space", "slow"), ("space", "slow", "low"),
    ("space", "slow", "step"), ("space", "backtest"), ("constraints",), ("backtest",),
    ("backtest", "cash"), ("backtest", "sizing"), ("search",), ("search", "method"),
    ("search", "trials"), ("search", "seed"), ("objective",), ("objective", "weights"),
    ("require",), ("require", "trades"), ("aggregate",), ("storage",), ("output",),
]  # fmt: skip


def _merged(path: tuple[str, ...], value: Any) -> Any:
    study: Any = json.loads(json.dumps(VALID, default=str))
    study["data"]["path"] = str(HERE / "data" / "good.csv")
    if not path:
        return value if not isinstance(value, dict) else {**study, **value}
    node = study
    for part in path[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[path[-1]] = value
    return study


@FUZZ
@given(path=st.sampled_from(_PATHS), value=values, as_json=st.booleans())
def test_any_value_anywhere(folder: Path, path: tuple[str, ...], value: Any, as_json: bool) -> None:
    study = _merged(path, value)
    if as_json:
        file = folder / "study.json"
        file.write_text(json.dumps(study, default=str), "utf-8")
    else:
        file = folder / "study.yaml"
        file.write_text(yaml.safe_dump(study, allow_unicode=True), "utf-8")
    _survives(file)


# --- --set overrides

_SET_ALPHABET = "abcdefghijklmnopqrstuvwxyz_.=[]{}:,'\"&*!-+ 0123456789e\n#|>%@`~"
overrides = st.one_of(
    st.text(alphabet=_SET_ALPHABET, max_size=30),
    st.tuples(
        st.sampled_from([".".join(p) for p in _PATHS if p] + ["", ".", "a..b", "space.fast.x"]),
        st.text(alphabet=_SET_ALPHABET, max_size=20)
        | st.sampled_from(["5", "[3, 5]", "{low: 20, high: 40, step: 10}", "tpe", "null", "1h"]),
    ).map(lambda kv: f"{kv[0]}={kv[1]}"),
)


@FUZZ
@given(items=st.lists(overrides, max_size=3))
def test_any_set_option(folder: Path, items: list[str]) -> None:
    file = folder / "study.yaml"
    file.write_text(VALID_TEXT.replace("data/good.csv", str(HERE / "data" / "good.csv")))
    _survives(file, items)


# --- constraint text

_TOKENS = [
    "fast", "slow", "risk.x", "risk", "x", "<", "<=", ">", "==", "!=", " is ", " in ", "+", "-",
    "*", "/", "//", "%", "**", "(", ")", "[", "]", ",", ".", ":", "abs(", "min(", "max(",
    " and ", " or ", "not ", "lambda", "__import__", "__class__", "'a'", "1", "0", "9",
    "1e308", "0.5", "-1", "True", "None", "=", ":=", "if", " else ", "@", "~", "^", "<<",
]  # fmt: skip
constraint_text = st.one_of(
    st.lists(st.sampled_from(_TOKENS), max_size=25).map("".join),
    st.lists(st.sampled_from(_TOKENS), max_size=25).map(" ".join),
    st.text(max_size=60),
)
_PARAMS = [
    {"fast": 3, "slow": 20, "risk.x": 0.5},
    {"fast": 0, "slow": -1.5, "risk.x": 0.0},
    {"fast": 2**62, "slow": 1e308, "risk.x": -1e-308},
    {"fast": True, "slow": "text", "risk.x": None},
]


@FUZZ
@given(text=constraint_text)
def test_any_constraint(text: str) -> None:
    try:
        constraint = Constraint.parse(text, ["fast", "slow", "risk.x"], field="constraints[0]")
    except UserInputError:
        return
    for params in _PARAMS:
        with contextlib.suppress(UserInputError):  # e.g. text in arithmetic: named, no crash
            assert isinstance(constraint.holds(params), bool)

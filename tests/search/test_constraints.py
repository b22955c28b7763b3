"""Constraints between parameters: parsing, the whitelist, evaluation, satisfiability."""

from __future__ import annotations

import builtins
import itertools
import pickle
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stratopt.errors import ConfigError
from stratopt.search import (
    MAX_CONSTRAINT_LENGTH,
    Choice,
    Constraint,
    FloatRange,
    IntRange,
    SearchSpace,
    check_satisfiable,
    parse_constraints,
)

NAMES = ("fast", "slow", "stop_loss", "take_profit", "risk.per_trade", "data.timeframe")
ALLOWED = "(only parameter names, numbers, arithmetic, comparisons, and/or/not, abs/min/max)"


def _parse(text: str, names: tuple[str, ...] = NAMES) -> Constraint:
    return Constraint.parse(text, names, field="constraints[0]")


# --- evaluation ----------------------------------------------------------------------------

Params = dict[str, Any]

CASES: list[tuple[str, Callable[[Params], bool]]] = [
    ("fast < slow", lambda p: p["fast"] < p["slow"]),
    ("take_profit < 3 * stop_loss", lambda p: p["take_profit"] < 3 * p["stop_loss"]),
    (
        "fast * 2 <= slow and slow - fast >= 10",
        lambda p: p["fast"] * 2 <= p["slow"] and p["slow"] - p["fast"] >= 10,
    ),
    ("risk.per_trade <= 2", lambda p: p["risk.per_trade"] <= 2),
    ("5 <= fast < slow", lambda p: 5 <= p["fast"] < p["slow"]),
    ("fast < slow <= 3 * fast != 30", lambda p: p["fast"] < p["slow"] <= 3 * p["fast"] != 30),
    ("fast == slow or fast > slow", lambda p: p["fast"] == p["slow"] or p["fast"] > p["slow"]),
    ("not fast < slow", lambda p: not p["fast"] < p["slow"]),
    ("not (fast < slow and slow < 50)", lambda p: not (p["fast"] < p["slow"] and p["slow"] < 50)),
    ("-fast < +slow - 100", lambda p: -p["fast"] < +p["slow"] - 100),
    ("fast / slow > 0.25", lambda p: p["fast"] / p["slow"] > 0.25),
    ("slow // fast >= 3", lambda p: p["slow"] // p["fast"] >= 3),
    ("slow % fast == 0", lambda p: p["slow"] % p["fast"] == 0),
    ("fast ** 2 < slow", lambda p: p["fast"] ** 2 < p["slow"]),
    ("2 ** -fast < 0.01", lambda p: 2 ** -p["fast"] < 0.01),
    ("-fast ** 2 < -slow", lambda p: -(p["fast"] ** 2) < -p["slow"]),
    ("abs(fast - slow) >= 15", lambda p: abs(p["fast"] - p["slow"]) >= 15),
    ("min(fast, slow, 30) == fast", lambda p: min(p["fast"], p["slow"], 30) == p["fast"]),
    ("max(fast, slow) - min(fast, slow) > 10", lambda p: abs(p["fast"] - p["slow"]) > 10),
    (
        "(fast + slow) * (stop_loss + take_profit) < 20",
        lambda p: (p["fast"] + p["slow"]) * (p["stop_loss"] + p["take_profit"]) < 20,
    ),
    (
        "fast < slow and take_profit > stop_loss or risk.per_trade == 1",
        lambda p: (
            (p["fast"] < p["slow"] and p["take_profit"] > p["stop_loss"])
            or p["risk.per_trade"] == 1
        ),
    ),
    ("fast < slow and True", lambda p: p["fast"] < p["slow"]),
    ("1_000 > slow * 1e1", lambda p: p["slow"] * 10.0 < 1000),
    ("fast <\n slow", lambda p: p["fast"] < p["slow"]),
    ("  fast < slow  ", lambda p: p["fast"] < p["slow"]),
]

GRID = [
    dict(zip(("fast", "slow", "stop_loss", "take_profit", "risk.per_trade"), combo, strict=True))
    for combo in itertools.product(
        [-5, 1, 5, 10, 20], [1, 15, 30, 60, 200], [0.01, 0.5, 2.0], [0.02, 1.5, 6.0], [0.5, 1, 2.5]
    )
]


@pytest.mark.parametrize(("text", "reference"), CASES, ids=[c[0] for c in CASES])
def test_matches_python(text: str, reference: Callable[[Params], bool]) -> None:
    constraint = _parse(text)
    for params in GRID:
        assert constraint.holds(params) is bool(reference(params)), params


def test_attributes_and_names() -> None:
    c = _parse("risk.per_trade * fast < slow and fast > 1")
    assert c.text == "risk.per_trade * fast < slow and fast > 1"
    assert c.names == ("risk.per_trade", "fast", "slow")
    assert c.field == "constraints[0]"
    assert c.holds({"risk.per_trade": 1, "fast": 5, "slow": 10, "unrelated": "x"})


def test_undefined_arithmetic_means_the_constraint_does_not_hold() -> None:
    assert not _parse("slow / fast > 1").holds({"fast": 0, "slow": 5})
    assert not _parse("slow / fast > 1").holds({"fast": 0.0, "slow": 5})
    assert not _parse("slow // fast > 1").holds({"fast": 0, "slow": 5})
    assert not _parse("slow % fast == 0").holds({"fast": 0, "slow": 5})
    assert not _parse("not slow / fast > 1").holds({"fast": 0, "slow": 5})
    assert not _parse("fast ** 0.5 < 3").holds({"fast": -8})
    assert not _parse("fast ** -1 < 3").holds({"fast": 0})
    # overflow is a failed constraint, not a crash or a hang
    assert not _parse("10 ** 10 ** 10 > fast").holds({"fast": 1})
    assert not _parse("fast ** 99999 > 1").holds({"fast": 10})
    assert not _parse("fast ** slow ** slow ** slow > 1").holds({"fast": 9, "slow": 9})
    assert not _parse("fast / 3 > 1").holds({"fast": 10**400})
    assert _parse("1e308 * 10 > fast").holds({"fast": 1})  # inf compares fine


def test_wrong_value_types_are_reported() -> None:
    c = _parse("data.timeframe * 1000000000 > fast")
    with pytest.raises(
        ConfigError, match=r"^constraints\[0\]: cannot evaluate .*'1h' is not a number"
    ):
        c.holds({"data.timeframe": "1h", "fast": 5})
    assert _parse("data.timeframe == data.timeframe").holds({"data.timeframe": "1h"})
    with pytest.raises(KeyError, match="needs parameter 'slow'"):
        _parse("fast < slow").holds({"fast": 1})


def test_pickles_by_text() -> None:
    c = _parse("abs(fast - slow) > 3")
    copy = pickle.loads(pickle.dumps(c))
    assert copy == c and copy.text == c.text and copy.names == c.names
    assert copy.holds({"fast": 1, "slow": 10}) and not copy.holds({"fast": 9, "slow": 10})


def test_never_runs_python_eval_or_exec(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("eval/exec used")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    for text, reference in CASES:
        c = _parse(text)
        assert c.holds(GRID[7]) is bool(reference(GRID[7]))


# --- rejected input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "piece"),
    [
        ("open('x') == 1", "open"),
        ("__import__('os') == 1", "__import__"),
        ("fast.__class__ == 1", "fast.__class__"),
        ("fast.real < 2", "fast.real"),
        ("risk.per_trade.__class__ == 1", "risk.per_trade.__class__"),
        ("().__class__ == 1", "().__class__"),
        ("(1).__class__.__bases__ == 1", "1 .__class__.__bases__"),
        ("__builtins__ == 1", "__builtins__"),
        ("fast.__class__.__subclasses__() == 1", "fast.__class__.__subclasses__"),
        ("f'{fast}' == 'x'", "f'{fast}'"),
        ("fast == 'abc'", "'abc'"),
        ("fast == b'abc'", "b'abc'"),
        ("fast is None", "is"),
        ("fast == None", "None"),
        ("fast in (1, 2)", "in"),
        ("fast not in slow", "not in"),
        ("fast is not slow", "is not"),
        ("(1, 2) < (fast, 3)", "(1, 2)"),
        ("[fast] == [1]", "[fast]"),
        ("{fast: 1} == 2", "{fast: 1}"),
        ("{fast} == 2", "{fast}"),
        ("fast[0] < 1", "fast[0]"),
        ("(lambda: 1)() < 2", "lambda: 1"),
        ("(lambda: 1) < 2", "lambda: 1"),
        ("[x for x in range(3)] == 1", "[x for x in range(3)]"),
        ("sum(x for x in (1, 2)) > 1", "sum"),
        ("(x := fast) < 2", "(x := fast)"),
        ("(fast if slow else 1) < 2", "fast if slow else 1"),
        ("fast & slow < 1", "&"),
        ("fast | slow < 1", "|"),
        ("fast ^ slow < 1", "^"),
        ("fast << 2 < slow", "<<"),
        ("fast >> 2 < slow", ">>"),
        ("fast @ slow < 1", "@"),
        ("~fast < 1", "~"),
        ("fast < 1j", "1j"),
        ("fast < ...", "..."),
        ("max(fast, slow, key=abs) > 1", "key=abs"),
        ("max(*fast, 1) > 1", "*fast"),
        ("getattr(fast, 'x') > 1", "getattr"),
        ("fast.bit_length() > 1", "fast.bit_length"),
        ("(fast).__class__ == 1", "fast.__class__"),
    ],
)
def test_forbidden_constructs(text: str, piece: str) -> None:
    with pytest.raises(ConfigError) as info:
        Constraint.parse(text, NAMES, field="constraints[1]")
    assert str(info.value) == f"constraints[1]: {piece!r} is not allowed in a constraint {ALLOWED}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fats < slow", "unknown parameter 'fats'; did you mean 'fast'?"),
        ("fast < solw", "unknown parameter 'solw'; did you mean 'slow'?"),
        ("risk.per_trad < 1", "unknown parameter 'risk.per_trad'; did you mean 'risk.per_trade'?"),
        ("per_trade < 1", "unknown parameter 'per_trade'; did you mean 'risk.per_trade'?"),
        (
            "zzz < 1",
            "unknown parameter 'zzz' (parameters: fast, slow, stop_loss, take_profit, "
            "risk.per_trade, data.timeframe)",
        ),
        ("fast + 1", "'fast + 1' is not a condition; write a comparison such as 'fast < slow'"),
        ("fast", "'fast' is not a condition; write a comparison such as 'fast < slow'"),
        ("abs(fast)", "'abs(fast)' is not a condition; write a comparison such as 'fast < slow'"),
        ("1", "'1' is not a condition; write a comparison such as 'fast < slow'"),
        ("", "empty constraint"),
        ("   ", "empty constraint"),
        ("fast <", "not a valid expression: 'fast <' (invalid syntax)"),
        ("import os", "not a valid expression: 'import os' (invalid syntax)"),
        ("fast < slow; 1", "not a valid expression: 'fast < slow; 1' (invalid syntax)"),
        ("abs(fast, slow) > 1", "abs() takes one argument, got 2"),
        ("min(fast) > 1", "min() takes 2 to 100 arguments, got 1"),
        ("max() > 1", "max() takes 2 to 100 arguments, got 0"),
        ("a" * 501, f"too long (501 characters, at most {MAX_CONSTRAINT_LENGTH})"),
        ("-" * 60 + "fast < 1", "too deeply nested (more than 50 levels)"),
        ("fast" + " + fast" * 60 + " < 1", "too deeply nested (more than 50 levels)"),
    ],
)
def test_invalid_constraints(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        _parse(text)
    assert str(info.value) == f"constraints[0]: {message}"


def test_no_parameters_known() -> None:
    with pytest.raises(ConfigError, match=r"unknown parameter 'x' \(parameters: none\)$"):
        Constraint.parse("x < 1", (), field="c")


def test_deep_parentheses_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^constraints\[0\]: "):
        _parse("(" * 240 + "fast" + ")" * 240 + " < 1")


def test_not_a_string() -> None:
    with pytest.raises(ConfigError, match=r"^constraints\[0\]: expected a condition .* got 5$"):
        _parse(5)  # type: ignore[arg-type]


def test_parse_constraints() -> None:
    parsed = parse_constraints(["fast < slow", "take_profit < 3 * stop_loss"], NAMES)
    assert [c.field for c in parsed] == ["constraints[0]", "constraints[1]"]
    assert [c.text for c in parsed] == ["fast < slow", "take_profit < 3 * stop_loss"]
    assert parse_constraints([], NAMES) == ()
    assert parse_constraints(None, NAMES) == ()
    with pytest.raises(ConfigError, match=r"^constraints\[1\]: 'open' is not allowed"):
        parse_constraints(["fast < slow", "open('f') == 1"], NAMES)
    with pytest.raises(ConfigError, match=r"^search\.constraints\[0\]: unknown parameter"):
        parse_constraints(["fats < 1"], NAMES, field="search.constraints")
    with pytest.raises(ConfigError, match=r"^constraints: expected a list of conditions"):
        parse_constraints("fast < slow", NAMES)
    with pytest.raises(ConfigError, match=r"^constraints\[0\]: expected a condition"):
        parse_constraints([{"fast": 1}], NAMES)  # type: ignore[list-item]


# --- satisfiability ------------------------------------------------------------------------


def _space() -> SearchSpace:
    return SearchSpace(
        (
            IntRange("fast", 5, 15, step=5),
            IntRange("slow", 20, 200, step=20),
            Choice("data.timeframe", ("1h", "4h")),
        )
    )


def test_satisfiable_constraints_pass() -> None:
    space = _space()
    check_satisfiable(parse_constraints(["fast < slow", "slow - fast >= 100"], space.names), space)
    check_satisfiable((), space)


def test_unsatisfiable_constraints_fail() -> None:
    space = _space()
    constraints = parse_constraints(["fast > slow", "slow > 10"], space.names)
    with pytest.raises(ConfigError) as info:
        check_satisfiable(constraints, space)
    assert str(info.value) == (
        "constraints: no parameter combination of the space satisfies all constraints "
        "(30 combinations checked); never true on its own: constraints[0] 'fast > slow'"
    )
    together = parse_constraints(["fast > 10", "slow > 100", "slow < 60"], space.names)
    with pytest.raises(
        ConfigError, match=r"each holds somewhere, but never all together: constraints"
    ):
        check_satisfiable(together, space)


def test_fixed_parameters_take_part() -> None:
    space = _space()
    constraints = parse_constraints(["fast * size < slow"], (*space.names, "size"))
    check_satisfiable(constraints, space, fixed={"size": 2})
    with pytest.raises(ConfigError, match="no parameter combination"):
        check_satisfiable(constraints, space, fixed={"size": 100})
    check_satisfiable(constraints, space)  # size unknown here: the constraint is not checked


def test_large_or_continuous_spaces_are_skipped() -> None:
    impossible = ["fast > slow"]
    continuous = SearchSpace((FloatRange("fast", 0, 1), FloatRange("slow", 2, 3)))
    check_satisfiable(parse_constraints(impossible, continuous.names), continuous)
    big = SearchSpace((IntRange("fast", 0, 10_000), IntRange("slow", 20_000, 30_000)))
    check_satisfiable(parse_constraints(impossible, big.names), big)  # 10^8 > 10^6: skipped
    small = SearchSpace((IntRange("fast", 0, 100), IntRange("slow", 200, 300)))
    with pytest.raises(ConfigError):
        check_satisfiable(parse_constraints(impossible, small.names), small)
    with pytest.raises(ConfigError):  # only the parameters read are enumerated
        wide = SearchSpace((*small.dimensions, FloatRange("other", 0, 1)))
        check_satisfiable(parse_constraints(impossible, wide.names), wide)
    check_satisfiable(parse_constraints(impossible, small.names), small, max_combinations=100)


# --- fuzz ----------------------------------------------------------------------------------

_TOKENS = ["**", "//", "abs", " and ", " or ", " not ", "min(", "max(", "__class__", "lambda"]
_ALPHABET = st.sampled_from(
    [*"fast slow risk.per_trade 0123456789.e_ +-*/%()<>=!,'\"[]{}:;@&|^~", *_TOKENS, " if ", " in "]
)
_FUZZ_NAMES = ("fast", "slow", "risk.per_trade")


def _check_fuzz(text: str) -> None:
    try:
        c = Constraint.parse(text, _FUZZ_NAMES, field="constraints[0]")
    except ConfigError:
        return
    for values in [(1, 2, 0.5), (0, 0, 0), (-3, 7.5, 1e300), (10**6, -1, 2)]:
        result = c.holds(dict(zip(_FUZZ_NAMES, values, strict=True)))
        assert isinstance(result, bool)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=120))
def test_random_text_only_raises_config_error(text: str) -> None:
    _check_fuzz(text)


@settings(max_examples=600, deadline=None)
@given(st.lists(_ALPHABET, max_size=40).map("".join))
def test_random_expressions_only_raise_config_error(text: str) -> None:
    _check_fuzz(text)


@settings(max_examples=200, deadline=None)
@given(
    a=st.integers(-20, 20) | st.floats(-1e6, 1e6),
    b=st.integers(-20, 20) | st.floats(-1e6, 1e6),
    case=st.sampled_from(CASES[:20]),
)
def test_matches_python_on_random_values(a: float, b: float, case: Any) -> None:
    text, reference = case
    params = {"fast": a, "slow": b, "stop_loss": b, "take_profit": a, "risk.per_trade": a}
    try:
        expected = bool(reference(params))
    except ArithmeticError:  # division by zero, overflow: the constraint does not hold
        expected = False
    assert _parse(text).holds(params) is expected

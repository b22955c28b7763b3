from __future__ import annotations

import math
from typing import Any

import pytest

from stratopt.errors import ConfigError
from stratopt.search._requirements import (
    MAX_TERM,
    MIN_TERM,
    Requirement,
    Requirements,
    Verdict,
    parse_requirements,
)

NAN = math.nan
SEED_000 = {
    "sharpe": ">= 1.0",
    "max_drawdown": "<= 0.20",
    "trades": ">= 50",
    "win_rate": ">= 0.45",
    "profit_factor": ">= 1.1",
    "calmar": ">= 0.5",
}
GOOD = {
    "sharpe": 1.5,
    "max_drawdown": 0.1,
    "trades": 80.0,
    "win_rate": 0.5,
    "profit_factor": 1.4,
    "calmar": 1.0,
}


# -- parsing -----------------------------------------------------------------------------
def test_parse_the_brief_example() -> None:
    raw = {
        "trades": ">= 50",
        "max_drawdown": "<= 0.20",
        "sharpe": ">= 1.0",
        "win_rate": "> 0.45",
        "mode": "strict",
    }
    req = parse_requirements(raw)
    assert req.requirements == (
        Requirement("trades", ">=", 50.0),
        Requirement("max_drawdown", "<=", 0.2),
        Requirement("sharpe", ">=", 1.0),
        Requirement("win_rate", ">", 0.45),
    )
    assert req.max_violations == 0 and req.mode == "strict"
    assert req.metric_ids == ("trades", "max_drawdown", "sharpe", "win_rate")


@pytest.mark.parametrize(
    ("text", "op", "value"),
    [
        (">=50", ">=", 50.0),
        ("  <  -1.5 ", "<", -1.5),
        ("== 3", "==", 3.0),
        ("!= 0", "!=", 0.0),
        ("> 1e-3", ">", 0.001),
        ("<= 2", "<=", 2.0),
    ],
)
def test_operators_and_spacing(text: str, op: str, value: float) -> None:
    (req,) = parse_requirements({"sharpe": text}).requirements
    assert (req.op, req.value) == (op, value)


def test_list_of_comparisons_for_one_metric() -> None:
    req = parse_requirements({"win_rate": [">= 0.4", "<= 0.7"]})
    assert req.requirements == (
        Requirement("win_rate", ">=", 0.4),
        Requirement("win_rate", "<=", 0.7),
    )
    assert req.metric_ids == ("win_rate",)
    assert req.check({"win_rate": 0.8}).violations == ("win_rate 0.8 > 0.7 (required <= 0.7)",)


@pytest.mark.parametrize(
    ("extra", "allowed", "mode"),
    [
        ({}, 0, "strict"),
        ({"mode": "strict"}, 0, "strict"),
        ({"mode": "lenient"}, 1, "lenient"),
        ({"max_violations": 0}, 0, "strict"),
        ({"max_violations": 1}, 1, "lenient"),
        ({"max_violations": 3}, 3, "max_violations=3"),
    ],
)
def test_modes(extra: dict[str, Any], allowed: int, mode: str) -> None:
    req = parse_requirements({"sharpe": ">= 1", **extra})
    assert req.max_violations == allowed and req.mode == mode


def test_none_and_empty_mean_no_requirements() -> None:
    for raw in (None, {}, {"mode": "lenient"}):
        req = parse_requirements(raw)
        assert req.requirements == ()
        verdict = req.check({})
        assert verdict.feasible and verdict.violations == () and verdict.shortfall == 0.0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"sharp": ">= 1"}, "require.sharp: unknown metric 'sharp'; did you mean 'sharpe'?"),
        (
            {"sharpe": "=> 1"},
            "require.sharpe: expected a comparison like '>= 50' (one of >=, >, <=, <, ==, != "
            "and a number), got '=> 1'",
        ),
        ({"sharpe": ">= one"}, "require.sharpe: 'one' in '>= one' is not a number"),
        ({"sharpe": ">= nan"}, "require.sharpe: the threshold must be finite, got '>= nan'"),
        ({"sharpe": "> inf"}, "require.sharpe: the threshold must be finite, got '> inf'"),
        (
            {"trades": 50},
            "require.trades: expected a comparison like '>= 50' (one of >=, >, <=, <, ==, != "
            "and a number), got 50",
        ),
        (
            {"max_drawdown": "<= 20"},
            "require.max_drawdown: max_drawdown is a fraction between 0 and 1 (0.2 = 20 %), "
            "got '<= 20'",
        ),
        ({"win_rate": []}, "require.win_rate: empty list of comparisons"),
        ({"win_rate": [">= 0.4", "<= x"]}, "require.win_rate[1]: 'x' in '<= x' is not a number"),
        (
            {"mode": "lenent"},
            "require.mode: expected 'strict' or 'lenient', got 'lenent'; did you mean 'lenient'?",
        ),
        ({"mode": 1}, "require.mode: expected 'strict' or 'lenient', got 1"),
        ({"max_violations": -1}, "require.max_violations: expected an integer >= 0, got -1"),
        ({"max_violations": True}, "require.max_violations: expected an integer >= 0, got True"),
        ({"max_violations": "2"}, "require.max_violations: expected an integer >= 0, got '2'"),
        (
            {"mode": "strict", "max_violations": 0},
            "require: give either 'mode' or 'max_violations', not both",
        ),
    ],
)
def test_errors_name_the_field_and_value(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_requirements(raw)
    assert str(info.value) == message


def test_not_a_mapping() -> None:
    with pytest.raises(ConfigError, match=r"^require: expected a mapping .*, got list$"):
        parse_requirements([">= 1"])  # type: ignore[arg-type]


def test_custom_field_in_messages() -> None:
    with pytest.raises(ConfigError, match=r"^study\.require\.sharp: unknown metric"):
        parse_requirements({"sharp": ">= 1"}, field="study.require")


# -- messages ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "metrics", "message"),
    [
        ({"trades": ">= 50"}, {"trades": 12.0}, "trades 12 < 50 (required >= 50)"),
        (
            {"max_drawdown": "<= 0.20"},
            {"max_drawdown": 0.31},
            "max_drawdown 0.31 > 0.2 (required <= 0.2)",
        ),
        ({"sharpe": ">= 1.0"}, {"sharpe": NAN}, "sharpe is NaN (required >= 1.0)"),
        ({"sharpe": ">= 1.0"}, {}, "sharpe is missing (required >= 1.0)"),
        ({"win_rate": "> 0.45"}, {"win_rate": 0.45}, "win_rate 0.45 <= 0.45 (required > 0.45)"),
        ({"exposure": "< 0.5"}, {"exposure": 0.75}, "exposure 0.75 >= 0.5 (required < 0.5)"),
        ({"trades": "== 10"}, {"trades": 9.0}, "trades 9 != 10 (required == 10)"),
        ({"sqn": "!= 0"}, {"sqn": 0.0}, "sqn 0.0 == 0.0 (required != 0.0)"),
        ({"sharpe": ">= 1"}, {"sharpe": -math.inf}, "sharpe -inf < 1.0 (required >= 1.0)"),
        ({"sharpe": ">= 1"}, {"sharpe": -2.0}, "sharpe -2.0 < 1.0 (required >= 1.0)"),
        ({"sharpe": ">= 1e-3"}, {"sharpe": 1e-5}, "sharpe 1e-05 < 0.001 (required >= 0.001)"),
        ({"sharpe": ">= 1"}, {"sharpe": 0.123456789}, "sharpe 0.1235 < 1.0 (required >= 1.0)"),
        # a value that would print like the threshold gets the digits that tell them apart
        (
            {"max_drawdown": "<= 0.2"},
            {"max_drawdown": 0.2000001},
            "max_drawdown 0.2000001 > 0.2 (required <= 0.2)",
        ),
    ],
)
def test_violation_messages(raw: dict[str, Any], metrics: dict[str, float], message: str) -> None:
    assert parse_requirements(raw).check(metrics).violations == (message,)


def test_messages_follow_the_file_order_and_only_failures() -> None:
    req = parse_requirements(SEED_000)
    bad = {**GOOD, "trades": 12.0, "sharpe": NAN, "calmar": 0.7}
    assert req.check(bad).violations == (
        "sharpe is NaN (required >= 1.0)",
        "trades 12 < 50 (required >= 50)",
    )
    assert req.check(GOOD).violations == ()


# -- feasibility -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "feasible_by_count"),
    [
        ({"mode": "strict"}, [True, False, False, False]),
        ({"mode": "lenient"}, [True, True, False, False]),
        ({"max_violations": 2}, [True, True, True, False]),
    ],
)
def test_strict_lenient_and_max_violations(
    extra: dict[str, Any], feasible_by_count: list[bool]
) -> None:
    req = parse_requirements({**SEED_000, **extra})
    spoilers = [("sharpe", 0.5), ("trades", 10.0), ("win_rate", NAN)]
    for n, expected in enumerate(feasible_by_count):
        metrics = {**GOOD, **dict(spoilers[:n])}
        verdict = req.check(metrics)
        assert len(verdict.violations) == n
        assert verdict.feasible is expected


# -- shortfall ---------------------------------------------------------------------------
def test_shortfall_terms_are_scaled_by_the_threshold() -> None:
    req = parse_requirements(
        {"trades": ">= 50", "max_drawdown": "<= 0.2", "sharpe": ">= -2", "sqn": "== 4"}
    )
    verdict = req.check({"trades": 40.0, "max_drawdown": 0.3, "sharpe": -3.0, "sqn": 5.0})
    # (50-40)/50 + (0.3-0.2)/0.2 + (-2-(-3))/2 + |5-4|/4
    assert verdict.shortfall == pytest.approx(0.2 + 0.5 + 0.5 + 0.25)
    assert not verdict.feasible
    assert verdict.constraint == pytest.approx(verdict.shortfall)


def test_shortfall_is_zero_exactly_when_everything_holds() -> None:
    req = parse_requirements(SEED_000)
    verdict = req.check(GOOD)
    assert verdict.shortfall == 0.0 and verdict.constraint == 0.0 and verdict.feasible
    at_edge = {**GOOD, "sharpe": 1.0, "max_drawdown": 0.2, "trades": 50.0}
    assert req.check(at_edge).shortfall == 0.0


def test_shortfall_grows_continuously_with_the_gap() -> None:
    req = parse_requirements({"sharpe": ">= 1.0"})
    gaps = [req.check({"sharpe": 1.0 - d}).shortfall for d in (0.001, 0.01, 0.1, 1.0)]
    assert gaps == pytest.approx([0.001, 0.01, 0.1, 1.0])


def test_failed_requirement_always_counts() -> None:
    # strict inequality at its boundary, and !=: the gap is 0, the term is MIN_TERM
    assert parse_requirements({"win_rate": "> 0.45"}).check({"win_rate": 0.45}).shortfall == (
        MIN_TERM
    )
    assert parse_requirements({"sqn": "!= 0"}).check({"sqn": 0.0}).shortfall == MIN_TERM


def test_undefined_and_huge_terms() -> None:
    req = parse_requirements({"sharpe": ">= 1", "trades": ">= 10"})
    assert req.check({"trades": 20.0}).shortfall == MAX_TERM  # sharpe missing
    assert req.check({"sharpe": NAN, "trades": 20.0}).shortfall == MAX_TERM
    assert req.check({"sharpe": -math.inf, "trades": 20.0}).shortfall == MAX_TERM
    # a zero threshold scales by 1e-9, then the term is capped
    zero = parse_requirements({"total_return": "> 0"})
    assert zero.check({"total_return": -1e-12}).shortfall == pytest.approx(1e-3)
    assert zero.check({"total_return": -0.5}).shortfall == MAX_TERM


def test_constraint_in_lenient_mode_is_what_must_be_fixed() -> None:
    req = parse_requirements({"trades": ">= 50", "sharpe": ">= 1", "mode": "lenient"})
    one = req.check({"trades": 40.0, "sharpe": 2.0})
    assert one.feasible and one.constraint == 0.0 and one.shortfall == pytest.approx(0.2)
    two = req.check({"trades": 40.0, "sharpe": 0.5})
    # feasible after fixing the smaller of the two terms (0.2 for trades, 0.5 for sharpe)
    assert not two.feasible
    assert two.shortfall == pytest.approx(0.7) and two.constraint == pytest.approx(0.2)


# -- min_trades --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"trades": ">= 50"}, 50),
        ({"trades": ">= 49.2"}, 50),
        ({"trades": "> 50"}, 51),
        ({"trades": "> 49.5"}, 50),
        ({"trades": "== 30"}, 30),
        ({"trades": [">= 20", "> 30"]}, 31),
        ({"trades": ">= -5"}, 0),
        ({"trades": "<= 100"}, None),
        ({"sharpe": ">= 1"}, None),
        ({}, None),
        ({"trades": ">= 50", "mode": "lenient"}, None),
        ({"trades": ">= 50", "max_violations": 0}, 50),
    ],
)
def test_min_trades(raw: dict[str, Any], expected: int | None) -> None:
    assert parse_requirements(raw).min_trades == expected


def test_describe() -> None:
    req = parse_requirements({"trades": ">= 50", "sharpe": ">= 1", "mode": "lenient"})
    assert req.describe() == "trades >= 50, sharpe >= 1.0 (lenient)"
    assert Requirements().describe() == "no requirements"


def test_no_requirements_make_every_candidate_feasible() -> None:
    """What the general check gives with no requirement: no violation, no shortfall."""
    for metrics in ({"sharpe": 1.0}, {}, {"trades": math.nan}):
        verdict = Requirements().check(metrics)
        assert verdict == Verdict((), True, 0.0, 0.0)
        assert type(verdict.shortfall) is float and type(verdict.constraint) is float
        signs = math.copysign(1.0, verdict.shortfall), math.copysign(1.0, verdict.constraint)
        assert signs == (1.0, 1.0)  # math.fsum([]) is +0.0

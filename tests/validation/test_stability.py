from __future__ import annotations

import math
from typing import Any

import pytest

from stratopt.search import Choice, FloatRange, IntRange, SearchSpace, parse_constraints
from stratopt.validation import PointResult, axis_moves, is_within, neighbourhood, stability_of

LOG_F = 100**0.1  # (high / low) ** 0.10 for a log range 0.001..0.1


@pytest.mark.parametrize(
    ("dim", "value", "expected"),
    [
        (IntRange("a", 2, 40), 16, (15, 17)),
        (IntRange("a", 2, 40), 2, (3,)),
        (IntRange("a", 2, 40), 40, (39,)),
        (IntRange("s", 10, 200, 5), 40, (35, 45)),
        (IntRange("s", 10, 22, 5), 20, (15,)),  # the grid ends at 20, not 22
        (FloatRange("x", 0.1, 0.5, 0.1), 0.3, (0.2, 0.4)),
        (FloatRange("x", 0.0, 10.0), 5.0, (4.0, 6.0)),
        (FloatRange("x", 0.0, 10.0), 0.5, (0.0, 1.5)),  # clipped to the bound
        (FloatRange("x", 0.0, 10.0), 0.0, (1.0,)),  # the bound itself is not a neighbour
        (FloatRange("l", 0.001, 0.1, log=True), 0.01, (0.01 / LOG_F, 0.01 * LOG_F)),
        (FloatRange("l", 0.001, 0.1, log=True), 0.1, (0.1 / LOG_F,)),
        (IntRange("n", 1, 1000, log=True), 100, (50, 200)),  # 100 / 1.995, 100 * 1.995
        (IntRange("n", 1, 1000, log=True), 2, (1, 4)),
        (IntRange("n", 1, 1000, log=True), 1, (2,)),
        (Choice("sl", (0.03, 0.05, 0.08, 0.12)), 0.05, (0.03, 0.08)),
        (Choice("w", (40, 20, 60)), 40, (20, 60)),  # numeric order, not list order
        (Choice("w", (40, 20, 60)), 60, (40,)),
        (Choice("mode", ("reversal", "long_only", "x")), "long_only", ()),
        (Choice("flag", (True, False)), True, ()),
    ],
)
def test_axis_moves(dim: Any, value: Any, expected: tuple[Any, ...]) -> None:
    assert axis_moves(dim, value) == expected


def test_categorical_other_values_on_request() -> None:
    dim = Choice("mode", ("reversal", "long_only", "x"))
    assert axis_moves(dim, "long_only", categorical="other") == ("reversal", "x")
    with pytest.raises(ValueError, match="not one of"):
        axis_moves(dim, "sideways")


def test_step_fraction_changes_continuous_moves_only() -> None:
    assert axis_moves(FloatRange("x", 0.0, 10.0), 5.0, step_fraction=0.2) == (3.0, 7.0)
    assert axis_moves(IntRange("a", 0, 10), 5, step_fraction=0.2) == (4, 6)


def _space() -> SearchSpace:
    return SearchSpace((IntRange("a", 1, 5), Choice("b", (1, 2, 3))))


def test_full_neighbourhood_skips_and_counts_infeasible_points() -> None:
    space = _space()
    cons = parse_constraints(["a <= b + 1"], space.names, field="constraints")
    hood = neighbourhood(space, {"a": 3, "b": 2}, constraints=cons)
    assert hood.mode == "full"
    assert [(p["a"], p["b"]) for p in hood.points] == [(3, 3), (2, 2), (2, 1), (2, 3), (4, 3)]
    assert hood.n_infeasible == 3  # (3, 1), (4, 2), (4, 1)


def test_constraints_read_fixed_params() -> None:
    space = _space()
    cons = parse_constraints(["a < limit"], [*space.names, "limit"], field="constraints")
    hood = neighbourhood(space, {"a": 3, "b": 2}, constraints=cons, fixed={"limit": 4})
    assert all(p["a"] < 4 for p in hood.points)
    assert (len(hood.points), hood.n_infeasible) == (5, 3)


def test_large_neighbourhoods_fall_back_to_axis_moves() -> None:
    dims = tuple(IntRange(f"p{i}", 0, 10) for i in range(7))  # 3^7 = 2187 > 729
    space = SearchSpace(dims)
    centre = {f"p{i}": 5 for i in range(7)}
    hood = neighbourhood(space, centre)
    assert hood.mode == "axis" and len(hood.points) == 14
    assert hood.points[0] == {**centre, "p0": 4} and hood.points[1] == {**centre, "p0": 6}
    six = SearchSpace(dims[:6])
    full = neighbourhood(six, {f"p{i}": 5 for i in range(6)})
    assert full.mode == "full" and len(full.points) == 3**6 - 1


def test_neighbourhood_is_deterministic_and_keeps_extra_keys() -> None:
    space = SearchSpace((FloatRange("x", 0.0, 1.0), Choice("m", ("a", "b"))))
    a = neighbourhood(space, {"x": 0.5, "m": "a", "other": 1})
    b = neighbourhood(space, {"x": 0.5, "m": "a", "other": 1})
    assert a == b
    assert [p["x"] for p in a.points] == [0.4, 0.6]
    assert all(p["m"] == "a" and p["other"] == 1 for p in a.points)
    other = neighbourhood(space, {"x": 0.5, "m": "a"}, categorical="other")
    assert len(other.points) == 3 * 2 - 1


@pytest.mark.parametrize(
    ("best", "value", "direction", "expected"),
    [
        (1.0, 0.9, "maximize", True),
        (1.0, 0.89, "maximize", False),
        (1.0, 5.0, "maximize", True),  # better is always within
        (-1.0, -1.1, "maximize", True),
        (-1.0, -1.11, "maximize", False),
        (0.0, 0.0, "maximize", True),
        (0.0, -1e-9, "maximize", False),
        (0.2, 0.22, "minimize", True),
        (0.2, 0.2201, "minimize", False),
        (math.inf, math.inf, "maximize", True),
        (math.inf, 1e9, "maximize", False),
        (1.0, math.nan, "maximize", False),
    ],
)
def test_within_ten_percent(best: float, value: float, direction: Any, expected: bool) -> None:
    assert is_within(best, value, direction) is expected


def _pt(values: tuple[float, ...] | None, error: str | None = None) -> PointResult:
    return PointResult({}, values, "study", error)


def test_stability_statistics_and_verdicts() -> None:
    centre = _pt((1.0,))
    around = [_pt((0.95,)), _pt((0.5,)), _pt((0.92,)), _pt(None, "boom")]
    s = stability_of(centre, around, directions=["maximize"], labels=["sharpe"])
    (o,) = s.objectives
    assert (o.best, o.worst, o.within, o.verdict) == (1.0, 0.5, 2 / 3, "plateau")
    assert o.mean == pytest.approx((0.95 + 0.5 + 0.92) / 3)
    assert (s.verdict, s.n_failed, len(s.neighbours)) == ("plateau", 1, 4)
    half = stability_of(centre, around[1:], directions=["maximize"], labels=["sharpe"])
    assert half.verdict == "plateau" and half.objectives[0].within == 0.5  # 0.5 >= 0.5
    spike = stability_of(
        centre, [*around[1:], _pt((0.3,))], directions=["maximize"], labels=["sharpe"]
    )
    assert spike.verdict == "spike" and spike.objectives[0].within == 1 / 3
    none = stability_of(centre, [_pt(None, "x")], directions=["maximize"], labels=["sharpe"])
    assert none.verdict == "undetermined" and none.objectives[0].mean is None


def test_two_objectives_plateau_only_if_both_are() -> None:
    centre = _pt((1.0, 0.2))
    around = [_pt((0.95, 0.5)), _pt((0.99, 0.21))]
    s = stability_of(
        centre, around, directions=["maximize", "minimize"], labels=["sharpe", "max_drawdown"]
    )
    assert [o.verdict for o in s.objectives] == ["plateau", "plateau"]
    assert [o.within for o in s.objectives] == [1.0, 0.5]
    assert s.objectives[1].worst == 0.5
    strict = stability_of(
        centre,
        around,
        directions=["maximize", "minimize"],
        labels=["sharpe", "max_drawdown"],
        plateau_fraction=0.75,
    )
    assert [o.verdict for o in strict.objectives] == ["plateau", "spike"]
    assert strict.verdict == "spike"

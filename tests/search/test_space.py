"""The search space: parsing the `space:` mapping, grids, Optuna distributions, keys."""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from stratopt.errors import ConfigError
from stratopt.search import Choice, FloatRange, IntRange, SearchSpace, flatten, nest
from stratopt.search import _space as _space_module

optuna.logging.set_verbosity(optuna.logging.WARNING)

STUDY_SPACE: dict[str, Any] = {
    "fast": {"low": 5, "high": 50, "step": 5},
    "slow": [20, 40, 60, 100, 200],
    "stop_loss": {"low": 0.005, "high": 0.05, "log": True},
    "risk": {"per_trade": [0.5, 1.0, 2.0]},
    "data": {"timeframe": ["1h", "4h", "1d"]},
}


def _space(raw: dict[str, Any]) -> SearchSpace:
    return SearchSpace.from_config(raw)


# --- parsing -------------------------------------------------------------------------------


def test_design_example_parses_in_file_order() -> None:
    space = _space(STUDY_SPACE)
    assert space.names == ("fast", "slow", "stop_loss", "risk.per_trade", "data.timeframe")
    assert space.dimensions == (
        IntRange("fast", 5, 50, step=5),
        Choice("slow", (20, 40, 60, 100, 200)),
        FloatRange("stop_loss", 0.005, 0.05, log=True),
        Choice("risk.per_trade", (0.5, 1.0, 2.0)),
        Choice("data.timeframe", ("1h", "4h", "1d")),
    )
    assert not space.is_discrete


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"low": 1, "high": 10}, IntRange("x", 1, 10)),
        ({"low": 1, "high": 10, "step": 3}, IntRange("x", 1, 10, step=3)),
        ({"low": 1, "high": 1000, "log": True}, IntRange("x", 1, 1000, log=True)),
        ({"low": 1, "high": 10, "step": 1, "log": True}, IntRange("x", 1, 10, log=True)),
        ({"low": 0.1, "high": 1}, FloatRange("x", 0.1, 1.0)),
        ({"low": 0, "high": 1.0}, FloatRange("x", 0.0, 1.0)),
        ({"low": 0, "high": 1, "step": 0.25}, FloatRange("x", 0.0, 1.0, step=0.25)),
        ({"low": 0.01, "high": 1.0, "log": True}, FloatRange("x", 0.01, 1.0, log=True)),
        ({"low": 0.0, "high": 1.0, "step": None}, FloatRange("x", 0.0, 1.0)),
        ([3, 1, 2], Choice("x", (3, 1, 2))),
        ({"values": ["b", "a"]}, Choice("x", ("b", "a"))),
        ([True, False], Choice("x", (True, False))),
        ([1, "a", 2.5], Choice("x", (1, "a", 2.5))),
        ([7], Choice("x", (7,))),
    ],
)
def test_every_form_of_dimension(raw: Any, expected: Any) -> None:
    assert _space({"x": raw}).dimensions == (expected,)


def test_range_types() -> None:
    space = _space({"a": {"low": 1, "high": 5}, "b": {"low": 1, "high": 5, "step": 0.5}})
    a, b = space.dimensions
    assert isinstance(a, IntRange) and isinstance(a.low, int)
    assert isinstance(b, FloatRange) and isinstance(b.low, float) and b.step == 0.5


def test_nested_groups_become_dotted_names() -> None:
    raw = {
        "strategy": {"fast": [5, 10], "inner": {"deep": {"low": 1, "high": 3}}},
        "risk": {"per_trade": [0.5, 1]},
        "data": {"timeframe": ["1h", "4h"]},
        "risk2.direct": [1, 2],
    }
    space = _space(raw)
    assert space.names == (
        "strategy.fast",
        "strategy.inner.deep",
        "risk.per_trade",
        "data.timeframe",
        "risk2.direct",
    )
    timeframe = space.dimensions[3]
    assert timeframe == Choice("data.timeframe", ("1h", "4h"))
    assert all(isinstance(v, str) for v in timeframe.values)


def test_field_prefix_is_used_in_messages() -> None:
    with pytest.raises(ConfigError, match=r"^search\.space\.fast: low \(50\) must be < high"):
        SearchSpace.from_config({"fast": {"low": 50, "high": 5}}, field="search.space")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"fast": {"low": 50, "high": 5}}, "space.fast: low (50) must be < high (5)"),
        ({"fast": {"low": 5, "high": 5}}, "space.fast: low (5) must be < high (5)"),
        ({"x": {"low": 0.5, "high": 0.1}}, "space.x: low (0.5) must be < high (0.1)"),
        (
            {"stop_loss": {"low": 0, "high": 0.05, "log": True}},
            "space.stop_loss: log scale needs low > 0, got 0",
        ),
        ({"n": {"low": 0, "high": 5, "log": True}}, "space.n: log scale needs low > 0, got 0"),
        ({"x": {"low": 0.1, "high": 1, "step": 0}}, "space.x: step must be > 0, got 0"),
        ({"x": {"low": 1, "high": 9, "step": -2}}, "space.x: step must be > 0, got -2"),
        (
            {"fast": {"low": 5, "hgih": 50}},
            "space.fast: unknown key 'hgih' (expected low, high, step, log)",
        ),
        ({"fast": {"low": 5}}, "space.fast: missing 'high' (a range needs low and high)"),
        ({"fast": {"high": 5}}, "space.fast: missing 'low' (a range needs low and high)"),
        ({"fast": {"step": 5}}, "space.fast: missing 'low' (a range needs low and high)"),
        ({"timeframe": []}, "space.timeframe: empty list — give at least one value"),
        ({"timeframe": {"values": []}}, "space.timeframe: empty list — give at least one value"),
        ({}, "space: empty — nothing to search"),
        ({"risk": {}}, "space.risk: empty — nothing to search"),
        (
            {"x": {"low": 0.001, "high": 1.0, "log": True, "step": 0.1}},
            "space.x: log scale cannot be combined with a step (Optuna does not allow it)",
        ),
        (
            {"x": {"low": 1, "high": 100, "log": True, "step": 5}},
            "space.x: log scale on an int range needs step 1, got 5",
        ),
        ({"x": [1, 2, 1]}, "space.x: duplicate value 1 (at index 0 and 2)"),
        ({"x": [1, 1.0]}, "space.x: duplicate value 1.0 (at index 0 and 1)"),
        ({"x": ["a", "b", "a"]}, "space.x: duplicate value 'a' (at index 0 and 2)"),
        ({"x": [1, None]}, "space.x: value None at index 1 is not a number, string or bool"),
        ({"x": [[1, 2]]}, "space.x: value [1, 2] at index 0 is not a number, string or bool"),
        ({"x": [float("nan")]}, "space.x: value nan at index 0 is not finite"),
        ({"x": {"values": [1], "log": True}}, "space.x: unknown key 'log' (expected only values)"),
        ({"x": {"values": 3}}, "space.x: values must be a list, got 3"),
        ({"x": {"low": "a", "high": 5}}, "space.x: low must be a number, got 'a'"),
        ({"x": {"low": True, "high": 5}}, "space.x: low must be a number, got True"),
        ({"x": {"low": 0, "high": [5]}}, "space.x: high must be a number, got [5]"),
        ({"x": {"low": 0, "high": 5, "step": "1"}}, "space.x: step must be a number, got '1'"),
        (
            {"x": {"low": "1e-3", "high": 1.0}},
            "space.x: low must be a number, got '1e-3' (YAML reads 1e-3 or 1.0e308 as text; "
            "write 1.0e-3 or 1.0e+308)",
        ),
        ({"x": {"low": 0.0, "high": float("inf")}}, "space.x: high must be finite, got inf"),
        (
            {"x": {"low": 1, "high": 5, "log": "yes"}},
            "space.x: log must be true or false, got 'yes'",
        ),
        (
            {"x": 5},
            "space.x: expected a list of values, a range {low, high, step, log} or a group of "
            "parameters, got 5 (fixed values belong in params)",
        ),
        (
            {"risk": {"per_trade": "high"}},
            "space.risk.per_trade: expected a list of values, a range {low, high, step, log} or "
            "a group of parameters, got 'high' (fixed values belong in params)",
        ),
        (
            {True: [1, 2]},
            "space: key True is not a parameter name (YAML reads yes/no/on/off and numbers as "
            "non-text; quote the name)",
        ),
        (
            {"risk": {1: [1, 2]}},
            "space.risk: key 1 is not a parameter name (YAML reads yes/no/on/off and numbers as "
            "non-text; quote the name)",
        ),
        (
            {"take-profit": [1, 2]},
            "space.take-profit: a parameter name must be letters, digits and _ "
            "(dots between group names), got 'take-profit'",
        ),
        (
            {"class": [1, 2]},
            "space.class: a parameter name must be letters, digits and _ "
            "(dots between group names), got 'class'",
        ),
        ({"a": [1], "a.b": [2]}, "space.a.b: 'a' is both a parameter and a group"),
        ({"risk.x": [1], "risk": {"x": [2]}}, "space.risk.x: defined twice"),
    ],
)
def test_error_messages(raw: dict[Any, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        _space(raw)
    assert str(info.value) == message


@pytest.mark.parametrize("raw", [None])
def test_missing_space_is_empty(raw: Any) -> None:
    with pytest.raises(ConfigError, match=r"^space: empty — nothing to search$"):
        SearchSpace.from_config(raw)


@pytest.mark.parametrize("raw", [[1, 2], "fast", 5])
def test_space_must_be_a_mapping(raw: Any) -> None:
    with pytest.raises(ConfigError, match=r"^space: expected a mapping of parameter names"):
        SearchSpace.from_config(raw)


def test_dimensions_validate_when_built_directly() -> None:
    with pytest.raises(ConfigError, match=r"^fast: low must be an integer, got 1\.5$"):
        IntRange("fast", 1.5, 3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^x: low \(2\.0\) must be < high \(1\.0\)$"):
        FloatRange("x", 2.0, 1.0)
    with pytest.raises(ConfigError, match=r"^x: empty list"):
        Choice("x", ())
    with pytest.raises(ConfigError, match=r"^space: empty"):
        SearchSpace(())
    assert FloatRange("x", 0, 1).high == 1.0
    assert Choice("x", [1, 2]).values == (1, 2)  # type: ignore[arg-type]


# --- grid ----------------------------------------------------------------------------------


def _per_dimension_values(space: SearchSpace) -> list[tuple[Any, ...]]:
    return [d.grid_values() for d in space.dimensions]


def test_grid_is_the_cartesian_product_exactly_once_in_order() -> None:
    space = _space(
        {
            "fast": {"low": 5, "high": 20, "step": 5},
            "slow": [100, 50],
            "sl": {"low": 0.1, "high": 0.3, "step": 0.1},
            "risk": {"per_trade": [0.5, 1]},
            "data": {"timeframe": ["1h", "4h"]},
        }
    )
    grid = list(space.grid())
    expected = [
        dict(zip(space.names, combo, strict=True))
        for combo in itertools.product(*_per_dimension_values(space))
    ]
    assert grid == expected
    assert len(grid) == space.grid_size() == 4 * 2 * 3 * 2 * 2
    assert len({space.key(p) for p in grid}) == len(grid)
    # the first dimension varies slowest, the last fastest
    assert [p["fast"] for p in grid[:48]] == [5] * 24 + [10] * 24
    assert [p["data.timeframe"] for p in grid[:4]] == ["1h", "4h", "1h", "4h"]
    assert grid[0]["slow"] == 100  # choices keep their order


@pytest.mark.parametrize("listed", [True, False])
def test_keyed_grid_is_the_grid_with_its_keys(listed: bool, monkeypatch: Any) -> None:
    """Listed (a product of every dimension's values) or walked an index at a time (a
    longer range), the same combinations in the same order, each with its `key`."""
    if not listed:
        monkeypatch.setattr(_space_module, "_LISTED_VALUES", 3)
    space = _space(
        {
            "fast": {"low": 5, "high": 20, "step": 5},
            "slow": [100, 50, 7.0, True, "x", 0.1 + 0.2],  # its key: 0.3
            "sl": {"low": 0.1, "high": 0.3, "step": 0.1},
            "big": {"low": 1.0e15, "high": 3.0e15, "step": 1.0e15},
        }
    )
    expected = [
        dict(zip(space.names, combo, strict=True))
        for combo in itertools.product(*_per_dimension_values(space))
    ]
    assert list(space.grid()) == expected
    keyed = list(space.keyed_grid())
    assert [p for p, _ in keyed] == expected
    assert [k for _, k in keyed] == [space.key(p) for p in expected]
    assert [repr(k) for _, k in keyed] == [repr(space.key(p)) for p in expected]
    keys = list(space.grid_keys())  # the keys alone: the same, in the same order
    assert keys == [space.key(p) for p in expected]
    assert list(map(repr, keys)) == [repr(space.key(p)) for p in expected]


def test_float_step_has_no_drift() -> None:
    assert _space({"x": {"low": 0.1, "high": 0.3, "step": 0.1}}).dimensions[0].grid_values() == (
        0.1,
        0.2,
        0.3,
    )
    values = FloatRange("x", 0.0, 1.0, step=0.1).grid_values()
    assert values == (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    assert FloatRange("x", 0.005, 0.05, step=0.005).grid_values()[-1] == 0.05
    assert FloatRange("x", -0.3, 0.3, step=0.15).grid_values() == (-0.3, -0.15, 0.0, 0.15, 0.3)
    assert FloatRange("x", 1e-5, 3e-5, step=1e-5).grid_values() == (1e-5, 2e-5, 3e-5)


@pytest.mark.parametrize(
    ("dim", "values"),
    [
        (IntRange("x", 5, 50, step=5), tuple(range(5, 51, 5))),
        (IntRange("x", 5, 52, step=5), tuple(range(5, 51, 5))),  # high off the grid
        (IntRange("x", 1, 2, step=5), (1,)),
        (IntRange("x", -3, 3), (-3, -2, -1, 0, 1, 2, 3)),
        (IntRange("x", 1, 8, log=True), (1, 2, 3, 4, 5, 6, 7, 8)),
        (FloatRange("x", 0.0, 1.0, step=0.3), (0.0, 0.3, 0.6, 0.9)),
        (FloatRange("x", 0.0, 1.0, step=0.25), (0.0, 0.25, 0.5, 0.75, 1.0)),
        (FloatRange("x", 0.0, 1.0, step=2.0), (0.0,)),
        (Choice("x", ("b", "a", "c")), ("b", "a", "c")),
    ],
)
def test_dimension_grid_values(dim: Any, values: tuple[Any, ...]) -> None:
    assert dim.grid_values() == values
    assert dim.grid_size() == len(values)
    assert [dim.grid_value(i) for i in range(len(values))] == list(values)
    with pytest.raises(IndexError):
        dim.grid_value(len(values))
    assert [p["x"] for p in SearchSpace((dim,)).grid()] == list(values)


def test_continuous_range_has_no_grid() -> None:
    space = _space({"a": [1, 2], "x": {"low": 0.1, "high": 1.0}})
    assert not space.is_discrete
    message = "^space.x: a float range needs a step for grid search$"
    with pytest.raises(ConfigError, match=message):
        space.grid()  # raised at the call, not at the first next()
    with pytest.raises(ConfigError, match=message):
        space.grid_size()
    log = _space({"x": {"low": 0.1, "high": 1.0, "log": True}})
    with pytest.raises(ConfigError, match="needs a step"):
        log.grid_size()


def test_grid_size_does_not_enumerate_and_grid_is_lazy() -> None:
    space = _space({"a": {"low": 0, "high": 10**12}, "b": {"low": 0.0, "high": 1e6, "step": 1e-6}})
    assert space.is_discrete
    assert space.grid_size() == (10**12 + 1) * (10**12 + 1)
    grid = space.grid()
    assert next(grid) == {"a": 0, "b": 0.0}
    assert next(grid) == {"a": 0, "b": 1e-6}


@settings(max_examples=150, deadline=None)
@given(
    low=st.integers(-50, 50),
    span=st.integers(1, 60),
    step=st.integers(1, 15),
    f_low=st.decimals(-10, 10, places=2),
    f_steps=st.integers(1, 30),
    f_step=st.sampled_from(["0.01", "0.05", "0.1", "0.25", "0.3", "1.5"]),
)
def test_grid_properties(
    low: int, span: int, step: int, f_low: Any, f_steps: int, f_step: str
) -> None:
    f_high = float(f_low + f_steps * type(f_low)(f_step))
    space = SearchSpace(
        (
            IntRange("i", low, low + span, step=step),
            FloatRange("f", float(f_low), f_high, step=float(f_step)),
            Choice("c", ("x", "y")),
        )
    )
    grid = list(space.grid())
    assert len(grid) == space.grid_size()
    assert len({space.key(p) for p in grid}) == len(grid)
    ints = space.dimensions[0].grid_values()
    assert ints == tuple(range(low, low + span + 1, step))
    floats = space.dimensions[1].grid_values()
    assert len(floats) == f_steps + 1
    assert floats[0] == float(f_low) and floats[-1] == f_high  # both ends exact
    assert all(repr(v) == repr(float(f"{v:.2f}")) for v in floats)  # no drift digits


# --- Optuna --------------------------------------------------------------------------------


def test_distributions() -> None:
    space = _space(
        {
            "fast": {"low": 5, "high": 52, "step": 5},
            "n": {"low": 1, "high": 100, "log": True},
            "sl": {"low": 0.0, "high": 1.0, "step": 0.3},
            "tp": {"low": 0.01, "high": 0.5, "log": True},
            "risk": {"per_trade": [0.5, 1.0]},
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # high is moved onto the grid, so Optuna does not warn
        dists = space.distributions()
    assert list(dists) == list(space.names)
    assert dists["fast"] == IntDistribution(5, 50, step=5)
    assert dists["n"] == IntDistribution(1, 100, log=True)
    assert dists["sl"] == FloatDistribution(0.0, 0.9, step=0.3)
    assert dists["tp"] == FloatDistribution(0.01, 0.5, log=True)
    assert dists["risk.per_trade"] == CategoricalDistribution((0.5, 1.0))


@pytest.mark.parametrize(
    "sampler",
    [optuna.samplers.RandomSampler(seed=1), optuna.samplers.TPESampler(seed=1)],
    ids=["random", "tpe"],
)
def test_suggest_with_a_real_study(sampler: optuna.samplers.BaseSampler) -> None:
    space = _space(
        {
            "fast": {"low": 5, "high": 50, "step": 5},
            "slow": [20, 40, 60],
            "sl": {"low": 0.1, "high": 0.9, "step": 0.1},
            "tp": {"low": 0.005, "high": 0.05, "log": True},
            "n": {"low": 1, "high": 1000, "log": True},
            "risk": {"per_trade": [0.5, 1.0]},
            "data": {"timeframe": ["1h", "4h"]},
        }
    )
    study = optuna.create_study(sampler=sampler)
    grid_sl = set(space.dimensions[2].grid_values())
    for _ in range(30):
        trial = study.ask()
        first = space.suggest(trial)
        again = space.suggest(trial)
        assert first == again
        assert list(first) == list(space.names)
        assert set(trial.params) == set(space.names)
        assert first["fast"] in range(5, 51, 5)
        assert first["slow"] in (20, 40, 60)
        assert first["sl"] in grid_sl  # snapped onto the exact grid value
        assert 0.005 <= first["tp"] <= 0.05
        assert 1 <= first["n"] <= 1000 and isinstance(first["n"], int)
        assert first["risk.per_trade"] in (0.5, 1.0)
        assert first["data.timeframe"] in ("1h", "4h")
        assert space.key(first) == space.key(trial.params)
        study.tell(trial, float(first["fast"]))


# --- key, nest, flatten --------------------------------------------------------------------


def test_key() -> None:
    space = _space({"a": {"low": 1, "high": 9}, "b": {"low": 0.0, "high": 1.0}, "c": ["x", "y"]})
    key = space.key({"c": "x", "b": 0.30000000000000004, "a": 3, "extra": object()})
    assert key == (3, 0.3, "x")
    assert isinstance(key[0], int)
    assert hash(key) == hash(space.key({"a": 3.0, "b": 0.3, "c": "x"}))
    assert space.key({"a": 3, "b": 0.1 + 0.2, "c": "x"}) == space.key({"a": 3, "b": 0.3, "c": "x"})
    assert space.key({"a": 3, "b": 0.3000001, "c": "x"}) != key
    assert space.key({"a": True, "b": 1, "c": "x"})[0] is True
    with pytest.raises(KeyError, match="'b'"):
        space.key({"a": 3, "c": "x"})


def test_nest_and_flatten() -> None:
    flat = {"fast": 5, "risk.per_trade": 1.0, "risk.stop.kind": "atr", "data.timeframe": "1h"}
    nested = {
        "fast": 5,
        "risk": {"per_trade": 1.0, "stop": {"kind": "atr"}},
        "data": {"timeframe": "1h"},
    }
    assert nest(flat) == nested
    assert flatten(nested) == flat
    assert nest(flatten(nested)) == nested
    assert flatten(nest(flat)) == flat
    assert nest({"risk": {"a": 1}, "risk.b": 2}) == {"risk": {"a": 1, "b": 2}}
    assert flatten({"a": {}}) == {"a": {}}
    assert nest({"a": {}}) == {"a": {}}
    assert flatten({"x": 1}, prefix="params") == {"params.x": 1}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"risk": 1, "risk.per_trade": 2}, "^risk: is both a value"),
        ({"risk.per_trade": 2, "risk": 1}, "^risk: is both a value and a group"),
        ({"risk.x": 1, "risk": {"x": 2}}, "^risk.x: given twice$"),
    ],
)
def test_nest_conflicts(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        nest(params)


@given(
    st.dictionaries(
        st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3).map(".".join),
        st.integers(),
        max_size=8,
    )
)
def test_nest_flatten_round_trip(flat: dict[str, int]) -> None:
    names = sorted(flat)
    if any(n.startswith(m + ".") for n in names for m in names):
        with pytest.raises(ConfigError):
            nest(flat)
    else:
        assert flatten(nest(flat)) == flat

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stratopt.errors import ConfigError
from stratopt.metrics import METRIC_IDS, get_metric
from stratopt.search._objective import (
    DEFAULT_BOUNDS,
    MetricObjective,
    ObjectiveValues,
    ScoreNormalizer,
    WeightedObjective,
    parse_objective,
)

INF, NAN = math.inf, math.nan
SEED_000 = {"sharpe": 0.30, "profit_factor": 0.25, "calmar": 0.25, "max_drawdown": -0.20}
CANDIDATE = {"sharpe": 1.0, "profit_factor": 1.5, "calmar": 1.0, "max_drawdown": 0.1}


def weighted(raw: dict[str, Any]) -> WeightedObjective:
    obj = parse_objective(raw)
    assert isinstance(obj, WeightedObjective)
    return obj


def score(obj: WeightedObjective, metrics: dict[str, float]) -> float:
    values = obj.values(metrics).values
    assert values is not None
    return values[0]


# -- parsing -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "directions"),
    [
        ("sharpe", ("maximize",)),
        ("max_drawdown", ("minimize",)),
        ({"metric": "sharpe"}, ("maximize",)),
        ({"metric": "volatility"}, ("minimize",)),
        ({"metric": "sharpe", "direction": "minimize"}, ("minimize",)),
        ({"metric": "exposure", "direction": "maximize"}, ("maximize",)),
    ],
)
def test_single_metric_direction(raw: Any, directions: tuple[str, ...]) -> None:
    obj = parse_objective(raw)
    assert isinstance(obj, MetricObjective)
    assert obj.directions == directions and not obj.is_multi


@pytest.mark.parametrize("metric", METRIC_IDS)
def test_every_metric_defaults_to_its_registry_direction(metric: str) -> None:
    expected = "maximize" if get_metric(metric).higher_is_better else "minimize"
    assert parse_objective(metric).directions == (expected,)


def test_pareto_form_keeps_the_file_order() -> None:
    obj = parse_objective({"maximize": ["sharpe", "calmar"], "minimize": "max_drawdown"})
    assert obj.is_multi
    assert obj.metric_ids == ("sharpe", "calmar", "max_drawdown")
    assert obj.directions == ("maximize", "maximize", "minimize")
    assert parse_objective({"minimize": ["exposure"], "maximize": ["sharpe"]}).directions == (
        "minimize",
        "maximize",
    )
    assert obj.describe() == "Pareto front: maximize sharpe, maximize calmar, minimize max_drawdown"
    assert obj.values({"sharpe": 1.0, "calmar": 2.0, "max_drawdown": 0.1}).values == (1.0, 2.0, 0.1)


def test_weighted_form_and_defaults() -> None:
    obj = weighted({"weights": SEED_000})
    assert obj.directions == ("maximize",) and not obj.is_multi
    assert obj.metric_ids == ("sharpe", "profit_factor", "calmar", "max_drawdown")
    assert obj.normalize == "adaptive" and obj.normalizer is not None
    assert obj.normalizer.refresh == 20 and obj.normalizer.percentiles == (5.0, 95.0)
    assert obj.bounds() == {m: DEFAULT_BOUNDS[m] for m in SEED_000}
    assert obj.bounds()["sharpe"] == (-1.0, 3.0)
    assert obj.bounds()["max_drawdown"] == (0.0, 0.5)


def test_weighted_options() -> None:
    obj = weighted(
        {
            "weights": {"sharpe": 1, "trades": 0.5},
            "refresh": 7,
            "percentiles": [10, 90],
            "bounds": {"trades": [0, 200]},
        }
    )
    assert obj.normalizer is not None
    assert obj.normalizer.refresh == 7 and obj.normalizer.percentiles == (10.0, 90.0)
    assert obj.bounds() == {"sharpe": (-1.0, 3.0), "trades": (0.0, 200.0)}
    fixed = weighted({"weights": {"sharpe": 1}, "normalize": "fixed", "bounds": {"sharpe": [0, 2]}})
    assert fixed.normalizer is not None and fixed.normalizer.refresh is None
    assert fixed.bounds() == {"sharpe": (0.0, 2.0)}
    assert weighted({"weights": {"sharpe": 1}, "normalize": "none"}).normalizer is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("sharp", "objective: unknown metric 'sharp'; did you mean 'sharpe'?"),
        ({"metric": "sharp"}, "objective.metric: unknown metric 'sharp'; did you mean 'sharpe'?"),
        ({"metric": 3}, "objective.metric: expected a metric id, got 3"),
        (
            {"metric": "sharpe", "direction": "maximise"},
            "objective: invalid value 'maximise'; did you mean 'maximize'?",
        ),
        (
            {"metric": "sharpe", "directon": "maximize"},
            "objective: unknown key 'directon'; did you mean 'direction'?",
        ),
        (
            {"metric": "sharpe", "dir": "maximize"},
            "objective: unknown key 'dir'; expected one of: metric, direction",
        ),
        (
            {"maximize": ["sharpe"], "minimize": ["max_drawdon"]},
            "objective.minimize[0]: unknown metric 'max_drawdon'; did you mean 'max_drawdown'?",
        ),
        (
            {"maximize": ["sharpe", "sharpe"]},
            "objective.maximize[1]: metric 'sharpe' given twice",
        ),
        ({"maximize": [], "minimize": []}, "objective: no metric to maximize or minimize"),
        ({"maximize": 3}, "objective.maximize: expected a list of metric ids, got 3"),
        (
            {"weights": {"sharp": 1}},
            "objective.weights.sharp: unknown metric 'sharp'; did you mean 'sharpe'?",
        ),
        (
            {"weights": {}},
            "objective.weights: expected a non-empty mapping of metric to weight, got {}",
        ),
        ({"weights": {"sharpe": 0, "calmar": 0.0}}, "objective.weights: all weights are zero"),
        (
            {"weights": {"sharpe": "high"}},
            "objective.weights.sharpe: expected a finite number, got 'high'",
        ),
        (
            {"weights": {"sharpe": True}},
            "objective.weights.sharpe: expected a finite number, got True",
        ),
        (
            {"weights": {"sharpe": NAN}},
            "objective.weights.sharpe: expected a finite number, got nan",
        ),
        (
            {"weights": {"sharpe": -0.3}},
            "objective.weights.sharpe: a negative weight is a penalty, allowed only on metrics "
            "where lower is better; higher sharpe is better, give a positive weight (got -0.3)",
        ),
        (
            {"weights": {"sharpe": 1}, "percentiles": [95, 5]},
            "objective.percentiles: low < high must hold, got [95, 5]",
        ),
        (
            {"weights": {"sharpe": 1}, "percentiles": [-5, 95]},
            "objective.percentiles: 0 <= low < high <= 100 must hold, got [-5.0, 95.0]",
        ),
        (
            {"weights": {"sharpe": 1}, "percentiles": [5, 101]},
            "objective.percentiles: 0 <= low < high <= 100 must hold, got [5.0, 101.0]",
        ),
        (
            {"weights": {"sharpe": 1}, "percentiles": [5]},
            "objective.percentiles: expected [low, high], got [5]",
        ),
        (
            {"weights": {"sharpe": 1}, "refresh": 0},
            "objective.refresh: expected an integer >= 1, got 0",
        ),
        (
            {"weights": {"sharpe": 1}, "refresh": 2.5},
            "objective.refresh: expected an integer >= 1, got 2.5",
        ),
        (
            {"weights": {"sharpe": 1}, "normalize": "minmax"},
            "objective.normalize: invalid value 'minmax'; expected one of: adaptive, fixed, none",
        ),
        (
            {"weights": {"sharpe": 1}, "normalize": "none", "refresh": 5},
            "objective.refresh: applies only to normalize: adaptive, not none",
        ),
        (
            {"weights": {"sharpe": 1}, "normalize": "fixed", "percentiles": [1, 99]},
            "objective.percentiles: applies only to normalize: adaptive, not fixed",
        ),
        (
            {"weights": {"sharpe": 1}, "normalize": "none", "bounds": {"sharpe": [0, 1]}},
            "objective.bounds: applies only to normalize: adaptive or fixed, not none",
        ),
        (
            {"weights": {"sharpe": 1}, "bounds": {"calmar": [0, 1]}},
            "objective.bounds.calmar: 'calmar' has no weight",
        ),
        (
            {"weights": {"sharpe": 1}, "bounds": {"sharpe": [1, 1]}},
            "objective.bounds.sharpe: low < high must hold, got [1, 1]",
        ),
        (
            {"weights": {"final_equity": 1}, "normalize": "fixed"},
            "objective.weights.final_equity: no default normalization bounds for "
            "'final_equity'; give them as objective.bounds.final_equity: [low, high]",
        ),
        (
            {"weights": {"sharpe": 1}, "normalise": "none"},
            "objective: unknown key 'normalise'; did you mean 'normalize'?",
        ),
        ({"wieghts": {"sharpe": 1}}, "objective: unknown key 'wieghts'; did you mean 'weights'?"),
        (
            {"refresh": 20},
            "objective: expected a metric id, {metric: ...}, {weights: ...} or "
            "{maximize: [...], minimize: [...]}, got {'refresh': 20}",
        ),
        (3, "objective: expected a metric id or a mapping, got 3"),
    ],
)
def test_errors_name_the_field(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_objective(raw)
    assert str(info.value) == message


def test_custom_field_in_messages() -> None:
    with pytest.raises(ConfigError, match=r"^study\.objective\.weights\.sharp: unknown metric"):
        parse_objective({"weights": {"sharp": 1}}, field="study.objective")


def test_default_bounds_table() -> None:
    for metric, (lo, hi) in DEFAULT_BOUNDS.items():
        assert get_metric(metric).unit not in ("count", "bars", "currency")
        assert lo < hi
    no_default = {m for m in METRIC_IDS if m not in DEFAULT_BOUNDS}
    assert no_default == {
        m for m in METRIC_IDS if get_metric(m).unit in ("count", "bars", "currency")
    }


# -- single metric -----------------------------------------------------------------------
def test_single_metric_values() -> None:
    obj = parse_objective("sharpe")
    assert obj.values({"sharpe": 1.25, "calmar": NAN}) == ObjectiveValues((1.25,))
    assert obj.values({"sharpe": 1.25}).components == {}


@pytest.mark.parametrize("value", [INF, -INF])
def test_single_metric_passes_infinity_through(value: float) -> None:
    assert parse_objective("profit_factor").values({"profit_factor": value}).values == (value,)


@pytest.mark.parametrize(
    ("metrics", "reason"),
    [({"sharpe": NAN}, "sharpe is NaN"), ({}, "sharpe is missing")],
)
def test_unscorable_single_and_pareto(metrics: dict[str, float], reason: str) -> None:
    single = parse_objective("sharpe").values(metrics)
    assert single.values is None and single.reason == reason
    pareto = parse_objective({"minimize": "max_drawdown", "maximize": "sharpe"})
    out = pareto.values({"max_drawdown": 0.1, **metrics})
    assert out.values is None and out.reason == reason


# -- weighted score ----------------------------------------------------------------------
def test_weighted_components_add_up_to_the_score() -> None:
    obj = weighted({"weights": SEED_000})
    out = obj.values(CANDIDATE)
    assert out.values is not None
    # default bounds: sharpe [-1, 3], profit_factor [0, 3], calmar [-1, 3], max_drawdown [0, 0.5]
    assert out.components == pytest.approx(
        {
            "sharpe.norm": 0.5,
            "sharpe.weighted": 0.15,
            "profit_factor.norm": 0.5,
            "profit_factor.weighted": 0.125,
            "calmar.norm": 0.5,
            "calmar.weighted": 0.125,
            "max_drawdown.norm": 0.8,  # inverted: lower is better
            "max_drawdown.weighted": -0.04,  # penalty: -0.2 * (1 - 0.8)
        }
    )
    terms = [v for k, v in out.components.items() if k.endswith(".weighted")]
    assert out.values[0] == pytest.approx(sum(terms)) == pytest.approx(0.36)


def test_inverted_normalization_for_lower_is_better() -> None:
    obj = weighted({"weights": {"max_drawdown": 1.0}})
    norm = [obj.values({"max_drawdown": dd}).components["max_drawdown.norm"] for dd in
            (0.0, 0.1, 0.25, 0.5, 0.9)]  # fmt: skip
    assert norm == pytest.approx([1.0, 0.8, 0.5, 0.0, 0.0])


def test_penalty_weight_lowers_the_score_as_drawdown_grows() -> None:
    obj = weighted({"weights": SEED_000})
    scores = [score(obj, {**CANDIDATE, "max_drawdown": dd}) for dd in (0.0, 0.1, 0.2, 0.4)]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == 4
    assert obj.values({**CANDIDATE, "max_drawdown": 0.0}).components[
        "max_drawdown.weighted"
    ] == pytest.approx(0.0)
    assert obj.values({**CANDIDATE, "max_drawdown": 0.5}).components[
        "max_drawdown.weighted"
    ] == pytest.approx(-0.2)


def test_bonus_and_penalty_forms_differ_by_a_constant() -> None:
    penalty = weighted({"weights": SEED_000})
    bonus = weighted({"weights": {**SEED_000, "max_drawdown": 0.20}})
    for dd in (0.0, 0.05, 0.3, 0.7):
        m = {**CANDIDATE, "max_drawdown": dd}
        assert score(bonus, m) - score(penalty, m) == pytest.approx(0.20)


def test_weighted_infinite_values_clip_to_the_bounds() -> None:
    obj = weighted({"weights": SEED_000})
    top = obj.values({**CANDIDATE, "profit_factor": INF}).components
    assert top["profit_factor.norm"] == 1.0 and top["profit_factor.weighted"] == 0.25
    assert score(obj, {**CANDIDATE, "profit_factor": INF}) == score(
        obj, {**CANDIDATE, "profit_factor": 3.0}
    )
    bottom = obj.values({**CANDIDATE, "calmar": -INF}).components
    assert bottom["calmar.norm"] == 0.0


@pytest.mark.parametrize(
    ("metrics", "reason"),
    [
        ({**CANDIDATE, "calmar": NAN}, "calmar is NaN"),
        ({k: v for k, v in CANDIDATE.items() if k != "sharpe"}, "sharpe is missing"),
    ],
)
def test_weighted_unscorable(metrics: dict[str, float], reason: str) -> None:
    out = weighted({"weights": SEED_000}).values(metrics)
    assert out.values is None and out.reason == reason


def test_normalize_none_uses_raw_values() -> None:
    obj = weighted({"weights": {"sharpe": 1.0, "max_drawdown": -2.0}, "normalize": "none"})
    out = obj.values({"sharpe": 1.5, "max_drawdown": 0.1})
    assert out.components == pytest.approx(
        {
            "sharpe.norm": 1.5,
            "sharpe.weighted": 1.5,
            "max_drawdown.norm": -0.1,
            "max_drawdown.weighted": -0.2,
        }
    )
    assert out.values == pytest.approx((1.3,))
    inf = obj.values({"sharpe": INF, "max_drawdown": 0.1})
    assert inf.values is None and inf.reason == "sharpe is inf (no bounds with normalize: none)"
    assert obj.bounds() == {} and obj.state_dict() == {}
    # found by the property test: +inf and -inf terms must not reach the sum
    both = obj.values({"sharpe": INF, "max_drawdown": INF})
    assert both.values is None and both.reason == "sharpe is inf (no bounds with normalize: none)"
    two = weighted({"weights": {"sharpe": 1.0, "calmar": 1.0}, "normalize": "none"})
    huge = two.values({"sharpe": 1.7e308, "calmar": 1.7e308})
    assert huge.values is None and huge.reason == "the score overflows (normalize: none)"
    zero = weighted({"weights": {"sharpe": 1.0, "calmar": 0.0}, "normalize": "none"})
    assert zero.values({"sharpe": 1.0, "calmar": INF}).values == (1.0,)


def test_fixed_bounds_never_move() -> None:
    obj = weighted({"weights": {"sharpe": 1}, "normalize": "fixed"})
    before = obj.bounds()
    for x in np.linspace(-5, 5, 50):
        obj.observe({"sharpe": float(x)})
    assert obj.bounds() == before and obj.state_dict() == {}


# -- adaptive normalization --------------------------------------------------------------
def _sequence(n: int, seed: int = 7) -> list[dict[str, float]]:
    rng = np.random.default_rng(seed)
    return [
        {"sharpe": float(s), "max_drawdown": float(d)}
        for s, d in zip(rng.normal(1.0, 1.5, n), rng.uniform(0.02, 0.6, n), strict=True)
    ]


@pytest.mark.parametrize(("refresh", "percentiles"), [(20, (5.0, 95.0)), (7, (10.0, 90.0))])
def test_bounds_refresh_exactly_every_n_observations(
    refresh: int, percentiles: tuple[float, float]
) -> None:
    obj = weighted(
        {
            "weights": {"sharpe": 0.5, "max_drawdown": -0.5},
            "refresh": refresh,
            "percentiles": list(percentiles),
        }
    )
    seq = _sequence(3 * refresh + 5)
    expected = {m: DEFAULT_BOUNDS[m] for m in ("sharpe", "max_drawdown")}
    for i, metrics in enumerate(seq, start=1):
        obj.observe(metrics)
        if i % refresh == 0:
            expected = {
                m: tuple(np.percentile([s[m] for s in seq[:i]], percentiles).tolist())
                for m in ("sharpe", "max_drawdown")
            }
        assert obj.bounds() == expected, f"after {i} observations"
    assert obj.normalizer is not None and obj.normalizer.n_observed == len(seq)


def test_scores_within_a_window_use_the_same_bounds() -> None:
    obj = weighted({"weights": {"sharpe": 1.0}, "refresh": 10})
    for m in _sequence(10):
        obj.observe(m)
    probe = {"sharpe": 1.0}
    first = score(obj, probe)
    for m in _sequence(9, seed=8):
        obj.observe(m)
        assert score(obj, probe) == first
    obj.observe({"sharpe": 50.0})
    assert score(obj, probe) != first


def test_non_finite_observations_are_skipped_but_counted() -> None:
    obj = weighted({"weights": {"profit_factor": 1.0}, "refresh": 5})
    values = [1.0, INF, 2.0, NAN, 3.0]
    for v in values:
        obj.observe({"profit_factor": v})
    assert obj.bounds()["profit_factor"] == tuple(np.percentile([1.0, 2.0, 3.0], [5, 95]))


def test_too_little_spread_keeps_the_previous_bounds() -> None:
    obj = weighted({"weights": {"sharpe": 1.0, "calmar": 1.0}, "refresh": 4})
    for v in (0.5, 0.5, 0.5, 2.0):
        obj.observe({"sharpe": v, "calmar": 7.0 if v == 2.0 else NAN})
    # sharpe: the 5th and 95th percentiles differ, so they replace the default;
    # calmar: one value only, the default stays
    assert obj.bounds()["sharpe"] == tuple(np.percentile([0.5, 0.5, 0.5, 2.0], [5, 95]))
    assert obj.bounds()["calmar"] == DEFAULT_BOUNDS["calmar"]
    for _ in range(4):
        obj.observe({"sharpe": 0.5, "calmar": 7.0})
    # calmar now has [7, 7, 7, 7, 7]: still no spread, still the default
    assert obj.bounds()["calmar"] == DEFAULT_BOUNDS["calmar"]


def test_metric_without_default_is_neutral_until_the_first_refresh() -> None:
    obj = weighted({"weights": {"trades": 1.0}, "refresh": 3})
    assert obj.bounds() == {"trades": None}
    assert obj.values({"trades": 500.0}).components["trades.norm"] == 0.5
    for n in (10.0, 20.0, 30.0):
        obj.observe({"trades": n})
    assert obj.bounds()["trades"] == (11.0, 29.0)
    assert obj.values({"trades": 20.0}).components["trades.norm"] == pytest.approx(0.5)
    assert obj.values({"trades": 500.0}).components["trades.norm"] == 1.0


def test_same_observations_give_the_same_scores() -> None:
    a, b = (weighted({"weights": SEED_000, "refresh": 5}) for _ in range(2))
    rng = np.random.default_rng(3)
    for _ in range(23):
        m = {k: float(v) for k, v in zip(SEED_000, rng.uniform(0, 2, 4), strict=True)}
        assert a.values(m) == b.values(m)
        a.observe(m)
        b.observe(m)
    assert a.bounds() == b.bounds()


def test_state_round_trip_through_json() -> None:
    obj = weighted({"weights": {"sharpe": 0.5, "max_drawdown": -0.5}, "refresh": 6})
    seq = _sequence(40)
    for m in seq[:15]:
        obj.observe(m)
    text = json.dumps(obj.state_dict(), allow_nan=False)

    resumed = weighted({"weights": {"sharpe": 0.5, "max_drawdown": -0.5}, "refresh": 6})
    resumed.load_state(json.loads(text))
    assert resumed.bounds() == obj.bounds()
    for m in seq[15:]:
        obj.observe(m)
        resumed.observe(m)
        assert resumed.bounds() == obj.bounds()
        assert resumed.values(m) == obj.values(m)
    restored = ScoreNormalizer.from_state(json.loads(json.dumps(obj.state_dict())))
    assert restored.bounds() == obj.bounds() and restored.n_observed == 40


@pytest.mark.parametrize(
    ("raw", "state", "message"),
    [
        (
            {"weights": {"sharpe": 1.0}, "refresh": 6},
            "other",
            "objective: the study was started with other normalization settings",
        ),
        ({"weights": {"sharpe": 1.0}}, {"version": 1}, "objective: cannot restore"),
        ("sharpe", "same", "objective: the study holds the normalization state"),
        (
            {"weights": {"sharpe": 1.0}, "normalize": "fixed"},
            "same",
            "objective: the study holds the normalization state",
        ),
    ],
)
def test_load_state_refuses_another_objective(raw: Any, state: Any, message: str) -> None:
    source = weighted({"weights": {"sharpe": 1.0}})
    if state == "same":
        state = source.state_dict()
    elif state == "other":
        state = weighted({"weights": {"sharpe": 1.0}, "refresh": 7}).state_dict()
    with pytest.raises(ConfigError, match=f"^{message}"):
        parse_objective(raw).load_state(state)


def test_empty_state_is_a_no_op() -> None:
    for raw in ("sharpe", {"weights": {"sharpe": 1.0}}):
        obj = parse_objective(raw)
        obj.load_state({})
        obj.observe({"sharpe": 1.0})  # harmless on every objective


def test_from_state_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="not a ScoreNormalizer state"):
        ScoreNormalizer.from_state({"version": 99})


# -- describe ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("sharpe", "maximize sharpe"),
        ({"metric": "max_drawdown"}, "minimize max_drawdown"),
        (
            {"weights": SEED_000},
            "maximize 0.3*sharpe + 0.25*profit_factor + 0.25*calmar - 0.2*max_drawdown "
            "(adaptive normalization: percentiles 5-95 of completed trials, refreshed every 20)",
        ),
        (
            {"weights": {"sharpe": 1}, "normalize": "fixed"},
            "maximize 1*sharpe (fixed normalization bounds)",
        ),
        (
            {"weights": {"max_drawdown": -1}, "normalize": "none"},
            "maximize - 1*max_drawdown (raw values, no normalization)",
        ),
    ],
)
def test_describe(raw: Any, text: str) -> None:
    obj = parse_objective(raw)
    assert obj.describe() == text == str(obj)


# -- property: a better metric never lowers the score ------------------------------------
_WEIGHTABLE = sorted(DEFAULT_BOUNDS)
_value = st.floats(-10.0, 10.0) | st.sampled_from([INF, -INF, 0.0, 0.5])


@st.composite
def _weights(draw: st.DrawFn) -> dict[str, float]:
    ids = draw(st.lists(st.sampled_from(_WEIGHTABLE), min_size=1, max_size=5, unique=True))
    out: dict[str, float] = {}
    for m in ids:
        w = draw(st.floats(0.01, 2.0))
        out[m] = w if get_metric(m).higher_is_better or draw(st.booleans()) else -w
    return out


@settings(max_examples=200, deadline=None)
@given(
    weights=_weights(),
    history=st.lists(st.floats(-5.0, 5.0), min_size=0, max_size=30),
    base=st.lists(_value, min_size=5, max_size=5),
    improved=_value,
    which=st.integers(0, 4),
    mode=st.sampled_from(["adaptive", "none"]),
)
def test_improving_one_metric_never_lowers_the_score(
    weights: dict[str, float],
    history: list[float],
    base: list[float],
    improved: float,
    which: int,
    mode: str,
) -> None:
    raw: dict[str, Any] = {"weights": weights, "normalize": mode}
    if mode == "adaptive":
        raw["refresh"] = 3
    obj = weighted(raw)
    ids = list(weights)
    for i, h in enumerate(history):  # move the bounds around, then keep them fixed
        obj.observe({m: h * (1 + j) + i % 4 for j, m in enumerate(ids)})
    metrics = {m: base[j % 5] for j, m in enumerate(ids)}
    target = ids[which % len(ids)]
    old = metrics[target]
    better = max(old, improved) if get_metric(target).higher_is_better else min(old, improved)
    before = obj.values(metrics).values
    after = obj.values({**metrics, target: better}).values
    if before is None or after is None:  # only "none" mode, with an infinite value
        assert mode == "none"
        return
    assert after[0] >= before[0]

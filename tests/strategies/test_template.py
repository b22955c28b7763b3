from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from stratopt.backtest import backtest, evaluate_many
from stratopt.data import synthetic_bars
from stratopt.engine import ExecSettings, Signal
from stratopt.metrics import METRICS
from stratopt.strategies import (
    BUILTIN_STRATEGIES,
    ChoiceParam,
    FloatParam,
    IntParam,
    SmaCross,
    Strategy,
    _plan,
    above,
    below,
    crosses_above,
    ema,
    on,
    rsi,
    sma,
    trace_template,
)


@pytest.fixture(autouse=True)
def _templates_for_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    # these tests' calls are small: trace templates for them too
    monkeypatch.setattr(_plan, "_TEMPLATE_FROM", 1)


class Lagged(Strategy):
    """Number parameters in a nested indicator, a level and a shift; a choice that
    changes the rules' shape."""

    name = "lagged"
    vectorized = True
    window = IntParam(10, low=2)
    smooth = IntParam(3, low=1)
    level = FloatParam(50.0, low=0.0, high=100.0)
    lag = IntParam(1, low=0, high=5)
    side = ChoiceParam("both", ("both", "long"))

    def rules(self, p: dict[str, Any]) -> list[Any]:
        r = ema(rsi("close", p["window"]), p["smooth"])
        rules = [on(above(r, p["level"], shift=p["lag"]), Signal.LONG)]
        if p["side"] == "both":
            rules.append(on(crosses_above(sma("close", p["window"]), "close"), Signal.SHORT))
        return rules


class Doubled(SmaCross):
    """Declared vectorized, but its slow window is arithmetic on a parameter."""

    name = "doubled"
    vectorized = True

    def rules(self, p: dict[str, Any]) -> list[Any]:
        return list(super().rules({**p, "slow": 2 * p["slow"]}))


class HalfDoubled(SmaCross):
    """A template in reversal mode only: long_only doubles its slow window."""

    name = "half_doubled"
    vectorized = True

    def rules(self, p: dict[str, Any]) -> list[Any]:
        slow = p["slow"] * (2 if p["mode"] == "long_only" else 1)
        return list(super().rules({**p, "slow": slow}))


class Inherits(SmaCross):
    """Its own rules, not declared vectorized: the parent's declaration does not pass."""

    def rules(self, p: dict[str, Any]) -> list[Any]:
        return list(super().rules(p))


class Chosen(Strategy):
    """Its rules read the instance's own state."""

    name = "chosen"
    vectorized = True
    window = IntParam(10, low=2)

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def rules(self, p: dict[str, Any]) -> list[Any]:
        line = (sma if self.kind == "sma" else ema)("close", p["window"])
        return [on(crosses_above("close", line), Signal.LONG),
                on(crosses_above(line, "close"), Signal.SHORT)]  # fmt: skip


def _same_as_backtests(strategy: Any, cands: list[dict[str, Any]], n: int = 700) -> None:
    bars = synthetic_bars(n, seed=5)
    settings = ExecSettings(commission=0.001)
    batch = evaluate_many(bars, strategy, cands, settings, max_indicator_bytes=3 * 8 * n)
    for k, params in enumerate(cands):
        got = batch.metrics.iloc[k].to_numpy()
        if batch.errors[k] is not None:
            assert np.isnan(got).all()
            continue
        single = backtest(bars, strategy, params, settings).metrics
        want = np.array([single[m.id] for m in METRICS])
        assert got.tobytes() == want.tobytes(), (strategy, params)


_BUILTIN_CANDIDATES: dict[str, list[dict[str, Any]]] = {
    "sma_cross": [{"fast": f, "slow": s} for f in (3, 8.0) for s in (8, 21)],
    "ema_cross": [{"fast": f, "slow": 30, "mode": "long_only"} for f in (4, 9)],
    "rsi_reversion": [{"period": p, "lower": lo, "mode": m}
                      for p in (7, 14) for lo in (25, 35.5) for m in ("reversal", "long_only")],
    "bollinger_reversion": [{"window": w, "k": k} for w in (10, 20) for k in (1, 2.5)],
    "donchian_breakout": [{"window": w, "exit_window": x, "mode": m}
                          for w in (5, 10) for x in (5, 10) for m in ("reversal", "long_only")],
    "macd": [{"fast": 5, "slow": s, "signal": g} for s in (20, 26) for g in (5, 9)],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(BUILTIN_STRATEGIES))
def test_builtins_trace_and_give_the_one_candidate_bits(name: str) -> None:
    strat = BUILTIN_STRATEGIES[name]()
    if not strat.uses_rules:
        pytest.skip("no rules")
    assert strat.vectorized
    choices = {k: p.default for k, p in strat.parameters.items() if p.kind == "choice"}
    assert trace_template(strat, choices) is not None
    _same_as_backtests(name, _BUILTIN_CANDIDATES[name])


def test_slots_in_nested_indicators_levels_and_shifts() -> None:
    assert trace_template(Lagged(), {"side": "both"}) is not None
    cands = [{"window": w, "smooth": s, "level": lv, "lag": g, "side": side}
             for w in (5, 9) for s in (1, 4) for lv in (40, 55.5) for g in (0, 2)
             for side in ("both", "long")]  # fmt: skip
    _same_as_backtests(Lagged, [*cands, {"lag": 9}])


def test_arithmetic_on_a_parameter_is_refused_and_runs_one_by_one() -> None:
    assert trace_template(Doubled(), {"mode": "reversal"}) is None
    _same_as_backtests(Doubled, [{"fast": f, "slow": s} for f in (3, 7) for s in (10, 30)])
    # one choice from its template, the other one by one: joined in position order
    assert trace_template(HalfDoubled(), {"mode": "reversal"}) is not None
    assert trace_template(HalfDoubled(), {"mode": "long_only"}) is None
    cands = [{"fast": f, "slow": 30, "mode": m}
             for f in (3, 7, 5) for m in ("long_only", "reversal")]  # fmt: skip
    _same_as_backtests(HalfDoubled, cands)


def test_a_subclass_with_its_own_rules_is_not_vectorized() -> None:
    assert SmaCross.vectorized
    assert not Inherits.vectorized


def test_builtin_templates_are_kept_across_calls_and_user_ones_traced_again() -> None:
    """A built-in's template (and the indicators made from it) serve later calls with
    other windows; a user strategy, whose rules may read its own state, is traced on
    every call."""
    _same_as_backtests("sma_cross", [{"fast": f, "slow": 30} for f in (3, 9)])
    _same_as_backtests("sma_cross", [{"fast": f, "slow": 21, "mode": m} for f in (4, 9)
                                     for m in ("long_only", "reversal")])  # fmt: skip
    _same_as_backtests(Chosen("sma"), [{"window": w} for w in (5, 12)])
    _same_as_backtests(Chosen("ema"), [{"window": w} for w in (5, 12)])


class Anchored(Strategy):
    """A slot's indicator that equals a fixed one for some candidates (window 20)."""

    name = "anchored"
    vectorized = True
    window = IntParam(10, low=2)

    def rules(self, p: dict[str, Any]) -> list[Any]:
        line, anchor = sma("close", p["window"]), sma("close", 20)
        return [on(crosses_above(line, anchor), Signal.LONG),
                on(crosses_above(anchor, line), Signal.SHORT)]  # fmt: skip


def test_an_indicator_both_fixed_and_filled_is_one_row() -> None:
    """The template's fixed sma(close, 20) and the window-20 candidates' filled one are
    one row of the call, and every candidate gets its one-candidate bits."""
    cands = [{"window": w} for w in (5, 20, 30, 20)]
    errors: list[str | None] = [None] * len(cands)
    _, plans = _plan.plan_candidates(Anchored(), cands, errors, [False] * len(cands))
    assert errors == [None] * len(cands)
    assert len(set(plans.keys)) == len(plans.keys) == 3
    _same_as_backtests(Anchored, cands)


class Against(Strategy):
    """A choice that changes what a rule reads: a level, or a second row."""

    name = "against"
    vectorized = True
    window = IntParam(10, low=2)
    slow = IntParam(30, low=2)
    against = ChoiceParam("row", ("row", "level"))

    def rules(self, p: dict[str, Any]) -> list[Any]:
        line = sma("close", p["window"])
        other: Any = sma("close", p["slow"]) if p["against"] == "row" else 100.0
        return [on(above(line, other), Signal.LONG), on(below(line, other), Signal.SHORT)]


@pytest.mark.parametrize("first", ["row", "level"])
def test_templates_of_other_shapes_in_one_call(first: str) -> None:
    """Two choices, two templates whose rules read different places: each candidate's
    rows are its own (whichever comes first)."""
    other = "level" if first == "row" else "row"
    cands = [{"window": w, "slow": s, "against": a}
             for w, s in ((5, 30), (12, 40)) for a in (first, other)]  # fmt: skip
    errors: list[str | None] = [None] * len(cands)
    _, plans = _plan.plan_candidates(Against(), cands, errors, [False] * len(cands))
    assert errors == [None] * len(cands)
    assert not plans.one_shape
    _same_as_backtests(Against, cands)


class Raising(SmaCross):
    """Its rules raise for some candidates (after the template's trace)."""

    name = "raising"
    vectorized = True

    def rules(self, p: dict[str, Any]) -> list[Any]:
        if p["fast"] == 7:
            raise RuntimeError("no 7")
        return list(super().rules(p))


@pytest.mark.parametrize(
    ("strategy", "cands"),
    [
        (Lagged(), [{"window": w, "side": s} for w in (5, 9, 14) for s in ("both", "long")]),
        (HalfDoubled(), [{"fast": 3, "slow": 9, "mode": m} for m in ("reversal", "long_only")]),
        (Anchored(), [{"window": w} for w in (5, 20, 30, 20)]),
        (Raising(), [{"fast": f, "slow": 9} for f in (3, 7, 12, 5)]),  # 12: refused
        (Raising(), [{"fast": 7, "slow": 9}]),  # no candidate planned
    ],
)
def test_every_row_a_call_numbers_is_read_by_one_of_its_plans(
    strategy: Strategy, cands: list[dict[str, Any]]
) -> None:
    """`evaluate_many` runs a call's one group of plans on rows 0..len(keys)-1 without
    gathering the plans' ids: no row is numbered that no plan reads (a refused or
    raising candidate numbers none)."""
    n = len(cands)
    for template_from in (1, 100):  # from templates, then one by one
        _plan._TEMPLATE_FROM = template_from
        _, plans = _plan.plan_candidates(strategy, cands, [None] * n, [False] * n)
        ids = plans.ids[plans.ids >= 0]
        assert np.unique(ids).tolist() == list(range(len(plans.keys)))

"""The hedge_grid strategy: its parameters, its regime and the indicators behind it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stratopt.data import Bars, synthetic_bars
from stratopt.errors import StrategyError
from stratopt.strategies import (
    BUILTIN_STRATEGIES,
    GridStrategy,
    HedgeGrid,
    IndicatorCache,
    adx,
    atr,
    ema,
    get_strategy,
)
from stratopt.strategies._trend_nb import regime_sides_nb

SEED_PARAMS = (
    "grid_step_bps",
    "grid_levels_long",
    "grid_levels_short",
    "base_qty",
    "qty_scale",
    "tp_steps",
    "sl_steps",
    "recenter_trigger_bps",
    "max_inventory_quote",
    "funding_window_minutes",
    "funding_max_cost_bps",
    "adx_len",
    "ema_fast",
    "ema_slow",
    "atr_len",
    "hysteresis_bps",
    "max_leverage_used",
)


def test_hedge_grid_is_built_in_with_the_seed_parameter_names() -> None:
    assert len(SEED_PARAMS) == 17
    strat = get_strategy("hedge_grid")
    assert isinstance(strat, GridStrategy) and BUILTIN_STRATEGIES["hedge_grid"] is HedgeGrid
    assert set(SEED_PARAMS) <= set(strat.parameters)
    p = strat.resolve({})
    ladder = strat.grid_params(p)
    for name in SEED_PARAMS:
        if hasattr(ladder, name):
            assert getattr(ladder, name) == p[name], name


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"grid_step_bps": -5.0}, "'grid_step_bps' must be > 0, got -5.0"),
        ({"grid_step_bps": 0}, "'grid_step_bps' must be > 0"),
        ({"grid_levels_long": 0}, "'grid_levels_long' must be >= 1, got 0"),
        ({"grid_levels_short": 0}, "'grid_levels_short' must be >= 1"),
        ({"base_qty": 0.0}, "'base_qty' must be > 0"),
        ({"qty_scale": -1.0}, "'qty_scale' must be > 0"),
        ({"tp_steps": 0.0}, "'tp_steps' must be > 0"),
        ({"sl_steps": -1.0}, "'sl_steps' must be >= 0.0"),
        ({"mode": "sideways"}, "'mode' must be one of"),
    ],
)
def test_bad_parameters_name_the_field(params: dict[str, object], message: str) -> None:
    with pytest.raises(StrategyError, match=message.replace("(", r"\(").replace(")", r"\)")):
        HedgeGrid().resolve(params)


def test_a_grid_strategy_has_no_signals() -> None:
    bars = synthetic_bars(50, seed=1)
    strat = HedgeGrid()
    with pytest.raises(StrategyError, match="grid of lots"):
        strat.signals(bars, strat.resolve({}), IndicatorCache(bars))


def _plain_atr(h: list[float], lo: list[float], c: list[float], n: int) -> list[float]:
    tr = [h[0] - lo[0]] + [
        max(h[i] - lo[i], abs(h[i] - c[i - 1]), abs(lo[i] - c[i - 1])) for i in range(1, len(c))
    ]
    out = [math.nan] * len(c)
    value = sum(tr[:n]) / n
    out[n - 1] = value
    for i in range(n, len(c)):
        value = (value * (n - 1) + tr[i]) / n
        out[i] = value
    return out


def _plain_adx(h: list[float], lo: list[float], c: list[float], n: int) -> list[float]:
    """Wilder's ADX written out from its definition (New Concepts, 1978)."""
    tr, pdm, ndm = [], [], []
    for i in range(1, len(c)):
        up, down = h[i] - h[i - 1], lo[i - 1] - lo[i]
        pdm.append(up if up > down and up > 0 else 0.0)
        ndm.append(down if down > up and down > 0 else 0.0)
        tr.append(max(h[i] - lo[i], abs(h[i] - c[i - 1]), abs(lo[i] - c[i - 1])))
    s = [sum(tr[:n]), sum(pdm[:n]), sum(ndm[:n])]
    dx = []
    for k in range(n - 1, len(tr)):
        if k >= n:
            s = [s[0] - s[0] / n + tr[k], s[1] - s[1] / n + pdm[k], s[2] - s[2] / n + ndm[k]]
        pdi, ndi = 100 * s[1] / s[0], 100 * s[2] / s[0]
        dx.append(100 * abs(pdi - ndi) / (pdi + ndi) if pdi + ndi else 0.0)
    out = [math.nan] * len(c)
    value = sum(dx[:n]) / n
    out[2 * n - 1] = value
    for k in range(n, len(dx)):
        value = (value * (n - 1) + dx[k]) / n
        out[k + n] = value
    return out


@pytest.mark.parametrize("window", [1, 3, 14])
def test_atr_and_adx_follow_wilder(window: int) -> None:
    bars = synthetic_bars(300, seed=window)
    cache = IndicatorCache(bars)
    h, lo, c = bars.high.tolist(), bars.low.tolist(), bars.close.tolist()
    np.testing.assert_allclose(cache.get(atr(window)), _plain_atr(h, lo, c, window), rtol=1e-12)
    got = cache.get(adx(window))
    want = _plain_adx(h, lo, c, window)
    np.testing.assert_allclose(got, want, rtol=1e-9)
    assert np.isnan(got[: 2 * window - 1]).all() and not np.isnan(got[2 * window - 1 :]).any()
    assert ((got[2 * window - 1 :] >= 0) & (got[2 * window - 1 :] <= 100 + 1e-9)).all()


def _trend_bars(steps: list[float]) -> Bars:
    c = 100 * np.cumprod(1 + np.array(steps))
    o = np.r_[100.0, c[:-1]]
    h = np.maximum(o, c) * 1.001
    lo = np.minimum(o, c) * 0.999
    time = np.datetime64("2022-01-01T00:00", "ns") + np.arange(c.size) * np.timedelta64(1, "h")
    return Bars(time=time, open=o, high=h, low=lo, close=c, volume=np.zeros(c.size))


def test_the_regime_picks_the_ladders() -> None:
    # a rise, a flat stretch, a fall: UP -> short ladder, SIDEWAYS -> both, DOWN -> long
    steps = [0.004] * 120 + [0.0005, -0.0005] * 60 + [-0.004] * 120
    bars = _trend_bars(steps)
    strat = HedgeGrid()
    p = strat.resolve({"ema_fast": 5, "ema_slow": 20, "adx_len": 7, "atr_len": 7})
    sides = strat.sides(bars, p, IndicatorCache(bars))
    assert (sides[:19] == 0).all()  # warm-up: nothing trades
    assert (sides[60:120] == 2).all()
    assert (sides[200:240] == 3).all()
    assert (sides[300:] == 1).all()
    for mode, want in (("neutral", 3), ("long", 1), ("short", 2)):
        fixed = strat.sides(bars, strat.resolve({"mode": mode}), IndicatorCache(bars))
        assert (fixed == want).all()


def test_hysteresis_holds_a_regime_inside_its_band() -> None:
    n = 6
    close = np.full(n, 100.0)
    atr_ = np.full(n, 1.0)
    adx_ = np.full(n, 30.0)
    slow = np.zeros(n)
    # spread: enters UP above atr + band (1.5), stays while above atr - band (0.5)
    spread = np.array([0.0, 1.6, 0.9, 0.6, 0.4, 1.2])
    sides = regime_sides_nb(close, spread, slow, atr_, adx_, 50.0)
    assert sides.tolist() == [3, 2, 2, 2, 3, 3]
    # without hysteresis the same path flips back at once
    sides = regime_sides_nb(close, spread, slow, atr_, adx_, 0.0)
    assert sides.tolist() == [3, 2, 3, 3, 3, 2]
    # a weak trend (ADX below 25) is never a regime
    assert (regime_sides_nb(close, spread, slow, atr_, np.full(n, 20.0), 0.0) == 3).all()


def test_sides_keys_share_rows_between_candidates() -> None:
    strat = HedgeGrid()
    a = strat.resolve({"grid_step_bps": 10.0})
    b = strat.resolve({"grid_step_bps": 90.0, "tp_steps": 2.0})
    c = strat.resolve({"ema_fast": 7})
    assert strat.sides_key(a) == strat.sides_key(b) != strat.sides_key(c)
    assert strat.sides_key(strat.resolve({"mode": "long"})) == "long"
    bars = synthetic_bars(200, seed=3)
    cache = IndicatorCache(bars)
    strat.sides(bars, c, cache)
    assert cache.get(ema("close", 7)) is cache.get(ema("close", 7))

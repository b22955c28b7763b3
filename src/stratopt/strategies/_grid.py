"""Grid strategies: a ladder of resting orders instead of signals (docs/grid.md).

A `GridStrategy` gives the grid engine two things per parameter set: the ladder
(`grid_params`) and the sides that may trade at each bar (`sides`), computed from data
up to each bar's close. `HedgeGrid` is the built-in one, with the seed study's 17
parameter names.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np

from stratopt.data import Bars
from stratopt.engine.grid import MAX_GRID_LEVELS, GridParams
from stratopt.errors import ConfigError, StrategyError
from stratopt.strategies import _trend_nb
from stratopt.strategies._base import Strategy
from stratopt.strategies._indicators import IndicatorCache, adx, atr, ema
from stratopt.strategies._params import ChoiceParam, FloatParam, IntParam

__all__ = ["GRID_MODES", "GridStrategy", "HedgeGrid"]

GRID_MODES = ("regime", "neutral", "long", "short")
_SIDES = {"neutral": 3, "long": 1, "short": 2}


class GridStrategy(Strategy):
    """Base of strategies that trade a ladder of lots (run by the grid engine)."""

    def grid_params(self, p: dict[str, Any]) -> GridParams:
        """The ladder of parameters `p`."""
        raise NotImplementedError

    def sides(self, bars: Bars, p: dict[str, Any], cache: IndicatorCache) -> np.ndarray:
        """int8[n]: the sides that may trade after each bar's close (bit 1 long, bit 2
        short), from data up to that close."""
        raise NotImplementedError

    def sides_key(self, p: dict[str, Any]) -> Hashable:
        """Equal keys mean equal `sides` (candidates then share one row)."""
        return tuple(sorted(p.items()))

    def signals(self, bars: Bars, p: dict[str, Any], cache: IndicatorCache) -> np.ndarray:
        raise StrategyError(
            f"strategy {self.name!r} trades a grid of lots, not signals; run it through "
            "the grid engine (stratopt.grid)"
        )


def _positive(p: dict[str, Any], *names: str) -> None:
    for name in names:
        if not p[name] > 0:
            raise StrategyError(f"parameter {name!r} must be > 0, got {p[name]!r}")


class HedgeGrid(GridStrategy):
    """Hedge-mode grid: buy levels below and sell levels above a center, each filled
    level a lot with its own take-profit and stop, steered by a trend regime.

    Regime UP trades the short ladder only, DOWN the long ladder only, SIDEWAYS both
    (`mode: regime`); `neutral`, `long` and `short` fix the sides.
    """

    name = "hedge_grid"
    grid_step_bps = FloatParam(50.0, doc="distance between levels, bps of the center (> 0)")
    grid_levels_long = IntParam(10, low=1, high=MAX_GRID_LEVELS, doc="buy levels below")
    grid_levels_short = IntParam(10, low=1, high=MAX_GRID_LEVELS, doc="sell levels above")
    base_qty = FloatParam(0.01, doc="quantity of level 1, units of the asset (> 0)")
    qty_scale = FloatParam(1.0, doc="level k trades base_qty * qty_scale**(k-1) (> 0)")
    tp_steps = FloatParam(1.0, doc="take-profit distance, grid steps (> 0)")
    sl_steps = FloatParam(5.0, low=0.0, doc="stop distance, grid steps (0: no stop)")
    recenter_trigger_bps = FloatParam(300.0, low=0.0, doc="rebuild when the price moved this far")
    max_inventory_quote = FloatParam(0.0, low=0.0, doc="per-side notional cap (0: none)")
    funding_window_minutes = FloatParam(0.0, low=0.0, doc="funding guard window (0: off)")
    funding_max_cost_bps = FloatParam(1.0, low=0.0, doc="suspend the paying side above this")
    adx_len = IntParam(14, low=1, doc="ADX window, bars")
    ema_fast = IntParam(20, low=1, doc="fast EMA, bars")
    ema_slow = IntParam(50, low=1, doc="slow EMA, bars")
    atr_len = IntParam(14, low=1, doc="ATR window, bars")
    hysteresis_bps = FloatParam(10.0, low=0.0, doc="regime band, bps of the close")
    max_leverage_used = FloatParam(0.0, low=0.0, doc="gross notional / equity cap (0: none)")
    mode = ChoiceParam("regime", GRID_MODES, doc="regime, neutral, long or short")
    spacing = ChoiceParam("arithmetic", ("arithmetic", "geometric"), doc="ladder spacing")

    def validate(self, p: dict[str, Any]) -> None:
        _positive(p, "grid_step_bps", "base_qty", "qty_scale", "tp_steps")

    def grid_params(self, p: dict[str, Any]) -> GridParams:
        try:
            return GridParams(
                grid_step_bps=p["grid_step_bps"],
                grid_levels_long=p["grid_levels_long"],
                grid_levels_short=p["grid_levels_short"],
                base_qty=p["base_qty"],
                qty_scale=p["qty_scale"],
                tp_steps=p["tp_steps"],
                sl_steps=p["sl_steps"],
                recenter_trigger_bps=p["recenter_trigger_bps"],
                max_inventory_quote=p["max_inventory_quote"],
                max_leverage_used=p["max_leverage_used"],
                geometric=p["spacing"] == "geometric",
                funding_window_minutes=p["funding_window_minutes"],
                funding_max_cost_bps=p["funding_max_cost_bps"],
            )
        except ConfigError as exc:
            raise StrategyError(f"parameter {exc}") from None

    def sides_key(self, p: dict[str, Any]) -> Hashable:
        if p["mode"] != "regime":
            return str(p["mode"])
        keys = ("adx_len", "ema_fast", "ema_slow", "atr_len", "hysteresis_bps")
        return tuple(p[k] for k in keys)

    def sides(self, bars: Bars, p: dict[str, Any], cache: IndicatorCache) -> np.ndarray:
        if p["mode"] != "regime":
            return np.full(len(bars), _SIDES[p["mode"]], dtype=np.int8)
        return np.asarray(
            _trend_nb.regime_sides_nb(
                bars.close,
                cache.get(ema("close", p["ema_fast"])),
                cache.get(ema("close", p["ema_slow"])),
                cache.get(atr(p["atr_len"])),
                cache.get(adx(p["adx_len"])),
                float(p["hysteresis_bps"]),
            )
        )

"""Built-in strategies. Each is a few rules over cached indicators."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stratopt.engine import Signal
from stratopt.errors import StrategyError
from stratopt.strategies._base import Strategy
from stratopt.strategies._indicators import bollinger, ema, highest, lowest, macd, rsi, sma
from stratopt.strategies._params import ChoiceParam, FloatParam, IntParam
from stratopt.strategies._rules import (
    Rule,
    above,
    below,
    crosses_above,
    crosses_below,
    on,
)

__all__ = [
    "BollingerReversion",
    "DonchianBreakout",
    "EmaCross",
    "Macd",
    "RsiReversion",
    "SmaCross",
]

_MODES = ("reversal", "long_only")
_MODE_DOC = "reversal: always in, long or short; long_only: long or flat"


def _down_signal(p: dict[str, Any]) -> Signal:
    return Signal.SHORT if p["mode"] == "reversal" else Signal.EXIT


def _require_less(p: dict[str, Any], small: str, large: str) -> None:
    if not p[small] < p[large]:
        raise StrategyError(f"parameter {small!r} ({p[small]}) must be < {large!r} ({p[large]})")


class SmaCross(Strategy):
    """Long when the fast SMA crosses above the slow one; short (or flat) on the way down."""

    name = "sma_cross"
    vectorized = True
    fast = IntParam(10, low=1, doc="fast SMA window, bars")
    slow = IntParam(20, low=2, doc="slow SMA window, bars")
    mode = ChoiceParam("reversal", _MODES, doc=_MODE_DOC)

    def validate(self, p: dict[str, Any]) -> None:
        if not p["fast"] < p["slow"]:  # tested here: a call fewer per candidate of a sweep
            _require_less(p, "fast", "slow")

    def rules(self, p: dict[str, Any]) -> Sequence[Rule]:
        f, s = sma("close", p["fast"]), sma("close", p["slow"])
        return [on(crosses_above(f, s), Signal.LONG), on(crosses_below(f, s), _down_signal(p))]


class EmaCross(SmaCross):
    """SMA cross with exponential moving averages."""

    name = "ema_cross"
    vectorized = True

    def rules(self, p: dict[str, Any]) -> Sequence[Rule]:
        f, s = ema("close", p["fast"]), ema("close", p["slow"])
        return [on(crosses_above(f, s), Signal.LONG), on(crosses_below(f, s), _down_signal(p))]


class RsiReversion(Strategy):
    """Buy oversold, sell overbought; leave when RSI crosses back through `exit`."""

    name = "rsi_reversion"
    vectorized = True
    period = IntParam(14, low=2, doc="RSI window, bars")
    lower = FloatParam(30.0, low=0.0, high=100.0, doc="enter long when RSI crosses below")
    upper = FloatParam(70.0, low=0.0, high=100.0, doc="enter short when RSI crosses above")
    exit = FloatParam(50.0, low=0.0, high=100.0, doc="close when RSI crosses back through")
    mode = ChoiceParam("reversal", _MODES, doc="reversal: long and short; long_only: no shorts")

    def validate(self, p: dict[str, Any]) -> None:
        if not p["lower"] <= p["exit"] <= p["upper"]:
            raise StrategyError(
                f"parameters must satisfy lower <= exit <= upper, got lower={p['lower']}, "
                f"exit={p['exit']}, upper={p['upper']}"
            )

    def rules(self, p: dict[str, Any]) -> Sequence[Rule]:
        r = rsi("close", p["period"])
        rules = [
            on(crosses_below(r, p["lower"]), Signal.LONG),
            on(crosses_above(r, p["exit"]), Signal.EXIT_LONG),
        ]
        if p["mode"] == "reversal":
            rules += [
                on(crosses_above(r, p["upper"]), Signal.SHORT),
                on(crosses_below(r, p["exit"]), Signal.EXIT_SHORT),
            ]
        return rules


class BollingerReversion(Strategy):
    """Buy a close below the lower band, short one above the upper; exit at the middle."""

    name = "bollinger_reversion"
    vectorized = True
    window = IntParam(20, low=2, doc="band window, bars")
    k = FloatParam(2.0, low=0.0, doc="band width in standard deviations")
    mode = ChoiceParam("reversal", _MODES, doc="reversal: long and short; long_only: no shorts")

    def rules(self, p: dict[str, Any]) -> Sequence[Rule]:
        w, k = p["window"], p["k"]
        lo, mid, up = (bollinger("close", w, k, band) for band in (-1, 0, 1))
        rules = [
            on(crosses_below("close", lo), Signal.LONG),
            on(crosses_above("close", mid), Signal.EXIT_LONG),
        ]
        if p["mode"] == "reversal":
            rules += [
                on(crosses_above("close", up), Signal.SHORT),
                on(crosses_below("close", mid), Signal.EXIT_SHORT),
            ]
        return rules


class DonchianBreakout(Strategy):
    """Long on a close above the prior `window`-bar high; out below the prior `exit_window` low."""

    name = "donchian_breakout"
    vectorized = True
    window = IntParam(20, low=1, doc="entry channel, bars (previous bars only)")
    exit_window = IntParam(10, low=1, doc="exit channel, bars (previous bars only)")
    mode = ChoiceParam("reversal", _MODES, doc="reversal: long and short; long_only: no shorts")

    def rules(self, p: dict[str, Any]) -> Sequence[Rule]:
        w, x = p["window"], p["exit_window"]
        rules = [
            on(above("close", highest("high", w), shift=1), Signal.LONG),
            on(below("close", lowest("low", x), shift=1), Signal.EXIT_LONG),
        ]
        if p["mode"] == "reversal":
            rules = [
                on(above("close", highest("high", w), shift=1), Signal.LONG),
                on(below("close", lowest("low", w), shift=1), Signal.SHORT),
                on(below("close", lowest("low", x), shift=1), Signal.EXIT_LONG),
                on(above("close", highest("high", x), shift=1), Signal.EXIT_SHORT),
            ]
        return rules


class Macd(Strategy):
    """Long when the MACD line crosses above its signal line; short (or flat) below."""

    name = "macd"
    vectorized = True
    fast = IntParam(12, low=1, doc="fast EMA, bars")
    slow = IntParam(26, low=2, doc="slow EMA, bars")
    signal = IntParam(9, low=1, doc="signal-line EMA of the MACD line, bars")
    mode = ChoiceParam("reversal", _MODES, doc=_MODE_DOC)

    def validate(self, p: dict[str, Any]) -> None:
        if not p["fast"] < p["slow"]:  # tested here: a call fewer per candidate of a sweep
            _require_less(p, "fast", "slow")

    def rules(self, p: dict[str, Any]) -> Sequence[Rule]:
        line = macd("close", p["fast"], p["slow"])
        sig = ema(line, p["signal"])
        return [
            on(crosses_above(line, sig), Signal.LONG),
            on(crosses_below(line, sig), _down_signal(p)),
        ]

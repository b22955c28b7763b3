"""A slow, plain-Python reference of the backtest engine (docs/engine.md in code).

This module is the contract of ``docs/engine.md`` written as straightforward Python:
one loop over the bars, plain floats, no vectorisation and no cleverness. The
compiled kernel in ``stratopt.engine`` is checked against it trade by trade
(``tests/engine/test_engine_vs_reference.py``), and the reference itself is checked
against hand-worked examples (``tests/engine/test_reference.py``).

Readings of the contract that the page leaves open are fixed here and marked
``Reading:`` in the comments:

* A trade's ``units`` is the (positive) number of units; the direction is ``side``.
* Sizing uses the *fill* price, i.e. after slippage.
* ``whole_units`` rounds only ``fraction`` and ``risk`` sizes (``units`` sizes are
  used as given). ``risk`` sizes are capped first, then rounded down.
* The pending instruction of ``next_open`` is applied to the position as it is at
  the open, after a pending ``max_bars`` exit: a ``LONG`` signal on the bar whose
  close scheduled a ``max_bars`` exit of a long re-enters long at the same open
  (two fills), exactly as in ``fill: close`` where the ``max_bars`` exit executes
  before the bar's signal.
* ``fill: close`` on the last bar: exit signals still execute (reason ``SIGNAL``);
  only entries are suppressed. A ``max_bars`` exit due at the last close executes
  as ``MAX_BARS``. With ``next_open`` the last bar's signal and a ``max_bars`` exit
  decided at the last close are never executed; the position is closed as ``END``.
  With ``next_open``, a signal on bar ``n-2`` still opens a position at
  ``open[n-1]`` (which is then closed as ``END`` unless a stop/target hits first).
* ``exposure[j]`` is 1 iff a position is held during bar ``j`` proper, i.e. when its
  intrabar stop/target checks run: with ``next_open``, a position is held right after
  the market fills at ``open[j]`` (so a position closed by a signal or ``max_bars`` at
  ``open[j]`` does not count, one stopped out during bar ``j`` or at its gapped open
  does); with ``close``, a position was held coming into bar ``j`` (one opened at
  ``close[j]`` does not count yet, one closed at ``close[j]`` does). Each trade thus
  adds ``exit_idx - entry_idx`` exposed bars, plus one if it is closed after the open
  fills of its exit bar (``next_open``: stop, target or ``END``).
* Touching is inclusive: a long's stop is hit when ``low <= stop``, its target when
  ``high >= target`` (mirrored for shorts); gaps likewise use ``<=`` / ``>=``.
* A position opened at ``open[j]`` (``next_open``) is checked against ``low[j]`` /
  ``high[j]`` only (no gap rule) and exits at the level even if the level lies on
  the wrong side of ``open[j]`` (possible with slippage larger than the stop).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol, SupportsFloat, SupportsInt

__all__ = [
    "END",
    "EXIT",
    "EXIT_LONG",
    "EXIT_SHORT",
    "LONG",
    "MAX_BARS",
    "NONE",
    "SHORT",
    "SIGNAL",
    "STOP_LOSS",
    "TAKE_PROFIT",
    "TRAILING_STOP",
    "RefResult",
    "RefSettings",
    "RefTrade",
    "SettingsLike",
    "simulate_reference",
]

# Signal codes (docs/engine.md, "Inputs").
NONE = 0
LONG = 1
SHORT = -1
EXIT = 2
EXIT_LONG = 3
EXIT_SHORT = 4

# Exit reasons (docs/engine.md, "Outputs").
SIGNAL = 0
STOP_LOSS = 1
TAKE_PROFIT = 2
TRAILING_STOP = 3
MAX_BARS = 4
END = 5


class SettingsLike(Protocol):
    """What the reference reads from the settings (``stratopt.engine.ExecSettings``)."""

    @property
    def cash(self) -> float: ...
    @property
    def commission(self) -> float: ...
    @property
    def commission_fixed(self) -> float: ...
    @property
    def slippage_bps(self) -> float: ...
    @property
    def fill(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def sizing(self) -> str: ...
    @property
    def size(self) -> float: ...
    @property
    def whole_units(self) -> bool: ...
    @property
    def max_leverage(self) -> float: ...
    @property
    def stop_loss(self) -> float | None: ...
    @property
    def take_profit(self) -> float | None: ...
    @property
    def trailing_stop(self) -> float | None: ...
    @property
    def max_bars(self) -> int | None: ...
    @property
    def holding_cost(self) -> float: ...


@dataclass(frozen=True)
class RefSettings:
    """A stand-in with the field names and defaults of ``stratopt.engine.ExecSettings``.

    Lets the reference be exercised without the engine (no validation here).
    """

    cash: float = 10_000.0
    commission: float = 0.0
    commission_fixed: float = 0.0
    slippage_bps: float = 0.0
    fill: str = "next_open"
    direction: str = "both"
    sizing: str = "fraction"
    size: float = 1.0
    whole_units: bool = False
    max_leverage: float = 1.0
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None
    max_bars: int | None = None
    holding_cost: float = 0.0


@dataclass(frozen=True)
class RefTrade:
    """One closed trade, with the fields of ``stratopt.engine.TRADE_DTYPE``."""

    entry_idx: int
    exit_idx: int
    side: int  # +1 long, -1 short
    units: float  # positive number of units
    entry_price: float
    exit_price: float
    pnl: float  # units * side * (exit_price - entry_price)
    fees: float  # entry fee + exit fee + holding costs
    ret: float  # (pnl - fees) / (units * entry_price)
    exit_reason: int


@dataclass
class RefResult:
    """Per-bar outputs (lists of length n) and the closed trades."""

    equity: list[float]
    returns: list[float]
    position: list[float]
    exposure: list[int]
    trades: list[RefTrade]
    final_equity: float


@dataclass
class _OpenTrade:
    """The position currently held (at most one at a time)."""

    entry_idx: int
    side: int
    units: float  # positive
    entry_price: float
    fees: float  # entry fee plus holding costs so far (the exit fee is added at exit)
    extreme: float  # best price seen since entry (highest high long / lowest low short)
    bars_held: int = 0


@dataclass
class _Simulator:
    """The state of one backtest; `run` walks the bars once."""

    open: list[float]
    high: list[float]
    low: list[float]
    close: list[float]
    signals: list[int]
    s: SettingsLike
    cash: float = 0.0
    trade: _OpenTrade | None = None
    trades: list[RefTrade] = field(default_factory=list)

    # ------------------------------------------------------------------ helpers

    def units_held(self) -> float:
        """Signed units held now (0 when flat)."""
        if self.trade is None:
            return 0.0
        return self.trade.side * self.trade.units

    def slipped(self, price: float, buy: bool) -> float:
        """Move a market/stop fill against the trader by ``price * bps / 1e4``."""
        adjustment = price * self.s.slippage_bps / 1e4
        return price + adjustment if buy else price - adjustment

    def fee(self, units: float, price: float) -> float:
        """Commission of one fill of ``units`` (positive) at ``price``."""
        return units * price * self.s.commission + self.s.commission_fixed

    def size_units(self, price: float, equity: float) -> float:
        """Positive number of units to open at fill ``price`` (0 = do not open)."""
        s = self.s
        if s.sizing == "fraction":
            units = (s.size * equity - s.commission_fixed) / (price * (1.0 + s.commission))
            if s.whole_units:
                units = float(math.floor(units))
        elif s.sizing == "units":
            # Reading: whole_units applies to fraction and risk only.
            units = float(s.size)
        elif s.sizing == "risk":
            if s.stop_loss is None:
                raise ValueError("sizing 'risk' needs stop_loss")
            units = s.size * equity / (price * s.stop_loss)
            max_units = s.max_leverage * equity / price
            if units > max_units:  # cap: notional <= max_leverage * equity
                units = max_units
            if s.whole_units:
                units = float(math.floor(units))
        else:
            raise ValueError(f"unknown sizing {s.sizing!r}")
        return units

    # ------------------------------------------------------------------- fills

    def enter(self, j: int, side: int, market_price: float) -> None:
        """Open a position of ``side`` at ``market_price`` (a market fill, with slippage)."""
        assert self.trade is None, "entries only happen from flat (no pyramiding)"
        price = self.slipped(market_price, buy=side == 1)
        equity = self.cash  # flat: equity is the cash (a reversal has already closed)
        if equity <= 0.0:
            return
        units = self.size_units(price, equity)
        if units <= 0.0:
            return
        fee = self.fee(units, price)
        self.cash -= side * units * price
        self.cash -= fee
        self.trade = _OpenTrade(
            entry_idx=j, side=side, units=units, entry_price=price, fees=fee, extreme=price
        )

    def leave(self, j: int, raw_price: float, reason: int, slippage: bool) -> None:
        """Close the position at ``raw_price`` (moved by slippage if ``slippage``)."""
        t = self.trade
        assert t is not None
        # A long is closed by selling, a short by buying.
        price = self.slipped(raw_price, buy=t.side == -1) if slippage else raw_price
        signed_units = t.side * t.units
        self.cash += signed_units * price
        fee = self.fee(t.units, price)
        self.cash -= fee
        fees = t.fees + fee
        pnl = signed_units * (price - t.entry_price)
        ret = (pnl - fees) / (t.units * t.entry_price)
        self.trades.append(
            RefTrade(
                entry_idx=t.entry_idx,
                exit_idx=j,
                side=t.side,
                units=t.units,
                entry_price=t.entry_price,
                exit_price=price,
                pnl=pnl,
                fees=fees,
                ret=ret,
                exit_reason=reason,
            )
        )
        self.trade = None

    # ----------------------------------------------------------------- signals

    def effective_signal(self, code: int) -> int:
        """Apply the ``direction`` filter to a signal code."""
        if self.s.direction == "long" and code == SHORT:
            return EXIT_LONG
        if self.s.direction == "short" and code == LONG:
            return EXIT_SHORT
        return code

    def execute_signal(self, j: int, code: int, market_price: float, allow_entry: bool) -> None:
        """Carry out one signal at ``market_price``: exit first, then any entry."""
        code = self.effective_signal(code)
        side_now = 0 if self.trade is None else self.trade.side
        if code == NONE:
            return
        if code in (LONG, SHORT):
            if side_now == code:
                return  # already on that side: ignored (no pyramiding)
            if side_now != 0:
                self.leave(j, market_price, SIGNAL, slippage=True)  # reversal: close first
            if allow_entry:
                self.enter(j, code, market_price)
        elif code == EXIT:
            if side_now != 0:
                self.leave(j, market_price, SIGNAL, slippage=True)
        elif code == EXIT_LONG:
            if side_now == 1:
                self.leave(j, market_price, SIGNAL, slippage=True)
        elif code == EXIT_SHORT:
            if side_now == -1:
                self.leave(j, market_price, SIGNAL, slippage=True)
        else:
            raise ValueError(f"unknown signal code {code}")

    # ---------------------------------------------------------- intrabar exits

    def active_stop(self) -> tuple[float, int] | None:
        """The tighter of stop-loss and trailing stop as (level, reason), or None."""
        t = self.trade
        assert t is not None
        s = self.s
        candidates: list[tuple[float, int]] = []
        if s.stop_loss is not None:
            if t.side == 1:
                candidates.append((t.entry_price * (1.0 - s.stop_loss), STOP_LOSS))
            else:
                candidates.append((t.entry_price * (1.0 + s.stop_loss), STOP_LOSS))
        if s.trailing_stop is not None:
            if t.side == 1:
                candidates.append((t.extreme * (1.0 - s.trailing_stop), TRAILING_STOP))
            else:
                candidates.append((t.extreme * (1.0 + s.trailing_stop), TRAILING_STOP))
        if not candidates:
            return None
        best = candidates[0]
        for level, reason in candidates[1:]:
            # Strictly tighter wins, so a tie stays STOP_LOSS (listed first).
            tighter = level > best[0] if t.side == 1 else level < best[0]
            if tighter:
                best = (level, reason)
        return best

    def take_profit_level(self) -> float | None:
        t = self.trade
        assert t is not None
        if self.s.take_profit is None:
            return None
        if t.side == 1:
            return t.entry_price * (1.0 + self.s.take_profit)
        return t.entry_price * (1.0 - self.s.take_profit)

    def intrabar_exits(self, j: int) -> None:
        """Stop / take-profit checks of bar ``j``, then the trailing-extreme update."""
        t = self.trade
        assert t is not None
        held_before = t.entry_idx < j  # not opened at this bar's open
        stop = self.active_stop()
        target = self.take_profit_level()
        o, h, lo = self.open[j], self.high[j], self.low[j]
        long = t.side == 1

        def beyond_stop(price: float, level: float) -> bool:
            return price <= level if long else price >= level

        def beyond_target(price: float, level: float) -> bool:
            return price >= level if long else price <= level

        adverse = lo if long else h  # the bar's worst price for the position
        favourable = h if long else lo  # the bar's best price for the position

        if held_before and stop is not None and beyond_stop(o, stop[0]):
            self.leave(j, o, stop[1], slippage=True)  # gapped through the stop
        elif held_before and target is not None and beyond_target(o, target):
            self.leave(j, o, TAKE_PROFIT, slippage=False)  # gapped through the target
        elif stop is not None and beyond_stop(adverse, stop[0]):
            self.leave(j, stop[0], stop[1], slippage=True)  # stop first
        elif target is not None and beyond_target(favourable, target):
            self.leave(j, target, TAKE_PROFIT, slippage=False)

        if self.trade is not None:
            if long:
                self.trade.extreme = max(self.trade.extreme, h)
            else:
                self.trade.extreme = min(self.trade.extreme, lo)

    def charge_holding_cost(self, j: int) -> None:
        t = self.trade
        assert t is not None
        cost = t.units * self.close[j] * self.s.holding_cost
        self.cash -= cost
        t.fees += cost

    def max_bars_reached(self) -> bool:
        t = self.trade
        assert t is not None
        return self.s.max_bars is not None and t.bars_held >= self.s.max_bars

    # --------------------------------------------------------------------- run

    def run(self) -> RefResult:
        s = self.s
        n = len(self.close)
        self.cash = float(s.cash)
        equity: list[float] = []
        position: list[float] = []
        exposure: list[int] = []

        pending_signal = NONE  # next_open: the signal read at the previous close
        pending_max_bars = False  # next_open: a max_bars exit decided at the previous close

        for j in range(n):
            if s.fill == "next_open":
                # 1. Open: the pending instruction of bar j-1 executes at open[j].
                if pending_max_bars and self.trade is not None:
                    self.leave(j, self.open[j], MAX_BARS, slippage=True)
                self.execute_signal(j, pending_signal, self.open[j], allow_entry=True)
                pending_signal, pending_max_bars = NONE, False
                in_market = self.trade is not None  # held after the open's market fills
                # 2. Intrabar exits (also for a position opened at this open).
                if self.trade is not None:
                    self.intrabar_exits(j)
                # 3. Close: holding cost, bar count, schedule max_bars and the signal.
                if self.trade is not None:
                    self.charge_holding_cost(j)
                    self.trade.bars_held += 1
                    pending_max_bars = self.max_bars_reached()
                pending_signal = self.signals[j]  # never executed if j is the last bar
            elif s.fill == "close":
                in_market = self.trade is not None  # held coming into bar j
                # 1. Intrabar exits for the position held before this bar.
                if self.trade is not None:
                    self.intrabar_exits(j)
                # 2. Close: holding cost, bar count, max_bars exit, then the signal.
                if self.trade is not None:
                    self.charge_holding_cost(j)
                    self.trade.bars_held += 1
                    if self.max_bars_reached():
                        self.leave(j, self.close[j], MAX_BARS, slippage=True)
                last_bar = j == n - 1
                self.execute_signal(j, self.signals[j], self.close[j], allow_entry=not last_bar)
            else:
                raise ValueError(f"unknown fill {s.fill!r}")

            position.append(self.units_held())
            exposure.append(1 if in_market else 0)
            if j == n - 1 and self.trade is not None:
                self.leave(j, self.close[j], END, slippage=True)
            equity.append(self.cash + self.units_held() * self.close[j])

        returns: list[float] = []
        previous = float(s.cash)
        for value in equity:
            returns.append(value / previous - 1.0 if previous != 0.0 else math.nan)
            previous = value

        return RefResult(
            equity=equity,
            returns=returns,
            position=position,
            exposure=exposure,
            trades=self.trades,
            final_equity=self.cash,
        )


def simulate_reference(
    open: Iterable[SupportsFloat],
    high: Iterable[SupportsFloat],
    low: Iterable[SupportsFloat],
    close: Iterable[SupportsFloat],
    signals: Iterable[SupportsInt],
    settings: SettingsLike,
) -> RefResult:
    """Run the backtest of docs/engine.md bar by bar in plain Python.

    ``open/high/low/close`` and ``signals`` are any sequences of numbers (numpy
    arrays work); ``settings`` is a ``stratopt.engine.ExecSettings`` or a
    `RefSettings`.
    """
    o = [float(x) for x in open]
    h = [float(x) for x in high]
    lo = [float(x) for x in low]
    c = [float(x) for x in close]
    sig = [int(x) for x in signals]
    n = len(c)
    if not (len(o) == len(h) == len(lo) == len(sig) == n):
        raise ValueError("open, high, low, close and signals must have the same length")
    if n == 0:
        return RefResult([], [], [], [], [], float(settings.cash))
    return _Simulator(open=o, high=h, low=lo, close=c, signals=sig, s=settings).run()

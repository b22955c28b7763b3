"""Engine enums, the trade record type and the per-candidate execution settings."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from enum import IntEnum
from typing import Any, Literal

import numpy as np

from stratopt.errors import ConfigError

__all__ = [
    "TRADE_DTYPE",
    "ExecSettings",
    "ExitReason",
    "Signal",
    "pack_settings",
    "pack_settings_many",
]


class Signal(IntEnum):
    """Signal codes a strategy emits per bar (see docs/engine.md)."""

    NONE = 0
    LONG = 1
    SHORT = -1
    EXIT = 2
    EXIT_LONG = 3
    EXIT_SHORT = 4


class ExitReason(IntEnum):
    """Why a trade was closed."""

    SIGNAL = 0
    STOP_LOSS = 1
    TAKE_PROFIT = 2
    TRAILING_STOP = 3
    MAX_BARS = 4
    END = 5


TRADE_DTYPE = np.dtype(
    [
        ("entry_idx", np.int64),
        ("exit_idx", np.int64),
        ("side", np.int8),
        ("units", np.float64),
        ("entry_price", np.float64),
        ("exit_price", np.float64),
        ("pnl", np.float64),
        ("fees", np.float64),
        ("ret", np.float64),
        ("exit_reason", np.int8),
    ]
)

Fill = Literal["next_open", "close"]
Direction = Literal["both", "long", "short"]
Sizing = Literal["fraction", "units", "risk"]

_FILLS: tuple[str, ...] = ("next_open", "close")
_DIRECTIONS: tuple[str, ...] = ("both", "long", "short")
_SIZINGS: tuple[str, ...] = ("fraction", "units", "risk")

# Column positions of the packed float64 settings row the kernels read.
E_CASH = 0
E_COMMISSION = 1
E_COMMISSION_FIXED = 2
E_SLIPPAGE = 3
E_FILL = 4
E_DIRECTION = 5
E_SIZING = 6
E_SIZE = 7
E_WHOLE = 8
E_MAX_LEVERAGE = 9
E_STOP_LOSS = 10
E_TAKE_PROFIT = 11
E_TRAILING = 12
E_MAX_BARS = 13
E_HOLDING = 14
N_EXEC = 15


@dataclass(frozen=True)
class ExecSettings:
    """How orders are filled, sized and charged; see docs/engine.md for the exact rules.

    Attributes:
        cash: Initial equity.
        commission: Fraction of traded value charged on every fill.
        commission_fixed: Currency charged on every fill.
        slippage_bps: Adverse price move of market and stop fills, in basis points.
        fill: ``"next_open"`` (a signal at bar i fills at the open of i+1) or ``"close"``.
        direction: ``"both"``, ``"long"`` (short signals only close longs) or ``"short"``.
        sizing: ``"fraction"`` of equity, fixed ``"units"``, or ``"risk"`` per trade
            from the stop distance.
        size: The number the sizing mode uses.
        whole_units: Round position sizes down to whole units.
        max_leverage: Cap on notional / equity for ``risk`` sizing.
        stop_loss: Stop distance as a fraction of the entry price, or None.
        take_profit: Take-profit distance as a fraction of the entry price, or None.
        trailing_stop: Trailing distance as a fraction of the best price, or None.
        max_bars: Close a trade after this many bars, or None.
        holding_cost: Fraction of position value charged per bar held.
    """

    cash: float = 10_000.0
    commission: float = 0.0
    commission_fixed: float = 0.0
    slippage_bps: float = 0.0
    fill: Fill = "next_open"
    direction: Direction = "both"
    sizing: Sizing = "fraction"
    size: float = 1.0
    whole_units: bool = False
    max_leverage: float = 1.0
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None
    max_bars: int | None = None
    holding_cost: float = 0.0

    def __post_init__(self) -> None:
        _check_choice("fill", self.fill, _FILLS)
        _check_choice("direction", self.direction, _DIRECTIONS)
        _check_choice("sizing", self.sizing, _SIZINGS)
        _check_number("cash", self.cash, positive=True)
        _check_number("size", self.size, positive=True)
        _check_number("max_leverage", self.max_leverage, positive=True)
        for name in ("commission", "commission_fixed", "slippage_bps", "holding_cost"):
            _check_number(name, getattr(self, name), positive=False)
        if self.commission >= 1.0:
            raise ConfigError(
                f"backtest.commission must be < 1 (a fraction), got {self.commission}"
            )
        for name in ("stop_loss", "take_profit", "trailing_stop"):
            value = getattr(self, name)
            if value is not None:
                _check_number(name, value, positive=True)
        if self.stop_loss is not None and self.stop_loss >= 1.0:
            raise ConfigError(f"backtest.stop_loss must be < 1 (a fraction), got {self.stop_loss}")
        if self.trailing_stop is not None and self.trailing_stop >= 1.0:
            raise ConfigError(
                f"backtest.trailing_stop must be < 1 (a fraction), got {self.trailing_stop}"
            )
        if self.max_bars is not None and (
            isinstance(self.max_bars, bool)
            or not isinstance(self.max_bars, int | np.integer)
            or self.max_bars < 1
        ):
            raise ConfigError(
                f"backtest.max_bars must be a whole number >= 1, got {self.max_bars!r}"
            )
        if self.sizing == "risk" and self.stop_loss is None:
            raise ConfigError("backtest.sizing 'risk' needs backtest.stop_loss to be set")

    def replace(self, **changes: Any) -> ExecSettings:
        """A copy with some fields changed (validated again)."""
        values = asdict(self)
        unknown = set(changes) - set(values)
        if unknown:
            raise ConfigError(f"unknown backtest setting(s): {sorted(unknown)}")
        values.update(changes)
        return ExecSettings(**values)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"backtest.{name} must be one of {list(choices)}, got {value!r}")


def _check_number(name: str, value: object, *, positive: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ConfigError(f"backtest.{name} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ConfigError(f"backtest.{name} must be finite, got {value!r}")
    if positive and v <= 0:
        raise ConfigError(f"backtest.{name} must be > 0, got {value!r}")
    if not positive and v < 0:
        raise ConfigError(f"backtest.{name} must be >= 0, got {value!r}")


def pack_settings(settings: ExecSettings) -> np.ndarray:
    """The float64 row of `settings` in the column order the kernels read (0 = disabled)."""
    return np.array(_row(settings), dtype=np.float64)


def pack_settings_many(settings: Sequence[ExecSettings]) -> np.ndarray:
    """float64[len(settings), N_EXEC]: `pack_settings` of each, built as one array (a
    batch whose candidates search a backtest setting has one object per candidate)."""
    rows = np.array([_row(s) for s in settings], dtype=np.float64)
    return rows.reshape(len(settings), N_EXEC)


def _row(settings: ExecSettings) -> list[Any]:
    row: list[Any] = [0.0] * N_EXEC
    row[E_CASH] = settings.cash
    row[E_COMMISSION] = settings.commission
    row[E_COMMISSION_FIXED] = settings.commission_fixed
    row[E_SLIPPAGE] = settings.slippage_bps * 1e-4
    row[E_FILL] = _FILLS.index(settings.fill)
    row[E_DIRECTION] = _DIRECTIONS.index(settings.direction)
    row[E_SIZING] = _SIZINGS.index(settings.sizing)
    row[E_SIZE] = settings.size
    row[E_WHOLE] = 1.0 if settings.whole_units else 0.0
    row[E_MAX_LEVERAGE] = settings.max_leverage
    row[E_STOP_LOSS] = settings.stop_loss or 0.0
    row[E_TAKE_PROFIT] = settings.take_profit or 0.0
    row[E_TRAILING] = settings.trailing_stop or 0.0
    row[E_MAX_BARS] = float(settings.max_bars or 0)
    row[E_HOLDING] = settings.holding_cost
    return row

"""Grid engine types: fill reasons, record dtypes, a candidate's ladder and execution."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

import numpy as np

from stratopt.engine import _grid_nb as nb
from stratopt.errors import ConfigError

__all__ = [
    "GRID_FILL_DTYPE",
    "GRID_TRADE_DTYPE",
    "MAX_GRID_LEVELS",
    "MAX_LOTS",
    "PATH_MODELS",
    "POSITION_MODES",
    "FillReason",
    "GridExec",
    "GridParams",
    "PathModel",
    "PositionMode",
    "pack_grid",
    "repeat_paths",
]

PathModel = Literal["ohlc", "olhc", "adaptive"]
PositionMode = Literal["hedge", "netting"]
PATH_MODELS: tuple[str, ...] = ("ohlc", "olhc", "adaptive")
POSITION_MODES: tuple[str, ...] = ("hedge", "netting")
MAX_GRID_LEVELS = 1000
"""Most levels a side of a ladder may have."""
MAX_LOTS = 10_000
"""Largest `max_lots` (open lots plus resting entries of one candidate)."""


class FillReason(IntEnum):
    """Why a grid fill happened (docs/grid.md §9)."""

    ENTRY = nb.R_ENTRY
    TAKE_PROFIT = nb.R_TAKE_PROFIT
    STOP_LOSS = nb.R_STOP_LOSS
    NETTED = nb.R_NETTED
    END = nb.R_END


GRID_FILL_DTYPE = np.dtype(
    [
        ("bar", np.int64),
        ("sub", np.int64),
        ("price", np.float64),
        ("side", np.int8),
        ("qty", np.float64),
        ("lot", np.int64),
        ("reason", np.int8),
        ("fee", np.float64),
    ]
)

GRID_TRADE_DTYPE = np.dtype(
    [
        ("lot", np.int64),
        ("side", np.int8),
        ("qty", np.float64),
        ("entry_idx", np.int64),
        ("exit_idx", np.int64),
        ("entry_price", np.float64),
        ("exit_price", np.float64),
        ("pnl", np.float64),
        ("fees", np.float64),
        ("funding", np.float64),
        ("ret", np.float64),
        ("exit_reason", np.int8),
        ("risk", np.float64),
    ]
)


def _number(name: str, value: object, *, low: float, strict: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or (v <= low if strict else v < low):
        relation = ">" if strict else ">="
        raise ConfigError(f"{name} must be a finite number {relation} {low:g}, got {value!r}")
    return v


def _count(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, int | np.integer) and not isinstance(value, bool) and low <= value <= high:
        return int(value)
    raise ConfigError(f"{name} must be a whole number from {low} to {high}, got {value!r}")


@dataclass(frozen=True)
class GridParams:
    """One candidate's ladder (docs/grid.md §2-§6); names are the strategy's parameters.

    Zero disables `sl_steps`, `recenter_trigger_bps`, `max_inventory_quote`,
    `max_leverage_used` and `funding_window_minutes`.
    """

    grid_step_bps: float
    grid_levels_long: int
    grid_levels_short: int
    base_qty: float
    qty_scale: float = 1.0
    tp_steps: float = 1.0
    sl_steps: float = 0.0
    recenter_trigger_bps: float = 0.0
    max_inventory_quote: float = 0.0
    max_leverage_used: float = 0.0
    geometric: bool = False
    funding_window_minutes: float = 0.0
    funding_max_cost_bps: float = 0.0

    def __post_init__(self) -> None:
        _number("grid_step_bps", self.grid_step_bps, low=0.0, strict=True)
        _count("grid_levels_long", self.grid_levels_long, 1, MAX_GRID_LEVELS)
        _count("grid_levels_short", self.grid_levels_short, 1, MAX_GRID_LEVELS)
        for name in ("base_qty", "qty_scale", "tp_steps"):
            _number(name, getattr(self, name), low=0.0, strict=True)
        for name in (
            "sl_steps",
            "recenter_trigger_bps",
            "max_inventory_quote",
            "max_leverage_used",
            "funding_window_minutes",
            "funding_max_cost_bps",
        ):
            _number(name, getattr(self, name), low=0.0, strict=False)


@dataclass(frozen=True)
class GridExec:
    """How a grid candidate's orders are filled and charged (docs/grid.md §3, §8, §10).

    Attributes:
        cash: Initial equity.
        maker_fee: Fee rate of limit fills (entries, take-profits).
        taker_fee: Fee rate of market fills (stops, the END close).
        slippage_bps: Adverse move of market fills, in basis points.
        position_mode: ``"hedge"`` or ``"netting"``.
        path: The model each path bar is walked with.
        max_lots: Open lots plus resting entries allowed at once.
    """

    cash: float = 10_000.0
    maker_fee: float = 0.0
    taker_fee: float = 0.0
    slippage_bps: float = 0.0
    position_mode: PositionMode = "hedge"
    path: PathModel = "adaptive"
    max_lots: int = 512

    def __post_init__(self) -> None:
        _number("backtest.cash", self.cash, low=0.0, strict=True)
        for name in ("maker_fee", "taker_fee"):
            v = _number(f"grid.{name}", getattr(self, name), low=0.0, strict=False)
            if v >= 1.0:
                raise ConfigError(f"grid.{name} must be < 1 (a fraction), got {v}")
        _number("backtest.slippage_bps", self.slippage_bps, low=0.0, strict=False)
        if self.position_mode not in POSITION_MODES:
            raise ConfigError(
                f"grid.position_mode must be one of {list(POSITION_MODES)}, "
                f"got {self.position_mode!r}"
            )
        if self.path not in PATH_MODELS:
            raise ConfigError(f"grid.path must be one of {list(PATH_MODELS)}, got {self.path!r}")
        _count("grid.max_lots", self.max_lots, 1, MAX_LOTS)


def pack_grid(params: GridParams, ex: GridExec, sides_row: int = 0) -> np.ndarray:
    """The float64 row of one candidate in the column order the kernels read."""
    row = np.zeros(nb.NP, dtype=np.float64)
    row[nb.P_STEP_BPS] = params.grid_step_bps
    row[nb.P_LEVELS_LONG] = params.grid_levels_long
    row[nb.P_LEVELS_SHORT] = params.grid_levels_short
    row[nb.P_BASE_QTY] = params.base_qty
    row[nb.P_QTY_SCALE] = params.qty_scale
    row[nb.P_TP_STEPS] = params.tp_steps
    row[nb.P_SL_STEPS] = params.sl_steps
    row[nb.P_RECENTER_BPS] = params.recenter_trigger_bps
    row[nb.P_MAX_INVENTORY] = params.max_inventory_quote
    row[nb.P_MAX_LEVERAGE] = params.max_leverage_used
    row[nb.P_GEOMETRIC] = 1.0 if params.geometric else 0.0
    row[nb.P_FUND_WINDOW_MIN] = params.funding_window_minutes
    row[nb.P_FUND_MAX_BPS] = params.funding_max_cost_bps
    row[nb.P_CASH] = ex.cash
    row[nb.P_MAKER] = ex.maker_fee
    row[nb.P_TAKER] = ex.taker_fee
    row[nb.P_SLIPPAGE_BPS] = ex.slippage_bps
    row[nb.P_HEDGE] = 1.0 if ex.position_mode == "hedge" else 0.0
    row[nb.P_PATH] = PATH_MODELS.index(ex.path)
    row[nb.P_MAX_LOTS] = ex.max_lots
    row[nb.P_SIDES_ROW] = sides_row
    return row


def repeat_paths(rows: np.ndarray) -> np.ndarray:
    """Each packed candidate row once per model of `PATH_MODELS`, in that order."""
    out = np.repeat(np.asarray(rows, dtype=np.float64).reshape(-1, nb.NP), len(PATH_MODELS), 0)
    out[:, nb.P_PATH] = np.tile(np.arange(len(PATH_MODELS)), out.shape[0] // len(PATH_MODELS))
    return out

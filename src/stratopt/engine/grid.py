"""The grid engine's public names: many open lots per candidate, fills along bar paths,
finer-bar detail and funding (docs/grid.md)."""

from __future__ import annotations

from stratopt.engine._grid_market import Funding, GridMarket, build_market
from stratopt.engine._grid_sim import GRID_STATS, GridSimResult, simulate_grid, simulate_grid_many
from stratopt.engine._grid_types import (
    GRID_FILL_DTYPE,
    GRID_TRADE_DTYPE,
    MAX_GRID_LEVELS,
    MAX_LOTS,
    PATH_MODELS,
    POSITION_MODES,
    FillReason,
    GridExec,
    GridParams,
    PathModel,
    PositionMode,
    pack_grid,
    repeat_paths,
)

__all__ = [
    "GRID_FILL_DTYPE",
    "GRID_STATS",
    "GRID_TRADE_DTYPE",
    "MAX_GRID_LEVELS",
    "MAX_LOTS",
    "PATH_MODELS",
    "POSITION_MODES",
    "FillReason",
    "Funding",
    "GridExec",
    "GridMarket",
    "GridParams",
    "GridSimResult",
    "PathModel",
    "PositionMode",
    "build_market",
    "pack_grid",
    "repeat_paths",
    "simulate_grid",
    "simulate_grid_many",
]

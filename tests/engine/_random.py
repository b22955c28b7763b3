"""Seeded random inputs for the engine tests: OHLC paths, signals and settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "EXIT_RULES",
    "SIZINGS",
    "Bars",
    "random_bars",
    "random_settings_kwargs",
    "random_signals",
]

EXIT_RULES: tuple[str, ...] = ("none", "stop_loss", "take_profit", "trailing", "max_bars", "all")
SIZINGS: tuple[str, ...] = ("fraction", "fraction_whole", "units", "risk", "risk_whole")

# Dyadic fractions: on a price grid of 1/8 the stop/target levels are exact binary
# numbers, so bars touch them exactly and the inclusive/exclusive rules are exercised.
_DYADIC_FRACTIONS = (1 / 32, 1 / 16, 3 / 32, 1 / 8, 3 / 16, 1 / 4)


@dataclass(frozen=True)
class Bars:
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray

    def __len__(self) -> int:
        return int(self.close.shape[0])


def random_bars(rng: np.random.Generator, n: int, *, grid: bool = False) -> Bars:
    """A valid OHLC random walk around 100 with overnight gaps, some of them large.

    With ``grid`` the prices are multiples of 1/8 (and often equal to each other).
    """
    vol = rng.uniform(0.005, 0.03)
    gaps = rng.normal(0.0, vol / 4, n)
    jumps = rng.random(n) < 0.08
    gaps[jumps] += rng.normal(0.0, 4 * vol, int(jumps.sum()))
    moves = rng.normal(0.0, vol, n)
    up_wick = np.abs(rng.normal(0.0, vol / 2, n)) * (rng.random(n) > 0.15)
    down_wick = np.abs(rng.normal(0.0, vol / 2, n)) * (rng.random(n) > 0.15)
    o = np.empty(n)
    c = np.empty(n)
    prev = 100.0 * float(np.exp(rng.normal(0.0, 0.3)))
    for i in range(n):
        o[i] = prev * np.exp(gaps[i])
        c[i] = o[i] * np.exp(moves[i])
        prev = c[i]
    h = np.maximum(o, c) * np.exp(up_wick)
    lo = np.minimum(o, c) * np.exp(-down_wick)
    if grid:
        o, h, lo, c = (np.maximum(np.round(a * 8.0) / 8.0, 0.125) for a in (o, h, lo, c))
        h = np.maximum(h, np.maximum(o, c))
        lo = np.minimum(lo, np.minimum(o, c))
    return Bars(*(np.ascontiguousarray(a, dtype=np.float64) for a in (o, h, lo, c)))


def random_signals(rng: np.random.Generator, n: int) -> np.ndarray:
    """Sparse signal codes (int8); the density varies from run to run."""
    density = rng.uniform(0.02, 0.35)
    codes = rng.choice(
        np.array([1, -1, 2, 3, 4], dtype=np.int8), size=n, p=[0.32, 0.32, 0.12, 0.12, 0.12]
    )
    out = np.where(rng.random(n) < density, codes, 0).astype(np.int8)
    if rng.random() < 0.3:
        out[-1] = rng.choice(np.array([1, -1, 2], dtype=np.int8))  # a signal on the last bar
    return out


def _fraction(rng: np.random.Generator, low: float, high: float, grid: bool) -> float:
    if grid:
        return float(rng.choice(_DYADIC_FRACTIONS))
    return float(rng.uniform(low, high))


def random_settings_kwargs(
    rng: np.random.Generator,
    *,
    fill: str,
    direction: str,
    sizing: str,
    exits: str,
    grid: bool = False,
) -> dict[str, Any]:
    """Keyword arguments of ``ExecSettings`` for one combination, with random costs.

    ``sizing`` is one of `SIZINGS`, ``exits`` one of `EXIT_RULES`. ``risk`` sizing
    always gets a stop-loss (it needs one). With ``grid`` slippage is 0 and the
    stop/target fractions are dyadic, so exact touches happen.
    """
    kw: dict[str, Any] = {"cash": float(rng.choice([10_000.0, rng.uniform(1_000, 100_000)]))}
    kw["fill"] = fill
    kw["direction"] = direction
    kw["commission"] = float(rng.choice([0.0, rng.uniform(0.0, 0.002)]))
    kw["commission_fixed"] = float(rng.choice([0.0, rng.uniform(0.0, 3.0)]))
    kw["slippage_bps"] = 0.0 if grid else float(rng.choice([0.0, rng.uniform(0.0, 25.0)]))
    kw["holding_cost"] = float(rng.choice([0.0, rng.uniform(0.0, 5e-4)]))

    base, _, whole = sizing.partition("_")
    kw["sizing"] = base
    kw["whole_units"] = bool(whole) if base != "units" else bool(rng.random() < 0.5)
    if base == "fraction":
        kw["size"] = float(rng.choice([1.0, rng.uniform(0.1, 1.0)]))
    elif base == "units":
        kw["size"] = float(rng.choice([float(rng.integers(1, 60)), rng.uniform(0.1, 60.0)]))
        kw["size"] *= kw["cash"] / 10_000.0
    else:
        kw["size"] = float(rng.uniform(0.002, 0.05))
        kw["max_leverage"] = float(rng.choice([1.0, rng.uniform(0.3, 3.0)]))

    if exits in ("stop_loss", "all") or base == "risk":
        kw["stop_loss"] = _fraction(rng, 0.005, 0.08, grid)
    if exits in ("take_profit", "all"):
        kw["take_profit"] = _fraction(rng, 0.005, 0.12, grid)
    if exits in ("trailing", "all"):
        kw["trailing_stop"] = _fraction(rng, 0.005, 0.08, grid)
    if exits in ("max_bars", "all"):
        kw["max_bars"] = int(rng.integers(1, 15))
    return kw

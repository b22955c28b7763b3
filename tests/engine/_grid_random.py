"""Seeded random inputs for the grid engine tests: OHLC series, detail bars, funding,
active sides and candidates, with the engine's and the reference's forms of each."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from stratopt.data import Bars
from stratopt.engine.grid import Funding, GridExec, GridParams
from tests.engine.reference_grid import RefFunding, RefGrid

__all__ = ["Case", "random_case", "ref_bars", "ref_grid"]

HOUR = 3_600 * 10**9
_START = np.datetime64("2021-03-01T00:00", "ns")
KINDS = ("walk", "lattice", "detail")


@dataclass(frozen=True, eq=False)
class Case:
    """One generated scenario: bars (and detail bars), sides, funding, one candidate."""

    seed: int
    kind: str
    bars: Bars
    detail: Bars | None
    sides: np.ndarray
    decide: np.ndarray | None
    params: GridParams
    ex: GridExec
    funding: Funding | None
    ref_funding: RefFunding | None

    def describe(self) -> str:
        return (
            f"seed={self.seed} kind={self.kind} n={len(self.bars)} params={self.params} "
            f"ex={self.ex} funding={self.ref_funding} decide={self.decide is not None}"
        )


def _bars(time: np.ndarray, o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray) -> Bars:
    return Bars(time=time, open=o, high=h, low=lo, close=c, volume=np.zeros(o.size))


def _walk(rng: np.random.Generator, n: int, step: np.timedelta64) -> Bars:
    """A walk on a 1/8 price grid with gaps (some large) and flat bars."""
    tick = 0.125
    c = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.008, n))) / tick) * tick
    prev = np.r_[c[0], c[:-1]]
    gap = rng.normal(0, 0.2, n) + np.where(rng.random(n) < 0.05, rng.normal(0, 3, n), 0.0)
    o = np.maximum(np.round((prev + gap) / tick) * tick, 1.0)
    h = np.maximum(o, c) + np.round(np.abs(rng.normal(0, 0.6, n)) / tick) * tick
    lo = np.maximum(np.minimum(o, c) - np.round(np.abs(rng.normal(0, 0.6, n)) / tick) * tick, 0.5)
    flat = rng.random(n) < 0.06
    o[flat] = h[flat] = lo[flat] = c[flat]
    time = _START + np.arange(n) * step
    return _bars(time, o, h, lo, c)


def _lattice(rng: np.random.Generator, n: int, levels: int) -> Bars:
    """Integer prices around 100: with a 100 bps grid centred at 100 every level is an
    integer, so highs and lows sit exactly on levels; some bars span every level, some
    are flat, some open beyond several levels."""
    c = np.empty(n)
    o = np.empty(n)
    h = np.empty(n)
    lo = np.empty(n)
    price = 100.0
    for i in range(n):
        if i == 0:
            o[i] = h[i] = lo[i] = c[i] = 100.0
            continue
        jump = rng.choice([0, 0, 0, 1, -1, 2, -2, 4, -4])
        o[i] = max(price + jump, 1.0)
        c[i] = max(100.0 + rng.integers(-levels - 2, levels + 3), 1.0)
        kind = rng.random()
        if kind < 0.1:
            o[i] = h[i] = lo[i] = c[i] = price  # flat
        elif kind < 0.25:
            h[i] = max(100.0 + levels + 1 + rng.integers(0, 2), o[i], c[i])  # every level
            lo[i] = min(max(100.0 - levels - 1 - rng.integers(0, 2), 1.0), o[i], c[i])
        else:
            h[i] = max(o[i], c[i]) + rng.integers(0, 3)
            lo[i] = max(min(o[i], c[i]) - rng.integers(0, 3), 1.0)
        price = c[i]
    time = _START + np.arange(n) * np.timedelta64(1, "h")
    return _bars(time, o, h, lo, c)


def _detail(rng: np.random.Generator, n: int) -> tuple[Bars, Bars]:
    """Fine bars (15 min) and the hourly bars they make."""
    per = 4
    fine = _walk(rng, n * per, np.timedelta64(15, "m"))
    keep = np.ones(n * per, dtype=bool)
    # drop a few fine bars (never a whole hour): detail series have holes too
    holes = rng.choice(n * per, size=n // 6, replace=False)
    keep[holes[holes % per != 0]] = False
    fine = _bars(*(getattr(fine, f)[keep] for f in ("time", "open", "high", "low", "close")))
    hour = (fine.time - _START) // np.timedelta64(1, "h")
    starts = np.flatnonzero(np.r_[True, hour[1:] != hour[:-1]])
    ends = np.r_[starts[1:], fine.time.size] - 1
    bars = _bars(
        _START + hour[starts] * np.timedelta64(1, "h"),
        fine.open[starts],
        np.maximum.reduceat(fine.high, starts),
        np.minimum.reduceat(fine.low, starts),
        fine.close[ends],
    )
    return bars, fine


def _sides(rng: np.random.Generator, n: int) -> np.ndarray:
    out = np.empty(n, dtype=np.int8)
    value = 3
    for i in range(n):
        if rng.random() < 0.15:
            value = int(rng.choice([0, 1, 2, 3, 3, 3]))
        out[i] = value
    return out


def _funding(
    rng: np.random.Generator, bars: Bars, detail: Bars | None
) -> tuple[Funding | None, RefFunding | None]:
    kind = rng.choice(["none", "constant", "file", "file_marks"])
    if kind == "none":
        return None, None
    if kind == "constant":
        interval_h = int(rng.choice([1, 3, 8]))
        phase_h = int(rng.integers(0, interval_h))
        rate = float(rng.choice([0.0001, -0.0003, 0.002]))
        fund = Funding.constant(rate, f"{interval_h}h", f"{phase_h}h" if phase_h else "0h")
        ref = RefFunding(rate=rate, interval_ns=interval_h * HOUR, phase_ns=phase_h * HOUR)
        return fund, ref
    t0 = int(bars.time[0].astype(np.int64)) - 2 * HOUR
    t1 = int(bars.time[-1].astype(np.int64)) + 3 * HOUR
    count = int(rng.integers(3, 12))
    times = t0 + np.unique(rng.integers(0, (t1 - t0) // 10**6, size=count)) * 10**6
    rates = rng.choice([0.0001, -0.0005, 0.0003, 0.001], size=times.size)
    marks_bars = None
    marks = None
    if kind == "file_marks":
        mt = np.arange(t0, t1, 4 * HOUR, dtype=np.int64)
        mo = np.round(rng.uniform(80, 120, mt.size) * 8) / 8
        marks_bars = _bars(mt.astype("datetime64[ns]"), mo, mo, mo, mo)
        marks = list(zip(mt.tolist(), mo.tolist(), strict=True))
    fund = Funding.series(times.astype("datetime64[ns]"), rates, marks=marks_bars)
    rows = list(zip(times.tolist(), rates.tolist(), strict=True))
    return fund, RefFunding(rows=rows, marks=marks)


def _params(rng: np.random.Generator, kind: str) -> GridParams:
    lattice = kind == "lattice"
    return GridParams(
        grid_step_bps=100.0 if lattice else float(rng.choice([25.0, 50.0, 80.0, 125.0])),
        grid_levels_long=int(rng.integers(1, 7)),
        grid_levels_short=int(rng.integers(1, 7)),
        base_qty=float(rng.choice([0.5, 1.0, 2.0])),
        qty_scale=float(rng.choice([1.0, 1.0, 1.5, 0.5])),
        tp_steps=float(rng.choice([1.0, 1.0, 2.0, 0.5])),
        sl_steps=float(rng.choice([0.0, 1.0, 2.0, 3.0])),
        recenter_trigger_bps=float(rng.choice([0.0, 0.0, 150.0, 400.0])),
        max_inventory_quote=float(rng.choice([0.0, 0.0, 250.0, 600.0])),
        max_leverage_used=float(rng.choice([0.0, 0.0, 0.04, 1.0])),
        geometric=bool(rng.random() < 0.25),
        funding_window_minutes=float(rng.choice([0.0, 0.0, 90.0, 600.0])),
        funding_max_cost_bps=float(rng.choice([0.5, 2.0])),
    )


def _exec(rng: np.random.Generator) -> GridExec:
    return GridExec(
        cash=float(rng.choice([1_000.0, 10_000.0])),
        maker_fee=float(rng.choice([0.0, 0.0002, 2.0**-10])),
        taker_fee=float(rng.choice([0.0, 0.0005])),
        slippage_bps=float(rng.choice([0.0, 0.0, 3.0])),
        max_lots=int(rng.choice([512, 512, 3, 6])),
    )


def random_case(seed: int) -> Case:
    """The scenario of `seed` (a third of each kind)."""
    rng = np.random.default_rng([seed, 7])
    kind = KINDS[seed % len(KINDS)]
    n = int(rng.integers(24, 48))
    params = _params(rng, kind)
    detail = None
    if kind == "walk":
        bars = _walk(rng, n, np.timedelta64(1, "h"))
    elif kind == "lattice":
        bars = _lattice(rng, n, max(params.grid_levels_long, params.grid_levels_short))
    else:
        bars, detail = _detail(rng, n)
    funding, ref_funding = _funding(rng, bars, detail)
    decide = None
    if rng.random() < 0.2:
        decide = rng.random(len(bars)) < 0.5
    return Case(
        seed, kind, bars, detail, _sides(rng, len(bars)), decide, params, _exec(rng),
        funding, ref_funding,
    )  # fmt: skip


def with_modes(case: Case, path: str, mode: str) -> Case:
    """The same scenario with another path model and position mode."""
    return replace(case, ex=replace(case.ex, path=path, position_mode=mode))


def ref_grid(params: GridParams, ex: GridExec) -> RefGrid:
    fields: dict[str, Any] = {
        f: getattr(params, f)
        for f in (
            "grid_step_bps",
            "grid_levels_long",
            "grid_levels_short",
            "base_qty",
            "qty_scale",
            "tp_steps",
            "sl_steps",
            "recenter_trigger_bps",
            "max_inventory_quote",
            "max_leverage_used",
            "geometric",
            "funding_window_minutes",
            "funding_max_cost_bps",
        )
    }
    return RefGrid(
        **fields,
        cash=ex.cash,
        maker_fee=ex.maker_fee,
        taker_fee=ex.taker_fee,
        slippage_bps=ex.slippage_bps,
        hedge=ex.position_mode == "hedge",
        path=ex.path,
        max_lots=ex.max_lots,
    )


def ref_bars(bars: Bars) -> tuple[list[int], tuple[list[float], ...]]:
    """(times in ns, (open, high, low, close)) as plain lists for the reference."""
    time = bars.time.astype("datetime64[ns]").astype(np.int64).tolist()
    prices = tuple(np.asarray(getattr(bars, f)).tolist() for f in ("open", "high", "low", "close"))
    return time, prices

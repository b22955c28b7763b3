"""Closed-form cases of the grid engine (docs/grid.md), exact to the last bit.

Prices sit on an integer lattice around a center of 100 with a 100 bps step, so every
level, take-profit and stop is an integer and each expected number below is computed
by hand, not by running the engine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stratopt.data import Bars, load_bars
from stratopt.data import load_funding_rates as load_rates
from stratopt.engine.grid import (
    FillReason,
    Funding,
    GridExec,
    GridParams,
    GridSimResult,
    build_market,
    simulate_grid,
)

START = np.datetime64("2022-01-01T00:00", "ns")
FEE = 2.0**-10  # exact in binary: fees of integer prices add up exactly


def bars_of(rows: list[tuple[float, float, float, float]], *, step: str = "1h") -> Bars:
    o, h, lo, c = (np.array(col, dtype=np.float64) for col in zip(*rows, strict=True))
    unit = {"1h": np.timedelta64(1, "h"), "5m": np.timedelta64(5, "m")}[step]
    time = START + np.arange(len(rows)) * unit
    return Bars(time=time, open=o, high=h, low=lo, close=c, volume=np.zeros(len(rows)))


def grid(**kw: object) -> GridParams:
    base: dict[str, object] = {
        "grid_step_bps": 100.0,  # a step of exactly 1.0 around 100
        "grid_levels_long": 1,
        "grid_levels_short": 1,
        "base_qty": 1.0,
        "tp_steps": 1.0,
    }
    base.update(kw)
    return GridParams(**base)  # type: ignore[arg-type]


def run(
    bars: Bars,
    params: GridParams,
    sides: int,
    *,
    ex: GridExec | None = None,
    funding: Funding | None = None,
) -> GridSimResult:
    market = build_market(bars, funding=funding)
    side_row = np.full(len(bars), sides, dtype=np.int8)
    return simulate_grid(market, side_row, params, ex or GridExec(path="ohlc"))


def reasons(sim: GridSimResult) -> list[str]:
    return [FillReason(int(r)).name for r in sim.fills["reason"]]


@pytest.mark.parametrize("path", ["ohlc", "olhc", "adaptive"])
@pytest.mark.parametrize("k", [1, 7, 40])
def test_zigzag_between_two_levels_gives_k_round_trips(path: str, k: int) -> None:
    # bar 0 sets the center at 100; each later bar dips to the long level 99 and comes
    # back to its take-profit at 100: buy 99, sell 100, re-arm, k times
    bars = bars_of([(100, 100, 100, 100)] + [(100, 100, 99, 100)] * k + [(100, 100, 100, 100)])
    ex = GridExec(maker_fee=FEE, taker_fee=FEE, path=path)  # type: ignore[arg-type]
    sim = run(bars, grid(), sides=1, ex=ex)
    assert sim.round_trips == k
    assert reasons(sim) == ["ENTRY", "TAKE_PROFIT"] * k
    assert sim.fills["price"].tolist() == [99.0, 100.0] * k
    step, qty = 1.0, 1.0
    fees = k * (qty * 99 * FEE + qty * 100 * FEE)
    assert sim.net_pnl == k * step * qty - fees
    assert sim.final_equity == 10_000 + k * step * qty - fees
    assert sim.stats["grid_profit"] == k * step * qty - fees
    assert sim.stats["inventory_pnl"] == 0.0


def test_zigzag_of_the_short_ladder_mirrors_it() -> None:
    bars = bars_of([(100, 100, 100, 100)] + [(100, 101, 100, 100)] * 5 + [(100, 100, 100, 100)])
    sim = run(bars, grid(), sides=2, ex=GridExec(maker_fee=FEE, path="ohlc"))
    assert sim.round_trips == 5
    assert sim.fills["side"].tolist() == [-1, 1] * 5
    assert sim.net_pnl == 5 * 1.0 - 5 * (101 * FEE + 100 * FEE)


def test_monotone_fall_fills_every_level_then_the_cap_refuses_the_next() -> None:
    levels = 5
    notional = sum(100.0 - k for k in range(1, levels + 1))  # 99 + 98 + ... + 95
    # one bar falls through every level; the next decisions recenter lower and lower,
    # and the price keeps falling through where the new levels are
    rows = [(100, 100, 100, 100), (100, 100, 94.5, 94.5)]
    rows += [(p, p, p - 1, p - 1) for p in np.arange(94.5, 80.0, -1.0)]
    bars = bars_of(rows)
    params = grid(
        grid_levels_long=levels,
        tp_steps=50.0,
        recenter_trigger_bps=300.0,
        max_inventory_quote=notional,
    )
    capped = run(bars, params, sides=1)
    entries = capped.fills[capped.fills["reason"] == FillReason.ENTRY]
    assert entries["price"].tolist() == [99.0, 98.0, 97.0, 96.0, 95.0]
    assert capped.open_lots[-2] == levels  # still open before the END close
    assert reasons(capped) == ["ENTRY"] * levels + ["END"] * levels
    # the same without the cap: the recentered ladder's levels do fill
    free = run(bars, grid(grid_levels_long=levels, tp_steps=50.0, recenter_trigger_bps=300.0),
               sides=1)  # fmt: skip
    assert (free.fills["reason"] == FillReason.ENTRY).sum() > levels
    # and a cap one level short refuses the fifth level from the start
    short = run(bars, grid(grid_levels_long=levels, tp_steps=50.0,
                           max_inventory_quote=notional - 95.0), sides=1)  # fmt: skip
    assert (short.fills["reason"] == FillReason.ENTRY).sum() == levels - 1


def test_slots_count_resting_orders() -> None:
    bars = bars_of([(100, 100, 100, 100), (100, 100, 90, 90)])
    sim = run(bars, grid(grid_levels_long=5, tp_steps=50.0), sides=1,
              ex=GridExec(max_lots=3, path="ohlc"))  # fmt: skip
    assert (sim.fills["reason"] == FillReason.ENTRY).sum() == 3


def _held_through(hours: int) -> Bars:
    # bar 0 centers at 100 (decision at 01:00), bar 1 fills the level at 99, then the
    # price stays at 99.5 until the END close `hours` hours after the fill's bar
    rows = [(100, 100, 100, 100), (100, 100, 99, 99.5)]
    rows += [(99.5, 99.5, 99.5, 99.5)] * (hours - 1)
    return bars_of(rows)


@pytest.mark.parametrize(("interval", "payments"), [("8h", 3), ("1h", 24)])
def test_one_unit_long_for_24h_pays_every_funding_instant(interval: str, payments: int) -> None:
    bars = _held_through(25)  # held from 01:xx to 02:00 the next day: 24 hours and change
    sim = run(bars, grid(tp_steps=50.0), sides=1, funding=Funding.constant(0.0001, interval))
    (trade,) = sim.trades
    # marks are the opens of the paying bars: 99.5 at every instant while the lot is held
    assert trade["funding"] == sum([-1.0 * 1.0 * 99.5 * 0.0001] * payments)
    assert sim.stats["funding"] == trade["funding"]


def test_nothing_is_paid_when_flat_at_the_funding_instant() -> None:
    # a lot opened and closed inside each bar is never held at a bar's start
    bars = bars_of([(100, 100, 100, 100)] + [(100, 100, 99, 100)] * 30)
    sim = run(bars, grid(), sides=1, funding=Funding.constant(0.0001, "1h"))
    assert sim.round_trips == 30
    assert sim.stats["funding"] == 0.0
    assert (sim.trades["funding"] == 0.0).all()


def test_equal_long_and_short_lots_net_funding_to_zero_in_hedge_mode() -> None:
    # one bar fills the long level (99) and the short level (101); both are then held
    # through three 8-hourly instants with take-profits out of reach
    rows = [(100, 100, 100, 100), (100, 101, 99, 100)] + [(100, 100, 100, 100)] * 24
    sim = run(bars_of(rows), grid(tp_steps=50.0), sides=3,
              funding=Funding.constant(0.0003, "8h"))  # fmt: skip
    long_, short = sorted(sim.trades, key=lambda t: int(t["side"]))[::-1]
    assert long_["funding"] == sum([-1.0 * 1.0 * 100.0 * 0.0003] * 3)
    assert short["funding"] == -long_["funding"]
    assert sim.stats["funding"] == 0.0


def test_netting_closes_the_other_side_first() -> None:
    rows = [(100, 100, 100, 100), (100, 100, 99, 99), (99, 101, 99, 101), (101, 101, 101, 101)]
    ex = GridExec(position_mode="netting", path="ohlc")
    sim = run(bars_of(rows), grid(tp_steps=50.0, grid_levels_short=2), sides=3, ex=ex)
    # long lot 0 at 99; the rise fills short level 1 (101): in netting mode that sale
    # closes lot 0 instead of opening a short lot
    assert reasons(sim)[:2] == ["ENTRY", "NETTED"]
    assert sim.fills["lot"][:2].tolist() == [0, 0]
    hedge = run(bars_of(rows), grid(tp_steps=50.0, grid_levels_short=2), sides=3,
                ex=GridExec(path="ohlc"))  # fmt: skip
    assert reasons(hedge)[:2] == ["ENTRY", "ENTRY"]


def test_recentering_leaves_open_lots_and_their_exits_untouched() -> None:
    rows = [
        (100, 100, 100, 100),
        (100, 100, 97.5, 97.5),  # fills 99 and 98 (take-profits at 100 and 99)
        (97.5, 97.5, 97.5, 97.5),  # decision: 2.5 % from the center -> recenter at 97.5
        (97.5, 100.5, 97.5, 100.5),  # old lots take profit at 100 and 99
        (100.5, 100.5, 97.0, 97.0),  # back down through 99 and 98: no old level re-arms
        (97, 97, 97, 97),
    ]
    params = grid(grid_levels_long=2, grid_levels_short=2, recenter_trigger_bps=200.0)
    sim = run(bars_of(rows), params, sides=1)
    f = sim.fills
    tp = f[f["reason"] == FillReason.TAKE_PROFIT]
    assert sorted(tp["price"].tolist()) == [99.0, 100.0]
    assert sorted(tp["lot"].tolist()) == [0, 1]
    entries = f[f["reason"] == FillReason.ENTRY]
    after = entries[entries["bar"] >= 3]
    # the new ladder's long levels are 97.5 - 0.975 and 97.5 - 1.95; 99 and 98 are gone
    assert 99.0 not in after["price"].tolist() and 98.0 not in after["price"].tolist()
    without = run(bars_of(rows), grid(grid_levels_long=2, grid_levels_short=2), sides=1)
    w = without.fills
    assert 99.0 in w[(w["reason"] == FillReason.ENTRY) & (w["bar"] >= 3)]["price"].tolist()


def test_a_stop_on_the_gap_fills_at_the_open_and_a_limit_at_its_price() -> None:
    rows = [(100, 100, 100, 100), (100, 100, 99, 99.5), (96, 96, 96, 96), (96, 96, 96, 96)]
    sim = run(bars_of(rows), grid(sl_steps=2.0, tp_steps=5.0), sides=1)
    assert reasons(sim)[:2] == ["ENTRY", "STOP_LOSS"]
    assert sim.fills["price"][:2].tolist() == [99.0, 96.0]  # the stop at 97 gapped to 96
    rows = [(100, 100, 100, 100), (98.5, 98.5, 98.5, 98.5), (98.5, 98.5, 98.5, 98.5)]
    sim = run(bars_of(rows), grid(tp_steps=5.0), sides=1)
    assert sim.fills["price"][0] == 99.0  # the entry gapped below stays a limit at 99


def test_xrpusdt_funding_file_over_the_overlap(shared_data: Path) -> None:
    bars = load_bars(shared_data / "XRPUSDT_PERP_5m.csv.gz")
    rates = load_rates(shared_data / "XRPUSDT_PERP_funding_8h.csv.gz")
    # one unit long, opened at the first dip below the first close and held to the end:
    # the step is tiny and the take-profit out of reach
    params = GridParams(grid_step_bps=1e-6, grid_levels_long=1, grid_levels_short=1,
                        base_qty=1.0, tp_steps=1e12)  # fmt: skip
    sides = np.full(len(bars), 1, np.int8)
    sim = simulate_grid(
        build_market(bars, funding=Funding.series(rates.time, rates.rate)), sides, params,
        GridExec(path="ohlc"),
    )  # fmt: skip
    (trade,) = sim.trades
    assert trade["exit_idx"] == len(bars) - 1
    # expected from the files alone: each instant inside the 5m bars while the lot is
    # held is paid at the open of the bar that contains it (the last one starting at or
    # before it); the lot is held from the start of the bar after its entry
    t = bars.time.astype("datetime64[ns]").astype(np.int64)
    f = rates.time.astype("datetime64[ns]").astype(np.int64)
    held = (f >= t[int(trade["entry_idx"]) + 1]) & (f < t[-1] + 300 * 10**9)
    assert held.sum() == 12
    assert f[held][0] == f[0]  # held from before the first instant of the file
    expected = 0.0
    for ti, rate in zip(f[held], rates.rate[held], strict=True):
        bar = int(np.searchsorted(t, ti, side="right")) - 1
        expected += -1.0 * 1.0 * float(bars.open[bar]) * float(rate)
    assert trade["funding"] == expected
    assert len(set(rates.rate[held].tolist())) > 1  # the real rates vary in the overlap
    # with the mark file, the price is the open of the mark candle at or before the instant
    marks = load_bars(shared_data / "XRPUSDT_PERP_mark_8h.csv.gz")
    funding = Funding.series(rates.time, rates.rate, marks=marks)
    sim = simulate_grid(build_market(bars, funding=funding), sides, params, GridExec(path="ohlc"))
    mt = marks.time.astype("datetime64[ns]").astype(np.int64)
    expected = 0.0
    for ti, rate in zip(f[held], rates.rate[held], strict=True):
        row = int(np.searchsorted(mt, ti, side="right")) - 1
        expected += -1.0 * 1.0 * float(marks.open[row]) * float(rate)
    assert sim.trades[0]["funding"] == expected

"""The compiled lot-book kernel agrees with the plain-Python reference, fill for fill.

520 generated series (random walks on a 1/8 grid with gaps and flat bars; integer
lattices whose highs and lows sit exactly on the ladder's levels, with bars spanning
every level; hourly bars walked along 15-minute detail bars with holes), each with
random active sides, funding (none, a constant schedule, a rate file with millisecond
timestamps, with or without mark prices), sometimes decisions at chosen bars only, and
a random candidate (caps, slots, recentering, geometric ladders, the funding guard).
Every series runs under each bar path model and both position modes. Fills must be
identical (bar, path bar, price, side, qty, lot, reason, fee), trades and per-bar
counts equal, equity and exposures within 1e-9 relative.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from stratopt.engine.grid import GridSimResult, build_market, simulate_grid
from tests.engine import reference_grid as ref
from tests.engine._grid_random import Case, random_case, ref_bars, ref_grid, with_modes

RTOL = 1e-9
N_SERIES = 520
PATHS = ("ohlc", "olhc", "adaptive")
MODES = ("hedge", "netting")


def run_both(case: Case, *, skip_quiet: bool = True) -> tuple[GridSimResult, ref.RefResult]:
    market = build_market(case.bars, detail=case.detail, funding=case.funding, decide=case.decide)
    sim = simulate_grid(market, case.sides, case.params, case.ex, periods_per_year=8760)
    time, prices = ref_bars(case.bars)
    detail = None
    if case.detail is not None:
        d_time, d_prices = ref_bars(case.detail)
        detail = (d_time, *d_prices)
    out = ref.run_reference(
        ref_grid(case.params, case.ex), time, prices, case.sides.tolist(),
        detail=detail, funding=case.ref_funding,
        decide=None if case.decide is None else case.decide.tolist(), skip_quiet=skip_quiet,
    )  # fmt: skip
    return sim, out


def _close(a: float, b: float, scale: float) -> bool:
    return math.isclose(a, b, rel_tol=RTOL, abs_tol=RTOL * scale)


def assert_same(case: Case, sim: GridSimResult, out: ref.RefResult) -> None:
    """Fills identical, the rest as the module docstring says."""
    what = case.describe()
    fills = [tuple(f) for f in sim.fills.tolist()]
    assert len(fills) == len(out.fills), f"{len(fills)} fills vs {len(out.fills)}: {what}"
    for k, (a, b) in enumerate(zip(fills, out.fills, strict=True)):
        assert a == b, f"fill {k}: kernel {a} != reference {b}: {what}"
    assert len(sim.trades) == len(out.trades), what
    for k, (t, r) in enumerate(zip(sim.trades, out.trades, strict=True)):
        for name in ("lot", "side", "entry_idx", "exit_idx", "exit_reason"):
            assert int(t[name]) == int(r[name]), f"trade {k} {name}: {what}"
        for name in ("qty", "entry_price", "exit_price", "pnl", "fees", "funding", "ret"):
            assert _close(float(t[name]), r[name], case.ex.cash), f"trade {k} {name}: {what}"
    scale = case.ex.cash
    for j, (a, b) in enumerate(zip(sim.equity.tolist(), out.equity, strict=True)):
        assert _close(a, b, scale), f"equity[{j}] {a} != {b}: {what}"
    for name in ("net_exposure", "gross_exposure"):
        got = getattr(sim, name).tolist()
        assert all(_close(a, b, scale) for a, b in zip(got, getattr(out, name), strict=True))
    assert sim.open_lots.tolist() == out.open_lots, what
    assert sim.exposed.astype(bool).tolist() == out.exposed, what
    n = len(out.equity)
    assert sim.metrics["exposure"] == pytest.approx(sum(out.exposed) / n, rel=1e-12), what
    assert sim.metrics["trades"] == len(out.trades), what
    assert sim.round_trips == out.round_trips, what
    assert _close(sim.stats["funding"], out.funding, scale), what
    assert _close(sim.final_equity, out.equity[-1], scale), what


@pytest.mark.parametrize("block", range(8))
def test_generated_series_match_the_reference(block: int) -> None:
    # 8 blocks of 65 series; every series under 3 path models x 2 position modes
    for seed in range(block * 65, (block + 1) * 65):
        base = random_case(seed)
        for path in PATHS:
            for mode in MODES:
                case = with_modes(base, path, mode)
                # the plain reference walks every segment of every bar on odd seeds
                sim, out = run_both(case, skip_quiet=seed % 2 == 0)
                assert_same(case, sim, out)


def test_the_generated_series_cover_what_they_should() -> None:
    """The scenarios do reach the rules: exact touches, bars over every level, gaps,
    flat bars, netting, refused levels, stops, funding."""
    seen: dict[str, int] = dict.fromkeys(
        ("lattice_touch", "span_all", "flat", "netted", "stop", "funding", "refused", "gap"), 0
    )
    for seed in range(0, N_SERIES, 5):
        case = random_case(seed)
        b = case.bars
        if case.kind == "lattice":
            seen["span_all"] += int(np.any(b.high - b.low >= 2 * case.params.grid_levels_long))
            seen["lattice_touch"] += int(np.any(b.low == 99.0))
        seen["flat"] += int(np.any(b.high == b.low))
        seen["gap"] += int(np.any(np.abs(b.open[1:] - b.close[:-1]) > 1.0))
        for mode in MODES:
            sim, _ = run_both(with_modes(case, "adaptive", mode))
            reasons = set(sim.fills["reason"].tolist())
            seen["netted"] += int(ref.NETTED in reasons)
            seen["stop"] += int(ref.STOP_LOSS in reasons)
            seen["funding"] += int(np.any(sim.trades["funding"] != 0.0))
        seen["refused"] += int(case.ex.max_lots < 10 or case.params.max_inventory_quote > 0)
    assert all(v >= 5 for v in seen.values()), seen

"""Grid backtests and batches: grid outputs, path bands, many candidates at once."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stratopt.data import Bars, resample, synthetic_bars
from stratopt.engine.grid import Funding, GridExec, build_market, simulate_grid
from stratopt.errors import StrategyError
from stratopt.grid import (
    BAND_COLUMNS,
    GridSetup,
    grid_backtest,
    grid_evaluate_many,
    step_warning,
)
from stratopt.metrics import METRICS
from stratopt.strategies import HedgeGrid, IndicatorCache


@pytest.fixture(scope="module")
def minutes() -> Bars:
    return synthetic_bars(6_000, seed=11, interval="1min", volatility=8e-4)


@pytest.fixture(scope="module")
def hours(minutes: Bars) -> Bars:
    return resample(minutes, "1h")


PARAMS = {"grid_step_bps": 20.0, "mode": "neutral", "sl_steps": 4.0, "base_qty": 1.0}


def test_grid_outputs_add_up(minutes: Bars) -> None:
    setup = GridSetup(GridExec(maker_fee=0.0002, taker_fee=0.0005),
                      funding=Funding.constant(0.0001, "8h"))  # fmt: skip
    res = grid_backtest(minutes, "hedge_grid", PARAMS, setup)
    out = res.grid_summary()
    for key in ("round_trips", "grid_profit", "inventory_pnl", "funding", "path_band"):
        assert key in out
    assert out["round_trips"] > 50
    total = out["grid_profit"] + out["inventory_pnl"] + out["funding"]
    assert math.isclose(total, res.final_equity - 10_000, rel_tol=1e-9, abs_tol=1e-6)
    assert out["funding"] != 0.0
    assert res.metrics["trades"] == res.n_trades == len(res.trades)
    assert (res.trades["exit_reason"] == "take_profit").sum() == out["round_trips"]
    assert len(res.fills) == out["fills"]
    assert res.per_bar["open_lots"].iloc[-1] == 0


def test_the_path_band_is_the_spread_of_the_three_paths(hours: Bars) -> None:
    res = grid_backtest(hours, "hedge_grid", PARAMS, GridSetup(GridExec(path="olhc")))
    strat = HedgeGrid()
    p = strat.resolve(PARAMS)
    sides = strat.sides(hours, p, IndicatorCache(hours))
    nets, trips = [], []
    for path in ("ohlc", "olhc", "adaptive"):
        sim = simulate_grid(build_market(hours), sides, strat.grid_params(p),
                            GridExec(path=path))  # type: ignore[arg-type]  # fmt: skip
        nets.append(sim.net_pnl)
        trips.append(sim.round_trips)
    band = res.band
    assert band.net_pnl_band == max(nets) - min(nets)
    assert band.round_trips_band == max(trips) - min(trips)
    assert band.reference_net_pnl == nets[1]  # the configured run used olhc
    assert band.risk_high == (band.net_pnl_band > 0.25 * abs(nets[1]))
    assert res.grid_summary()["path_band"]["by_path"]["ohlc"]["round_trips"] == trips[0]


def test_detail_runs_keep_the_band_of_the_bars(minutes: Bars, hours: Bars) -> None:
    res = grid_backtest(hours, "hedge_grid", PARAMS, GridSetup(detail=minutes))
    plain = grid_backtest(hours, "hedge_grid", PARAMS)
    assert res.band.net_pnl == plain.band.net_pnl
    assert res.grid_summary()["path"] == "detail"
    assert res.sim.round_trips > max(plain.band.round_trips.values())


def test_many_candidates_equal_one_at_a_time(hours: Bars) -> None:
    cands = [
        {"grid_step_bps": s, "ema_fast": f, "ema_slow": 30, "sl_steps": 3.0, "base_qty": 1.0}
        for s in (15.0, 40.0)
        for f in (5, 10)
    ] + [{"grid_step_bps": -3.0}, {"grid_step_bps": 25.0, "mode": "long", "base_qty": 1.0}]
    setup = GridSetup(GridExec(maker_fee=0.0002), funding=Funding.constant(0.0001, "8h"))
    batch = grid_evaluate_many(hours, "hedge_grid", cands, setup)
    assert batch.errors[4] is not None and "grid_step_bps" in batch.errors[4]
    assert batch.metrics.iloc[4].isna().all()
    assert list(batch.metrics.columns[-len(BAND_COLUMNS) :]) == list(BAND_COLUMNS)
    for k in (0, 1, 2, 3, 5):
        one = grid_backtest(hours, "hedge_grid", cands[k], setup)
        row = batch.metrics.iloc[k]
        for m in METRICS:
            a, b = row[m.id], one.metrics[m.id]
            assert a == b or (math.isnan(a) and math.isnan(b)), (k, m.id)
        assert row["round_trips"] == one.sim.round_trips
        assert row["path_band_net_pnl"] == one.band.net_pnl_band
        assert row["path_band_round_trips"] == one.band.round_trips_band
        assert bool(row["fill_model_risk_high"]) == one.band.risk_high


def test_not_a_grid_strategy() -> None:
    with pytest.raises(StrategyError, match="not a grid strategy"):
        grid_backtest(synthetic_bars(50, seed=1), "sma_cross")


def test_a_step_below_half_the_bar_range_is_flagged(hours: Bars) -> None:
    median = float(np.median((hours.high - hours.low) / hours.close * 1e4))
    assert step_warning(hours, median * 0.4) is not None
    assert "median bar range" in (step_warning(hours, median * 0.4) or "")
    assert step_warning(hours, median * 0.6) is None

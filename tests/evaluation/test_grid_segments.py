"""Grid candidates measured out of sample (walk-forward test windows, the holdout)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stratopt.config import load_study
from stratopt.evaluation import Router, SegmentRunner
from stratopt.grid import backtest_grid_study, study_strategy
from stratopt.validation import Window, WindowResult, stitch

ROOT = Path(__file__).resolve().parents[2]
SYNTHETIC = ROOT / "examples" / "hedge_grid_synthetic.yaml"
PARAMS = {"grid_step_bps": 30.0, "mode": "neutral"}


def _runner() -> SegmentRunner:
    study = load_study(SYNTHETIC)
    return SegmentRunner(study, Router(study, study_strategy(study), ()))


def test_a_segment_over_all_bars_is_the_grid_backtest() -> None:
    runner = _runner()
    (bars,) = runner.bars()
    seg = runner.run(PARAMS, pd.Timestamp(bars.time[0]), None)
    assert seg.error is None
    one = load_study(SYNTHETIC, [f"params.{k}={v}" for k, v in PARAMS.items()])
    (full,) = backtest_grid_study(one)
    for key, want in full.metrics.items():
        assert seg.metrics is not None
        assert seg.metrics[key] == pytest.approx(want, rel=1e-9, abs=1e-12), key
    assert len(seg.trades) == full.n_trades > 0


def test_a_later_segment_is_measured_on_its_own_bars() -> None:
    runner = _runner()
    (bars,) = runner.bars()
    a, b = len(bars) // 2, len(bars) * 3 // 4
    start, stop = pd.Timestamp(bars.time[a]), pd.Timestamp(bars.time[b])
    seg = runner.run(PARAMS, start, stop)
    assert seg.error is None and seg.metrics is not None
    assert len(seg.returns) == b - a and seg.returns.index[0] == start
    assert (seg.trades["entry_time"] >= start).all() and (seg.trades["entry_time"] < stop).all()
    # the segment's return is its equity change from the close before it
    growth = float(np.prod(1.0 + seg.returns.to_numpy())) - 1.0
    assert seg.metrics["total_return"] == pytest.approx(growth, rel=1e-9)


def test_a_failed_window_before_a_good_one_is_left_out_of_the_stitched_curve() -> None:
    runner = _runner()
    (bars,) = runner.bars()
    t = [pd.Timestamp(x) for x in bars.time[[0, 100, 200, 300]]]
    failed = runner.run({"grid_step_bps": -5.0}, t[1], t[2])  # an invalid step
    good = runner.run(PARAMS, t[2], t[3])
    assert failed.error is not None and good.error is None
    results = [
        WindowResult(Window(k, 0, 1, 1, 2), f"wf-{k}", (t[0], t[k + 1]), (t[k + 1], t[k + 2]),
                     returns=s.returns, exposed=s.exposed, trades=s.trades, error=s.error)
        for k, s in enumerate((failed, good))
    ]  # fmt: skip
    curve, metrics = stitch(results, cash=10_000.0, ppy=8760.0)
    assert list(curve["window"].unique()) == [1]
    assert metrics["total_return"] == pytest.approx(good.metrics["total_return"], rel=1e-9)

"""What the operations add for grid studies: the run, its report, its warnings, and
grid candidates kept in-process (compiled) however many jobs the study asks for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stratopt.config import parse_study
from stratopt.errors import ConfigError
from stratopt.evaluation import Router, StudyEvaluator
from stratopt.grid import GridBacktestResult
from stratopt.operations import (
    PreparedStudy,
    backtest_report,
    equity_frame,
    grid_warnings,
    run_backtest,
)
from stratopt.operations._validate import _monte_carlo
from stratopt.strategies import get_strategy

GRID: dict[str, Any] = {
    "name": "g",
    "data": {"synthetic": {"bars": 600, "seed": 3, "interval": "1h", "volatility": 0.004}},
    "strategy": "hedge_grid",
    "params": {"grid_step_bps": 30.0, "mode": "neutral", "base_qty": 1.0, "tp_steps": 1.0,
               "sl_steps": 4.0},
    "constraints": ["tp_steps < 3 * sl_steps"],
    "grid": {"path": "ohlc", "funding": {"rate": 0.0001, "interval": "8h"}},
}  # fmt: skip


def _study(tmp_path: Path, raw: dict[str, Any]) -> Any:
    return parse_study(raw, source="g.yaml", base_dir=tmp_path)


def test_a_grid_backtest_runs_the_lot_book_and_reports_its_outputs(tmp_path: Path) -> None:
    study = _study(tmp_path, GRID)
    (res,) = run_backtest(study)
    assert isinstance(res, GridBacktestResult)
    report = backtest_report("g", [res])
    for key in ("round_trips", "grid_profit", "inventory_pnl", "funding", "path_band"):
        assert report[key] == res.grid_summary()[key], key
    assert report["round_trips"] > 0 and report["funding"] != 0.0
    frame = equity_frame([res])
    assert list(frame.columns)[1:] == ["equity", "net_exposure", "gross_exposure", "open_lots"]


def test_the_fixed_parameters_must_meet_the_constraints(tmp_path: Path) -> None:
    raw = {**GRID, "params": {**GRID["params"], "tp_steps": 7.0, "sl_steps": 2.0}}
    with pytest.raises(ConfigError, match=r"tp_steps=7.0, sl_steps=2.0 break"):
        run_backtest(_study(tmp_path, raw))


def test_warnings_only_for_grid_studies(tmp_path: Path) -> None:
    fine = {**GRID, "params": {**GRID["params"], "grid_step_bps": 5.0}}
    (warning,) = grid_warnings(_study(tmp_path, fine))
    assert "grid_step_bps 5 is below half the median bar range" in warning
    # the space's low end when searched, the fixed step otherwise
    searched = {**GRID, "space": {"grid_step_bps": {"low": 4, "high": 80}}}
    assert "grid_step_bps 4 " in grid_warnings(_study(tmp_path, searched), searched=True)[0]
    assert grid_warnings(_study(tmp_path, searched)) == []
    # another strategy: nothing, and its data are not even read
    other = {"name": "s", "data": {"path": "missing.csv"}, "strategy": "sma_cross"}
    assert grid_warnings(_study(tmp_path, other)) == []


def test_grid_candidates_run_in_process_whatever_the_jobs(tmp_path: Path) -> None:
    study = _study(tmp_path, {**GRID, "search": {"jobs": 2, "trial_timeout": 60}})
    router = Router(study, get_strategy("hedge_grid"), ("grid_step_bps",))
    evaluator = StudyEvaluator(study, router, jobs=2, timeout=60.0)
    try:
        assert evaluator.pool is None  # compiled: nothing to isolate, nothing to kill
        (a, b) = evaluator.evaluate([{"grid_step_bps": 30.0}, {"grid_step_bps": -1.0}])
    finally:
        evaluator.close()
    assert a.error is None and a.metrics is not None and "path_band_net_pnl" in a.metrics
    assert b.error is not None and "grid_step_bps" in b.error


def test_the_monte_carlo_replays_the_lot_trades_and_the_grid_returns(tmp_path: Path) -> None:
    study = _study(tmp_path, {**GRID, "space": {"grid_step_bps": {"low": 20, "high": 60}}})
    (res,) = run_backtest(study)  # the fixed grid_step_bps: 30
    out = _monte_carlo(PreparedStudy.from_config(study), {"grid_step_bps": 30.0}, seed=1)
    (part,) = out["symbols"].values()
    # the lots' net pnl (fees and funding included) replay the run's final equity
    shuffle = part["trade_shuffle"]["original"]
    assert shuffle["final_equity"] == pytest.approx(res.final_equity, rel=1e-12)
    boot = part["bootstrap"]["original"]
    assert boot["final_equity"] == pytest.approx(res.final_equity, rel=1e-9)

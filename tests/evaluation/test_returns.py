"""Per-bar returns of many candidates, re-run through the engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from stratopt.backtest import backtest, study_bars
from stratopt.config import load_study
from stratopt.data import resample
from stratopt.evaluation import _returns as returns_module
from stratopt.evaluation import bin_returns, candidate_returns

BASE: dict[str, Any] = {
    "name": "r",
    "data": {"synthetic": {"bars": 1500, "seed": 4, "edge_period": 120, "edge_strength": 0.5}},
    "strategy": "sma_cross",
    "backtest": {"commission": 0.0005},
    "space": {"fast": [5, 10], "slow": [30, 60]},
    "objective": "sharpe",
}


def _load(tmp_path: Path, cfg: dict[str, Any]) -> Any:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(json.loads(json.dumps(cfg))))
    return load_study(path)


def test_columns_are_the_engine_returns_of_each_candidate(tmp_path: Path) -> None:
    study = _load(tmp_path, BASE)
    params = [{"fast": 5, "slow": 30}, {"fast": 10, "slow": 60}, {"fast": 50, "slow": 10}]
    res = candidate_returns(study, params)
    bars = study_bars(study)[0]
    assert res.returns.shape == (len(bars), 2)
    assert res.positions == [0, 1]
    assert 2 in res.skipped  # fast > slow is rejected by the strategy, with the reason
    for col, p in enumerate(params[:2]):
        sim = backtest(bars, "sma_cross", p, study.backtest.to_settings()).sim
        assert np.array_equal(res.returns[:, col], sim.returns)
        assert np.prod(1 + res.returns[:, col]) * 10_000 == pytest.approx(sim.final_equity)
    assert res.periods_per_year == bars.periods_per_year


def test_binning_compounds_bars(tmp_path: Path) -> None:
    study = _load(tmp_path, BASE)
    full = candidate_returns(study, [{"fast": 5, "slow": 30}])
    binned = candidate_returns(study, [{"fast": 5, "slow": 30}], bin_size=7)
    assert binned.returns.shape == (-(-1500 // 7), 1)
    assert binned.returns[:-1, 0] == pytest.approx(
        np.prod(1 + full.returns[: 7 * 214, 0].reshape(214, 7), axis=1) - 1
    )
    assert np.prod(1 + binned.returns) == pytest.approx(np.prod(1 + full.returns))
    assert binned.index[0] == full.index[6] and binned.index[-1] == full.index[-1]
    assert binned.periods_per_year == pytest.approx(full.periods_per_year / 7)
    assert bin_returns(full.returns, 1) is full.returns


def test_multi_symbol_is_the_equal_weight_mean(tmp_path: Path) -> None:
    from stratopt.data import synthetic_bars

    paths = []
    for sym, seed in (("AAA", 1), ("BBB", 2)):
        frame = synthetic_bars(800, seed=seed, symbol=sym).to_frame().reset_index()
        path = tmp_path / f"{sym}.csv"
        frame.to_csv(path, index=False)
        paths.append(str(path))
    cfg = {**BASE, "data": {"path": paths}}
    study = _load(tmp_path, cfg)
    res = candidate_returns(study, [{"fast": 5, "slow": 30}])
    settings = study.backtest.to_settings()
    per = [backtest(b, "sma_cross", {"fast": 5, "slow": 30}, settings).sim.returns
           for b in study_bars(study)]  # fmt: skip
    assert res.returns[:, 0] == pytest.approx((per[0] + per[1]) / 2)


def test_candidates_on_another_data_choice_are_skipped(tmp_path: Path) -> None:
    study = _load(tmp_path, BASE)
    params = [
        {"fast": 5, "slow": 30, "data.timeframe": "2D"},
        {"fast": 5, "slow": 30},
        {"fast": 10, "slow": 60},
    ]
    res = candidate_returns(study, params)
    assert res.positions == [1, 2]
    assert "other data choice" in res.skipped[0]
    alone = candidate_returns(study, params[:1])
    assert alone.positions == [0]
    two_day = resample(study_bars(study)[0], "2D")
    assert alone.returns.shape[0] == len(two_day)  # its own, resampled series


def test_processes_give_the_same_columns_bit_for_bit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`jobs`: the candidates left after PARALLEL_AFTER_S go to processes (issue 22 item 9);
    the matrix, its order and the skipped reasons are those of one process."""
    study = _load(tmp_path, BASE)
    params = [{"fast": f, "slow": s} for f in (5, 10, 50) for s in (10, 30, 60)]
    one = candidate_returns(study, params, bin_size=3)
    monkeypatch.setattr(returns_module, "PARALLEL_AFTER_S", 0.0)  # all but the first
    many = candidate_returns(study, params, bin_size=3, jobs=2)
    assert many.positions == one.positions and len(one.positions) < len(params)
    assert np.array_equal(many.returns, one.returns)
    assert many.skipped == one.skipped

"""`stratopt validate`: a finished study validated from its stored trials."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from stratopt.backtest import backtest
from stratopt.cli import app
from stratopt.config import load_study
from stratopt.data import synthetic_bars
from stratopt.engine import ExecSettings
from stratopt.errors import ConfigError
from stratopt.operations import optimize_study, study_from_run_folder, validate_study
from stratopt.operations._validate import _trade_steps, cpcv_pool
from stratopt.stats import reshuffle_trades

STUDY: dict[str, Any] = {
    "name": "val",
    "data": {"synthetic": {"bars": 1500, "seed": 11, "edge_period": 100, "edge_strength": 0.5}},
    "strategy": "sma_cross",
    "space": {"fast": {"low": 2, "high": 14, "step": 3}, "slow": [25, 40, 60]},
    "constraints": ["fast < slow"],
    "search": {"method": "grid", "seed": 3},
    "validation": {"holdout": 0.2, "top": 3, "cpcv": {"groups": 5, "test_groups": 2}},
}


@pytest.fixture(scope="module")
def optimized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("validate")
    path = root / "study.yaml"
    path.write_text(yaml.safe_dump({**STUDY, "output": str(root / "runs")}))
    result = optimize_study(load_study(path))
    return path, result.run_folder.path


def _numbers(sections: dict[str, Any]) -> str:
    """The sections without timings, for comparing two runs."""

    def strip(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k != "seconds"}
        if isinstance(x, list):
            return [strip(v) for v in x]
        return x

    return json.dumps(strip(sections), sort_keys=True, default=str)


def test_validate_writes_every_section_and_is_deterministic(optimized: tuple[Path, Path]) -> None:
    path, _ = optimized
    first = validate_study(load_study(path))
    saved = json.loads((first.folder / "validation.json").read_text())
    assert {"holdout", "statistics", "cpcv", "robustness", "monte_carlo"} <= set(saved)
    assert saved["trials"]["completed"] == 15  # 5 fast x 3 slow, all fast < slow
    assert saved["annualization"]["periods_per_year"] == 365.0
    assert saved["annualization"]["rule"] == "1d bars on all seven weekdays: 365 days"
    cpcv = saved["cpcv"]
    assert (cpcv["n_splits"], cpcv["n_paths"]) == (10, 4)  # C(5,2), C(4,1)
    assert cpcv["candidates"] == 15 and len(cpcv["chosen_params"]) == 10
    assert cpcv["selection"] == "all 15 distinct backtested candidates"
    assert len(saved["holdout"]["candidates"]) == 3
    mc = saved["monte_carlo"]["symbols"]["SYN"]
    for method in ("trade_shuffle", "bootstrap"):
        pct = mc[method]["percentiles"]["max_drawdown"]
        assert pct["p5"] <= pct["p50"] <= pct["p95"]
    assert {p.name for p in first.folder.iterdir()} >= {
        "validation.json", "holdout.csv", "cpcv_paths.csv", "stability.csv", "sensitivity.csv",
    }  # fmt: skip
    second = validate_study(load_study(path))
    assert second.folder != first.folder
    assert _numbers(second.sections) == _numbers(first.sections)


def test_validate_a_run_folder_like_its_study_file(optimized: tuple[Path, Path]) -> None:
    path, run = optimized
    from_file = validate_study(load_study(path))
    from_run = validate_study(study_from_run_folder(run))
    assert _numbers(from_run.sections) == _numbers(from_file.sections)


def test_validate_cli(optimized: tuple[Path, Path]) -> None:
    path, _ = optimized
    res = CliRunner().invoke(app, ["validate", str(path)])
    assert res.exit_code == 0, res.output
    for words in ("CPCV", "Monte Carlo", "DSR", "stability of the best", "validation folder",
                  "SPA (studentized, Hansen 2005)"):  # fmt: skip
        assert words in res.output


def test_validate_an_unknown_study_names_it(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({**STUDY, "name": "never_run", "output": str(tmp_path)}))
    with pytest.raises(ConfigError, match="never_run"):
        validate_study(load_study(path))


def test_a_folder_without_summary_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"summary\.json"):
        study_from_run_folder(tmp_path)


@pytest.mark.parametrize("fill", ["next_open", "close"])
@pytest.mark.parametrize("sizing", ["fraction", "units"])
def test_trade_shuffle_as_it_happened_ends_at_the_backtests_final_equity(
    sizing: str, fill: str
) -> None:
    # Fees (both commissions and every bar's holding cost) are part of each step, and a
    # reversal's next trade starts from the equity its predecessor realized, not from
    # the close before its entry (which still holds the predecessor's position).
    bars = synthetic_bars(2000, seed=4)
    settings = ExecSettings(
        sizing=sizing, size=1.0 if sizing == "fraction" else 50.0, commission=0.001,
        holding_cost=0.0002, slippage_bps=2.0, fill=fill,
    )  # fmt: skip
    res = backtest(bars, "sma_cross", {"fast": 5, "slow": 30, "mode": "reversal"}, settings)
    trades = res.sim.trades
    reversals = int(np.sum(trades["entry_idx"][1:] == trades["exit_idx"][:-1]))
    assert len(trades) > 10 and reversals > 10
    steps, compounding = _trade_steps(trades, settings.cash, sizing)
    assert compounding is (sizing == "fraction")
    shuffled = reshuffle_trades(steps, cash=settings.cash, n_sims=20, compounding=compounding)
    final = float(res.sim.equity[-1])
    assert math.isclose(shuffled.original["final_equity"], final, rel_tol=1e-9)
    # Every order ends there too: sums and products commute.
    assert np.allclose(shuffled.final_equity, final, rtol=1e-9)


def test_cpcv_pool_does_not_look_at_full_sample_results() -> None:
    # 300 candidates; trial 7 is planted: its full-sample value is the best only because
    # of luck inside the test groups, which the pool must not see. Whether it gets in
    # cannot depend on that value: the pool is the same when it ranks last.
    n = 300
    rng = np.random.default_rng(0)
    values = rng.normal(size=n)
    frame = pd.DataFrame({"trial": np.arange(n), "state": "complete", "params.x": np.arange(n)})
    lucky = frame.assign(value=np.where(frame["trial"] == 7, 10.0, values))
    unlucky = frame.assign(value=np.where(frame["trial"] == 7, -10.0, values))
    pools = [
        cpcv_pool(f.sort_values("value", ascending=False), 200, seed=0) for f in (lucky, unlucky)
    ]
    assert pools[0] == pools[1]
    params, how = pools[0]
    assert len(params) == 200 and "random sample (seed 0) of 200 of 300" in how
    assert {"x": 7} not in params  # seed 0 happens to leave it out: it is not let in
    assert {"x": 7} in cpcv_pool(unlucky, 200, seed=1)[0]  # the seed decides, not the value
    # Up to the cap, every distinct candidate, in trial order.
    small = lucky.head(20).sort_values("value")
    assert cpcv_pool(small, 200, seed=1)[0] == [{"x": i} for i in range(20)]

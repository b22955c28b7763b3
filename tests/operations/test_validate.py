"""`stratopt validate`: a finished study validated from its stored trials."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
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
from stratopt.operations._validate import _trade_steps

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
    cpcv = saved["cpcv"]
    assert (cpcv["n_splits"], cpcv["n_paths"]) == (10, 4)  # C(5,2), C(4,1)
    assert cpcv["candidates"] == 15 and len(cpcv["chosen_params"]) == 10
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


@pytest.mark.parametrize("sizing", ["fraction", "units"])
def test_trade_steps_replay_the_actual_history(sizing: str) -> None:
    # Replayed in their own order, the steps must rebuild the equity after the last exit.
    bars = synthetic_bars(2000, seed=4)
    settings = ExecSettings(sizing=sizing, size=1.0 if sizing == "fraction" else 50.0)
    res = backtest(bars, "sma_cross", {"fast": 5, "slow": 30, "mode": "long_only"}, settings)
    trades = res.sim.trades
    assert len(trades) > 10
    steps, compounding = _trade_steps(trades, res.sim.equity, settings.cash, sizing)
    end = res.sim.equity[int(trades["exit_idx"][-1])]
    if compounding:
        rebuilt = settings.cash * float(np.prod(1.0 + steps))
    else:
        rebuilt = settings.cash + float(np.sum(steps))
    assert compounding is (sizing == "fraction")
    assert math.isclose(rebuilt, end, rel_tol=1e-9)

"""A study name is one study: a rerun defined otherwise is refused, never mixed in (issue 21
items 1 and 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from stratopt.config import load_study
from stratopt.data import synthetic_bars
from stratopt.errors import ConfigError
from stratopt.operations import optimize, optimize_study


def _csv(path: Path, seed: int) -> str:
    synthetic_bars(400, seed=seed).to_frame().to_csv(path, index_label="time")
    return path.name


def _write(tmp_path: Path, **changes: Any) -> Path:
    cfg: dict[str, Any] = {
        "name": "fp",
        "data": {"path": "AAPL.csv"},
        "strategy": "sma_cross",
        "backtest": {"commission": 0.001},
        "space": {"fast": [3, 5], "slow": {"low": 20, "high": 40, "step": 10}},
        "search": {"method": "grid"},
        "objective": "sharpe",
        "output": "runs",
    }
    cfg.update(changes)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize(
    ("changes", "listed"),
    [
        ({"objective": "sortino"}, 'objective: "sharpe" -> "sortino"'),
        ({"data": {"path": "MSFT.csv"}}, "data files: "),
        ({"backtest": {"commission": 0.002}}, "backtest.commission: 0.001 -> 0.002"),
        ({"strategy": "ema_cross"}, 'strategy: "sma_cross" -> "ema_cross"'),
        ({"space": {"fast": [3, 5], "slow": {"low": 30, "high": 40, "step": 10}}}, "space.slow"),
    ],
)
def test_a_rerun_defined_otherwise_is_refused_with_what_changed(
    tmp_path: Path, changes: dict[str, Any], listed: str
) -> None:
    _csv(tmp_path / "AAPL.csv", 1)
    _csv(tmp_path / "MSFT.csv", 2)
    first = optimize_study(load_study(_write(tmp_path)), analyze=False)
    assert first.counts["complete"] == 6
    with pytest.raises(ConfigError, match="--fork") as info:
        optimize_study(load_study(_write(tmp_path, **changes)), analyze=False)
    assert listed in str(info.value)
    # A fork is a new study under a new name: none of the first study's trials.
    fork = load_study(_write(tmp_path, **changes), [f"name=fork{len(listed)}"])
    forked = optimize_study(fork, analyze=False, new=True)
    assert forked.counts["complete"] == len(forked.ranked)
    with pytest.raises(ConfigError, match="--fork: study 'fp' already exists"):
        optimize_study(load_study(_write(tmp_path)), analyze=False, new=True)


def test_more_trials_and_another_method_stay_allowed(tmp_path: Path) -> None:
    _csv(tmp_path / "AAPL.csv", 1)
    search = {"method": "random", "trials": 2, "seed": 1}
    optimize_study(load_study(_write(tmp_path, search=search)), analyze=False)
    more = optimize_study(
        load_study(_write(tmp_path, search={**search, "trials": 4, "seed": 2})), analyze=False
    )
    assert more.counts["complete"] == 4


def test_optimize_starts_a_fresh_study_unless_one_is_named(tmp_path: Path) -> None:
    space = {"x": [1, 2, 3]}
    up = optimize(lambda p: {"sharpe": float(p["x"])}, space, method="grid", output=tmp_path,
                  analyze=False)  # fmt: skip
    down = optimize(lambda p: {"sharpe": -float(p["x"])}, space, method="grid",
                    output=tmp_path, analyze=False)  # fmt: skip
    assert up.best_params == {"x": 3} and down.best_params == {"x": 1}
    assert down.counts["complete"] == 3
    optimize(lambda p: {"sharpe": float(p["x"])}, space, method="grid", output=tmp_path,
             analyze=False, study_name="named")  # fmt: skip
    with pytest.raises(ConfigError, match="function source"):
        optimize(lambda p: {"sharpe": -float(p["x"])}, space, method="grid",
                 output=tmp_path, analyze=False, study_name="named")  # fmt: skip

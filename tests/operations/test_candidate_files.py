"""The best and the robust candidate in full in the run folder; any trial by number
(issue 21 item 10)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from stratopt.config import load_study
from stratopt.errors import ConfigError
from stratopt.operations import optimize_study, run_backtest, trades_frame, trial_study


def test_run_folder_has_the_candidates_trades_equity_and_robust_config(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({
        "name": "files", "data": {"synthetic": {"bars": 900, "seed": 4, "edge_period": 90}},
        "strategy": "sma_cross", "space": {"fast": [3, 5, 8, 12], "slow": [20, 30, 40]},
        "search": {"method": "grid"}, "backtest": {"commission": 0.001}, "output": "runs",
    }))  # fmt: skip
    study = load_study(path)
    res = optimize_study(study)
    folder = res.run_folder.path
    for label in ("best", "robust"):
        trades = pd.read_csv(folder / f"{label}_trades.csv")
        assert (trades["net_pnl"] == trades["pnl"] - trades["fees"]).all() and len(trades) > 0
        equity = pd.read_csv(folder / f"{label}_equity.csv")
        assert {"equity", "drawdown", "position"} <= set(equity.columns)
        assert (equity["drawdown"] <= 0).all() and (equity["position"] != 0).any()
        final = equity["equity"].iloc[-1]
        assert final == pytest.approx(10_000 + trades["net_pnl"].sum())
    robust = yaml.safe_load((folder / "robust_config.yaml").read_text())
    assert res.robustness is not None and res.robustness.report is not None
    chosen = res.robustness.to_dict()["robust"]["params"]
    assert robust["params"] == chosen and robust["space"] == {}
    best_trades = pd.read_csv(folder / "best_trades.csv")
    # Any trial by number: the best one's backtest is the best_trades.csv above.
    again = trades_frame(run_backtest(trial_study(study, int(res.best_trial or 0))))
    assert len(again) == len(best_trades)
    assert again["net_pnl"].to_numpy() == pytest.approx(best_trades["net_pnl"].to_numpy())
    with pytest.raises(ConfigError, match="--trial: study 'files' has no trial 99"):
        trial_study(study, 99)

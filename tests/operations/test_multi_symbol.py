"""Several data series: the aggregate a search scores is what backtest shows, and every
trial's per-series metrics are in the run folder (issue 21 item 11)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from stratopt.config import load_study
from stratopt.data import synthetic_bars
from stratopt.operations import (
    aggregate_metrics,
    backtest_report,
    optimize_study,
    run_backtest,
)


@pytest.mark.parametrize("how", ["mean", "worst"])
def test_backtest_aggregates_as_the_search_scores(tmp_path: Path, how: str) -> None:
    for seed, name in ((1, "A"), (2, "B")):
        synthetic_bars(500, seed=seed).to_frame().to_csv(tmp_path / f"{name}.csv",
                                                         index_label="time")  # fmt: skip
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({
        "name": "multi", "data": {"path": ["A.csv", "B.csv"]}, "strategy": "sma_cross",
        "params": {"fast": 5, "slow": 20}, "space": {"fast": [5], "slow": [20]},
        "search": {"method": "grid"}, "aggregate": how, "output": "runs",
    }))  # fmt: skip
    study = load_study(path)
    results = run_backtest(study)
    combined = aggregate_metrics(study, results)
    a, b = (r.metrics["sharpe"] for r in results)
    assert combined["sharpe"] == pytest.approx((a + b) / 2 if how == "mean" else min(a, b))
    report = backtest_report(study.name, results, combined)
    assert report["metrics"]["sharpe"] == pytest.approx(combined["sharpe"])
    assert report["symbols"] == ["A", "B"] and report["symbol"] is None
    assert report["n_trades"] == sum(r.n_trades for r in results)
    # The search scores the same candidate with the same aggregate.
    res = optimize_study(study, analyze=False)
    assert res.ranked["value"].iloc[0] == pytest.approx(combined["sharpe"])
    per_symbol = pd.read_csv(res.run_folder.path / "per_symbol.csv")
    assert list(per_symbol["symbol"]) == ["A", "B"]
    assert list(per_symbol["sharpe"]) == pytest.approx([a, b])

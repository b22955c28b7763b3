"""Walk-forward end to end: real data through the CLI, determinism, resume, the numbers."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from stratopt.cli import main
from stratopt.config import load_study
from stratopt.errors import ConfigError
from stratopt.metrics import compute_metrics
from stratopt.operations import walk_forward
from tests.validation.helpers import spy_strategy

SYNTHETIC: dict[str, Any] = {
    "name": "wf",
    "data": {"synthetic": {"bars": 1100, "seed": 5, "edge_period": 100, "edge_strength": 0.5}},
    "strategy": "sma_cross",
    "space": {"fast": [3, 8], "slow": [20, 40]},
    "search": {"method": "grid"},
    "validation": {"walk_forward": {"train": 400, "test": 150, "step": 150}},
}


def _write(tmp_path: Path, cfg: dict[str, Any], name: str = "study.yaml") -> Path:
    cfg = json.loads(json.dumps(cfg))
    cfg.setdefault("output", str(tmp_path / "runs"))
    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg))
    return path


def _numbers(report: dict[str, Any]) -> dict[str, Any]:
    """walk_forward.json without what may differ between runs (timings, paths)."""
    return {k: v for k, v in report.items() if k not in ("run", "storage")}


def test_walk_forward_on_real_data_through_the_cli(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = {
        "name": "goog_wf",
        "data": {"path": str(shared_data / "GOOG_1d.csv.gz"), "start": "2008-01-01"},
        "strategy": "sma_cross",
        "space": {"fast": [5, 10, 20], "slow": [50, 100]},
        "search": {"method": "grid"},
        "backtest": {"commission": 0.001},
        "validation": {"walk_forward": {"train": "365d", "test": "180d", "mode": "anchored"}},
    }
    study = _write(tmp_path, cfg)
    with pytest.raises(SystemExit) as done:
        main(["walk-forward", str(study), "--storage", "memory"])
    assert done.value.code in (0, None)
    out = capsys.readouterr().out
    assert "walk-forward" in out and "stitched out of sample" in out
    assert "walk-forward efficiency" in out and "drift fast" in out
    folder = Path(out.split("run folder:")[1].split()[0])
    assert folder.parent == tmp_path / "runs" / "goog_wf" / "walk-forward"
    rows = pd.read_csv(folder / "walk_forward.csv")
    report = json.loads((folder / "walk_forward.json").read_text())
    equity = pd.read_csv(folder / "walk_forward_equity.csv", parse_dates=["timestamp"])
    # 2008-01-02 .. 2013-03-01: train one year, then 180-day test windows while they fit
    assert len(rows) == report["n_windows"] == 8
    rule = "1d bars, none on a weekend: 252 trading days"
    assert report["annualization"] == {"periods_per_year": 252.0, "rule": rule}
    assert (rows["train_start"] == "2008-01-02T00:00:00").all()  # anchored
    assert rows["test_start"].iloc[0] >= "2009-01-02"
    assert (rows["test_start"].iloc[1:].to_numpy() == rows["test_end"].iloc[:-1].to_numpy()).all()
    assert set(rows["params.fast"]) <= {5, 10, 20} and rows["error"].isna().all()
    assert report["stitched"]["bars"] == len(equity) == rows["test_bars"].sum()
    assert equity["timestamp"].is_monotonic_increasing
    final = equity["equity"].iloc[-1] / 10_000 - 1
    assert report["stitched"]["metrics"]["total_return"] == pytest.approx(final)
    assert set(report["drift"]) == {"fast", "slow"}
    assert len(report["drift"]["fast"]["values"]) == 8


def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = json.loads(json.dumps(SYNTHETIC))
    cfg["validation"] = {"walk_forward": {"train": 2000, "test": 100}}
    with pytest.raises(SystemExit) as done:
        main(["walk-forward", str(_write(tmp_path, cfg)), "--storage", "memory"])
    assert done.value.code == 2
    assert "validation.walk_forward: train=2000" in capsys.readouterr().err
    cfg["validation"] = {}
    with pytest.raises(SystemExit) as done:
        main(["walk-forward", str(_write(tmp_path, cfg)), "--storage", "memory"])
    assert done.value.code == 2
    assert "validation.walk_forward: not set" in capsys.readouterr().err


def test_windows_stitching_and_efficiency_add_up(tmp_path: Path) -> None:
    res = walk_forward(_write(tmp_path, SYNTHETIC), storage="memory")
    assert [(w.window.train_start, w.window.test_start, w.window.test_stop)
            for w in res.windows] == [(0, 400, 550), (150, 550, 700), (300, 700, 850),
                                      (450, 850, 1000)]  # fmt: skip
    assert [w.study_name for w in res.windows] == [f"wf/wf-{k:03d}" for k in range(4)]
    # each window's best is the best of its own grid on the train bars
    for w in res.windows:
        assert w.counts == {"complete": 4}
        assert w.values_in == [w.in_sample["sharpe"]]  # type: ignore[index]
    curve = res.equity
    assert len(curve) == 600 and list(curve["window"].unique()) == [0, 1, 2, 3]
    chained = 10_000 * np.cumprod(1 + curve["return"].to_numpy())
    np.testing.assert_allclose(curve["equity"], chained)
    m = compute_metrics(chained, cash=10_000, trades_net_pnl=[], trades_ret=[],
                        trades_bars=[], periods_per_year=365)  # fmt: skip
    assert res.stitched["sharpe"] == pytest.approx(m["sharpe"])
    assert res.stitched["total_return"] == pytest.approx(m["total_return"])
    assert res.stitched["trades"] == sum(w.out_of_sample["trades"] for w in res.windows)  # type: ignore[index]
    mean_is = np.mean([w.in_sample["sharpe"] for w in res.windows])  # type: ignore[index]
    assert res.efficiency["mean_in_sample_sharpe"] == pytest.approx(mean_is)
    assert res.efficiency["sharpe"] == pytest.approx(m["sharpe"] / mean_is)
    mean_cagr = np.mean([w.in_sample["cagr"] for w in res.windows])  # type: ignore[index]
    assert res.efficiency["return"] == pytest.approx(m["cagr"] / mean_cagr)
    values = [w.params["fast"] for w in res.windows]  # type: ignore[index]
    d = res.drift["fast"]
    assert d["values"] == values
    assert d["changes"] == sum(a != b for a, b in itertools.pairwise(values))
    assert d["std"] == pytest.approx(np.std(values))


def test_same_results_with_one_or_two_jobs_and_resume(tmp_path: Path) -> None:
    study = _write(tmp_path, SYNTHETIC)
    url = f"sqlite:///{tmp_path / 'wf.db'}"
    one = walk_forward(study, storage="memory", jobs=1)
    two = walk_forward(study, storage=url, jobs=2)
    a = json.loads((one.run_folder / "walk_forward.json").read_text())
    b = json.loads((two.run_folder / "walk_forward.json").read_text())
    assert _numbers(a) == _numbers(b)
    assert b["run"]["workers"] == 2
    for name in ("walk_forward.csv", "walk_forward_equity.csv"):
        assert (one.run_folder / name).read_text() == (two.run_folder / name).read_text()
    # rerun: every window study is resumed, nothing new runs, the same numbers come out
    again = walk_forward(study, storage=url, jobs=1)
    c = json.loads((again.run_folder / "walk_forward.json").read_text())
    assert _numbers(c) == _numbers(a)
    assert all(w.counts == {"complete": 4} for w in again.windows)
    # the same window names over other train ranges are refused
    moved = _write(tmp_path, {**SYNTHETIC, "validation": {"walk_forward": {
        "train": 300, "test": 150}}}, name="moved.yaml")  # fmt: skip
    with pytest.raises(ConfigError, match="wf/wf-000' already holds a search over"):
        walk_forward(moved, storage=url)


def test_holdout_stays_out_of_the_walk_forward(tmp_path: Path) -> None:
    cfg = json.loads(json.dumps(SYNTHETIC))
    cfg["validation"]["holdout"] = 0.2  # the last 220 bars
    res = walk_forward(load_study(_write(tmp_path, cfg)), storage="memory")
    assert res.report["holdout"]["start"] == str(res.windows[0].train[0] + pd.Timedelta(days=880))
    assert res.windows[-1].test[1] is None or res.windows[-1].test[1] <= pd.Timestamp(
        res.report["holdout"]["start"]
    )
    assert len(res.windows) == 3  # (880 - 400 - 150) // 150 + 1


def test_each_window_search_sees_only_its_train_bars(tmp_path: Path) -> None:
    cfg = json.loads(json.dumps(SYNTHETIC))
    cfg.update(strategy=spy_strategy(tmp_path), space={"k": [1, 2]})
    cfg["validation"] = {"walk_forward": {"train": 300, "test": 100, "purge": 7}}
    res = walk_forward(_write(tmp_path, cfg), storage="memory")
    lines = [ln.split() for ln in (tmp_path / "seen.log").read_text().splitlines()]
    assert len(lines) == 3 * len(res.windows)  # per window: 2 searched, 1 tested
    for k, w in enumerate(res.windows):
        searched, tested = lines[3 * k : 3 * k + 2], lines[3 * k + 2]
        assert w.window.test_start - w.window.train_stop == 7
        for first, last, n in searched:  # exactly the train window, nothing after it
            assert (pd.Timestamp(first), int(n)) == (w.train[0], 300)
            assert pd.Timestamp(last) < w.train[1] < w.test[0]  # type: ignore[operator]
        # the test run: from the first bar (warm-up) to the end of the test window
        assert int(tested[2]) == w.window.test_stop

"""Holdout end to end: the search never sees the tail; the top candidates are re-run on it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from stratopt.backtest import backtest, study_bars
from stratopt.config import load_study
from stratopt.errors import ConfigError
from stratopt.operations import optimize_study
from tests.validation.helpers import spy_strategy

BASE: dict[str, Any] = {
    "name": "ho",
    "data": {"synthetic": {"bars": 1200, "seed": 3, "edge_period": 120, "edge_strength": 0.5}},
    "strategy": "sma_cross",
    "space": {"fast": [2, 5, 8, 11], "slow": [20, 30, 45]},
    "search": {"method": "grid"},
    "validation": {"holdout": 0.25, "top": 4},
}


def _study(tmp_path: Path, **changes: Any) -> Path:
    cfg = json.loads(json.dumps(BASE))
    cfg.update(changes)
    cfg.setdefault("output", str(tmp_path / "runs"))
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_the_search_never_sees_a_holdout_bar(tmp_path: Path) -> None:
    path = _study(tmp_path, strategy=spy_strategy(tmp_path), space={"k": [1, 2, 3, 4, 5, 6]},
                  validation={"holdout": "2002-01-01", "top": 3})  # fmt: skip
    res = optimize_study(load_study(path), storage="memory")
    full = study_bars(load_study(path))[0]
    cut = int(np.searchsorted(full.time, np.datetime64("2002-01-01")))
    lines = [ln.split() for ln in (tmp_path / "seen.log").read_text().splitlines()]
    # The search, and the statistics, robustness and look-ahead checks after it, see only
    # bars before the holdout; the six searched candidates saw all of [0, cut).
    retest = [ln for ln in lines if ln[2] == str(len(full))]
    before = [ln for ln in lines if ln[2] != str(len(full))]
    assert retest == lines[len(before) :]
    assert all(np.datetime64(last) < np.datetime64("2002-01-01") for _, last, _ in before)
    search = lines[:6]
    assert all(n == str(cut) for _, _, n in search)
    assert {last for _, last, _ in search} == {str(full.time[cut - 1])}
    # then the top 3 re-run on all bars (warm-up included), measured on the holdout
    assert len(retest) == 3 and all(n == str(len(full)) for _, _, n in retest)
    summary = json.loads(res.run_folder.summary.read_text())
    assert summary["data"][0]["bars"] == cut
    assert summary["data"][0]["end"] == str(pd.Timestamp(full.time[cut - 1]))
    h = summary["holdout"]
    assert h["start"] == "2002-01-01 00:00:00"
    assert (h["in_sample_bars"], h["holdout_bars"]) == (cut, len(full) - cut)


def test_holdout_metrics_side_by_side(tmp_path: Path) -> None:
    res = optimize_study(load_study(_study(tmp_path)), storage="memory")
    frame = pd.read_csv(res.run_folder.path / "holdout.csv")
    assert len(frame) == 4
    ranked = res.ranked[res.ranked["state"] == "complete"].head(4)
    assert frame["trial"].tolist() == ranked["trial"].tolist()
    np.testing.assert_allclose(frame["is.sharpe"], ranked["metrics.sharpe"])
    np.testing.assert_allclose(frame["is.value"], ranked["value"])
    np.testing.assert_allclose(frame["oos.value"], frame["oos.sharpe"])  # objective: sharpe
    # out of sample = the candidate run over all bars, measured from the cut on
    bars = study_bars(load_study(_study(tmp_path)))[0]
    cut = 900
    best = frame.iloc[0]
    run = backtest(bars, "sma_cross", {"fast": int(best["params.fast"]),
                                       "slow": int(best["params.slow"])})  # fmt: skip
    eq = run.sim.equity
    assert best["oos.total_return"] == pytest.approx(eq[-1] / eq[cut - 1] - 1)
    seg = run.sim.returns[cut:]
    assert best["oos.sharpe"] == pytest.approx(
        seg.mean() / seg.std(ddof=1) * np.sqrt(bars.periods_per_year)
    )
    entered = run.sim.trades[run.sim.trades["entry_idx"] >= cut]
    assert best["oos.trades"] == len(entered)
    # degradation: positive when worse, relative to |in-sample|
    for m, higher in (("sharpe", True), ("max_drawdown", False)):
        i, o = frame[f"is.{m}"], frame[f"oos.{m}"]
        expected = ((i - o) if higher else (o - i)) / i.abs()
        np.testing.assert_allclose(frame[f"degradation.{m}"], expected)
    summary = json.loads(res.run_folder.summary.read_text())
    h = summary["holdout"]
    assert h["top"] == 4 and h["evaluated"] == 4 and h["file"] == "holdout.csv"
    first = h["candidates"][0]
    assert first["params"] == {"fast": int(best["params.fast"]), "slow": int(best["params.slow"])}
    assert first["out_of_sample"]["sharpe"] == pytest.approx(best["oos.sharpe"])
    assert res.holdout is not None and res.holdout.summary == h


@pytest.mark.parametrize(
    ("validation", "space", "match"),
    [
        ({"holdout": 1.2}, None, r"validation\.holdout: a fraction must lie"),
        ({"holdout": "yesterday"}, None, r"validation\.holdout: 'yesterday' is neither"),
        ({"holdout": "1990-01-01"}, None, r"validation\.holdout: '1990-01-01' leaves 0 bar"),
        ({"holdout": 0.2, "top": 0}, None, r"validation\.top"),
        ({"holdout": 0.2}, {"fast": [2, 5], "data": {"end": ["2002-01-01", "2003-01-01"]}},
         r"space\.data\.end: cannot be searched together with validation\.holdout"),
        ({"holdout": 0.2, "walk_forward": {"train": 100, "test": "5x"}}, None,
         r"validation\.walk_forward\.test: '5x' is neither"),
        ({"cpcv": {"groups": 4, "test_groups": 4}}, None,
         r"validation\.cpcv: test_groups \(4\) must be less than groups \(4\)"),
        ({"walk_forward": {"train": 100, "test": 10, "embargo": 5}}, None,
         r"validation\.walk_forward\.embargo: unknown field"),
    ],
)  # fmt: skip
def test_bad_validation_settings_name_the_field(
    tmp_path: Path, validation: dict[str, Any], space: dict[str, Any] | None, match: str
) -> None:
    changes: dict[str, Any] = {"validation": validation}
    if space is not None:
        changes["space"] = space
    with pytest.raises(ConfigError, match=match):
        optimize_study(load_study(_study(tmp_path, **changes)), storage="memory")


def test_yaml_dates_and_fractions_are_read(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    text = _study(tmp_path).read_text().replace("holdout: 0.25", "holdout: 2002-06-30")
    path.write_text(text)
    assert load_study(path).validation.holdout == "2002-06-30"
    assert load_study(_study(tmp_path)).validation.holdout == 0.25


def test_optimize_prints_the_holdout_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from stratopt.cli import main

    with pytest.raises(SystemExit) as done:
        main(["optimize", str(_study(tmp_path)), "--storage", "memory"])
    assert done.value.code in (0, None)
    out = capsys.readouterr().out
    assert "holdout 2002-06-21 → 2003-04-16 (300 bars): in-sample → out-of-sample" in out
    assert "median degradation out of sample: Sharpe" in out
    table = out.split("out-of-sample")[1].split("median degradation")[0]
    assert len([ln for ln in table.splitlines() if ln.strip()[:1].isdigit()]) == 4

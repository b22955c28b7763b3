"""CPCV over return matrices built here: choices, path assembly, metrics, errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stratopt.errors import ConfigError
from stratopt.metrics import compute_metrics
from stratopt.validation import combinatorial_purged_cv


def _noise(bars: int, cols: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 0.01, size=(bars, cols))


def test_counts_and_shapes() -> None:
    res = combinatorial_purged_cv(_noise(600, 8), groups=6, test_groups=2)
    assert res.plan.n_splits == 15 and res.plan.n_paths == 5
    assert res.path_returns.shape == (600, 5)
    assert res.path_choices.shape == (5, 6)
    assert len(res.path_metrics) == 5
    assert list(res.path_metrics.columns) == ["path", "sharpe", "total_return", "max_drawdown",
                                              "cagr", "volatility", "sortino"]  # fmt: skip


def test_the_choice_is_the_best_train_sharpe_and_paths_reuse_its_test_returns() -> None:
    r = _noise(480, 12, seed=4)
    res = combinatorial_purged_cv(r, groups=4, test_groups=2, purge=3, embargo=2,
                                  periods_per_year=252)  # fmt: skip
    for s in res.plan.splits:
        train = r[s.train]
        sharpe = train.mean(axis=0) / train.std(axis=0, ddof=1) * math.sqrt(252)
        assert res.chosen[s.index] == int(np.argmax(sharpe))
        assert res.train_score[s.index] == pytest.approx(sharpe.max())
        test = r[s.test, res.chosen[s.index]]
        assert res.test_score[s.index] == pytest.approx(
            test.mean() / test.std(ddof=1) * math.sqrt(252)
        )
    for j, path in enumerate(res.plan.paths):
        for g, split in enumerate(path):
            a, b = res.plan.bounds[g]
            c = res.chosen[split]
            assert res.path_choices[j, g] == c
            np.testing.assert_array_equal(res.path_returns[a:b, j], r[a:b, c])


def test_path_metrics_are_the_metrics_of_the_compounded_path() -> None:
    r = _noise(300, 5, seed=1)
    res = combinatorial_purged_cv(r, groups=5, test_groups=2, periods_per_year=365)
    for j in range(res.plan.n_paths):
        equity = np.cumprod(1 + res.path_returns[:, j])
        m = compute_metrics(equity, cash=1.0, trades_net_pnl=[], trades_ret=[],
                            trades_bars=[], periods_per_year=365)  # fmt: skip
        row = res.path_metrics.iloc[j]
        for k in ("sharpe", "total_return", "max_drawdown", "cagr"):
            assert row[k] == pytest.approx(m[k])
        assert row["total_return"] == pytest.approx(np.prod(1 + res.path_returns[:, j]) - 1)
    sharpes = res.path_metrics["sharpe"].to_numpy()
    d = res.distribution["sharpe"]
    assert d["p50"] == pytest.approx(np.median(sharpes))
    assert d["p5"] == pytest.approx(np.percentile(sharpes, 5))
    assert d["min"] <= d["p5"] <= d["p50"] <= d["p95"] <= d["max"]


def test_a_planted_edge_is_chosen_everywhere_and_noise_is_not_stable() -> None:
    r = _noise(1200, 30, seed=7)
    r[:, 17] += 0.004  # a strong edge in every bar
    res = combinatorial_purged_cv(r, groups=6, test_groups=2)
    assert set(res.chosen.tolist()) == {17}
    for j in range(res.plan.n_paths):
        np.testing.assert_array_equal(res.path_returns[:, j], r[:, 17])
    assert res.distribution["sharpe"]["min"] > 3
    noise = combinatorial_purged_cv(_noise(1200, 30, seed=8), groups=6, test_groups=2)
    assert len(set(noise.chosen.tolist())) > 1  # noise: the "best" changes with the split
    assert abs(noise.distribution["sharpe"]["mean"]) < 1.5


def test_nan_candidates_are_never_chosen_and_labels_come_from_columns() -> None:
    r = _noise(200, 3, seed=2)
    r[:, 1] += 0.01
    frame = pd.DataFrame(r, columns=["a", "b", "c"])
    frame.iloc[5, 1] = np.nan
    res = combinatorial_purged_cv(frame, groups=4, test_groups=1)
    assert 1 not in res.chosen.tolist()
    data = res.to_dict()
    assert data["n_splits"] == 4 and data["n_paths"] == 1
    assert {s["chosen"] for s in data["splits"]} <= {"a", "c"}  # type: ignore[union-attr]


def test_ties_choose_the_first_candidate() -> None:
    r = np.tile(_noise(100, 1, seed=3), (1, 4))
    res = combinatorial_purged_cv(r, groups=5, test_groups=2)
    assert set(res.chosen.tolist()) == {0}


def test_other_selection_metrics() -> None:
    r = _noise(400, 6, seed=5)
    res = combinatorial_purged_cv(r, groups=4, test_groups=2, metric="total_return")
    for s in res.plan.splits:
        total = np.prod(1 + r[s.train], axis=0) - 1
        assert res.chosen[s.index] == int(np.argmax(total))


def test_bad_input() -> None:
    with pytest.raises(ConfigError, match="did you mean 'sharpe'"):
        combinatorial_purged_cv(_noise(100, 2), metric="sharp")
    with pytest.raises(ConfigError, match=r"cpcv\.test_groups"):
        combinatorial_purged_cv(_noise(100, 2), groups=4, test_groups=4)
    with pytest.raises(ValueError, match="matrix"):
        combinatorial_purged_cv(np.zeros(100))
    with pytest.raises(ValueError, match="NaN"):
        combinatorial_purged_cv(np.full((100, 2), np.nan))


def test_the_study_section_runs_as_keyword_arguments(tmp_path: Path) -> None:
    from stratopt.config import parse_study

    raw = {"name": "c", "data": {"synthetic": {"bars": 100}}, "strategy": "sma_cross",
           "validation": {"cpcv": {"groups": 5, "test_groups": 2, "purge": 2,
                                   "metric": "sortino"}}}  # fmt: skip
    cfg = parse_study(raw, source="s.yaml", base_dir=tmp_path).validation.cpcv
    assert cfg is not None
    res = combinatorial_purged_cv(_noise(300, 4), **cfg.model_dump())
    assert (res.plan.n_splits, res.plan.n_paths, res.metric) == (10, 4, "sortino")
    raw["validation"] = {"cpcv": {"metric": "sharp"}}
    with pytest.raises(ConfigError, match=r"validation\.cpcv\.metric: .*did you mean 'sharpe'"):
        parse_study(raw, source="s.yaml", base_dir=tmp_path)

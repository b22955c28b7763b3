"""Statistics of a finished study: selection rule, callable studies, end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from stratopt.config import load_study
from stratopt.operations import optimize, optimize_study, study_statistics
from stratopt.operations._statistics import distinct_params, select_candidates, verdict


def test_selection_rule() -> None:
    assert select_candidates(5, 200) == [0, 1, 2, 3, 4]
    picked = select_candidates(1000, 10)
    assert picked[:5] == [0, 1, 2, 3, 4]  # the best half of the cap
    assert picked[5:] == [5, 254, 502, 750, 999]  # linspace(5, 999, 5), rounded half-even
    assert len(select_candidates(480, 200)) == 200


def _study(tmp_path: Path, **synthetic: Any) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    cfg = {
        "name": "st",
        "data": {"synthetic": {"bars": 2500, "seed": 3, **synthetic}},
        "strategy": "sma_cross",
        "backtest": {"commission": 0.0002},
        "space": {"fast": {"low": 2, "high": 20, "step": 2}, "slow": [25, 40, 60, 90]},
        "objective": "sharpe",
        "search": {"method": "grid"},
        "output": str(tmp_path / "runs"),
    }
    path = tmp_path / "st.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_optimize_writes_the_statistics_section(tmp_path: Path) -> None:
    res = optimize_study(load_study(_study(tmp_path, edge_period=120, edge_strength=1.0)))
    summary = json.loads(res.run_folder.summary.read_text())
    stats = summary["statistics"]
    assert stats == json.loads(json.dumps(res.statistics))
    assert stats["trials"]["completed"] == res.counts["complete"] == 40
    assert stats["trials"]["rerun_ok"] == 40
    assert stats["best"]["trial"] == int(res.ranked.iloc[0]["trial"])
    # The re-run best has the Sharpe ratio the search stored for it.
    assert stats["best"]["sharpe_annualized"] == pytest.approx(res.best_metrics["sharpe"], rel=1e-6)
    assert stats["dsr"]["n_trials"] == 40
    assert 0.0 <= stats["dsr"]["value"] <= stats["psr"]["value"] <= 1.0
    # A planted edge: the winner generalizes across CSCV splits.
    assert stats["pbo"]["combinations"] == 12870
    assert stats["pbo"]["pbo"] < 0.2
    assert stats["spa"]["studentized"] is True
    assert stats["spa"]["test"] == "SPA (studentized, Hansen 2005)"
    assert "; SPA (studentized, Hansen 2005) p " in stats["verdict"]
    assert 1.0 <= stats["dsr"]["n_trials_implied"] <= 40.0
    assert stats["dsr"]["value"] <= stats["dsr"]["value_implied_trials"]
    assert stats["verdict"].startswith("DSR ")
    assert f"N={stats['trials']['n_backtested']} backtested candidates" in stats["verdict"]


def test_noise_study_is_not_called_significant(tmp_path: Path) -> None:
    res = optimize_study(load_study(_study(tmp_path)))  # a pure random walk
    stats = res.statistics
    assert stats is not None
    assert stats["dsr"]["value"] < 0.95
    assert 0.1 < stats["pbo"]["pbo"] < 0.9


def test_several_objectives_rank_by_the_first() -> None:
    ranked = pd.DataFrame(
        {
            "rank": [1, 2, 3, 4],
            "trial": [0, 1, 2, 3],
            "state": ["complete", "complete", "complete", "fail"],
            "value_0": [0.30, 0.10, 0.20, float("nan")],  # max_drawdown, minimized
            "value_1": [2.0, 0.5, 1.0, float("nan")],
            "params.x": [1, 2, 3, 4],
            "metrics.sharpe": [2.0, 0.5, 1.0, float("nan")],
        }
    )
    stats = study_statistics(ranked, directions=["minimize", "maximize"])
    assert stats["trials"]["completed"] == 3
    assert stats["trials"]["ranked_by"] == "value_0 (first objective)"
    assert stats["min_backtest_length"]["target_sharpe_annualized"] == 0.5  # trial 1
    empty = study_statistics(ranked.iloc[3:], directions=["minimize", "maximize"])
    assert empty["available"] is False
    assert "no completed trial" in empty["verdict"]


def test_callable_study_reports_unavailable(tmp_path: Path) -> None:
    res = optimize(
        lambda p: {"sharpe": 1.0 + p["x"] / 10.0, "trades": 50},
        {"x": {"low": 0, "high": 5}},
        method="grid",
        output=tmp_path / "runs",
    )
    stats = json.loads(res.run_folder.summary.read_text())["statistics"]
    assert stats["trials"]["completed"] == 6
    for key in ("psr", "dsr", "pbo", "spa"):
        assert stats[key]["available"] is False
        assert "Python function" in stats[key]["reason"]
    assert stats["min_backtest_length"]["target_sharpe_annualized"] == 1.5
    assert stats["verdict"].startswith("DSR unavailable")


def _cli(*args: str) -> Any:
    # In-process (typer's runner): a subprocess would pay numba's and scipy's imports again.
    from typer.testing import CliRunner

    from stratopt.cli import app

    return CliRunner().invoke(app, list(args))


def test_optimize_prints_the_verdict_and_show_the_statistics(tmp_path: Path) -> None:
    path = _study(tmp_path, edge_period=120, edge_strength=1.0)
    proc = _cli("optimize", str(path), "--top", "2")
    assert proc.exit_code == 0, proc.output
    assert "overfitting: DSR" in proc.output
    proc = _cli("show", str(path), "--top", "2")
    assert proc.exit_code == 0, proc.output
    assert "overfitting statistics" in proc.output
    assert "PBO" in proc.output and "E[max Sharpe]" in proc.output
    assert "SPA (studentized, Hansen 2005): p-value (consistent)" in proc.output
    assert "overfitting: DSR" in proc.output


def _stats(dsr: float, pbo: float, spa: float, test: str | None = None) -> dict[str, Any]:
    return {
        "trials": {"completed": 480},
        "best": {"sharpe_annualized": 1.49},
        "dsr": {"value": dsr, "expected_max_sharpe_annualized": 1.8},
        "pbo": {"pbo": pbo},
        "spa": {"pvalue_consistent": spa, **({"test": test} if test else {})},
    }


def test_verdict_lines() -> None:

    studentized = "SPA (studentized, Hansen 2005)"
    assert verdict(_stats(0.12, 0.61, 0.43, studentized)) == (
        "DSR 0.12 — the best Sharpe (1.49 annualized) is likely a fluke of N=480 backtested "
        "candidates (luck alone would give 1.80); PBO 0.61; SPA (studentized, Hansen 2005) p 0.43"
    )
    # A section stored before stratopt studentized the statistic does not claim it.
    assert verdict(_stats(0.12, 0.61, 0.43)).endswith("; SPA (not studentized, older run) p 0.43")
    assert "is not significantly above the 1.80" in verdict(_stats(0.8, 0.4, 0.2))
    assert "beats the 1.80 luck would give the best of N=480 backtested candidates" in verdict(
        _stats(0.97, 0.1, 0.01)
    )
    assert "PBO and SPA point to a real edge" in verdict(_stats(0.3, 0.05, 0.01))
    assert "yet by PBO" in verdict(_stats(0.99, 0.68, 0.01))
    assert "yet by PBO" not in verdict(_stats(0.99, 0.2, 0.01))


def test_distinct_params_keeps_the_first_of_each_set_in_rank_order() -> None:
    done = pd.DataFrame({
        "trial": [7, 3, 9, 4], "state": ["complete"] * 4,
        "params.fast": [2, 2, 5, 2], "params.stop": [0.1, 0.1, float("nan"), 0.2],
        "params.mode": ["a", "a", "b", "a"],
    })  # fmt: skip
    params, trials = distinct_params(done)
    assert trials == [7, 9, 4]
    assert params == [{"fast": 2, "stop": 0.1, "mode": "a"}, {"fast": 5, "mode": "b"},
                      {"fast": 2, "stop": 0.2, "mode": "a"}]  # fmt: skip
    assert type(params[0]["fast"]) is int and type(params[0]["stop"]) is float


def test_a_sharpe_requirement_changes_neither_n_nor_the_dsr(tmp_path: Path) -> None:
    # The same 40 grid candidates; the requirement prunes the worse ones after they ran.
    # They were backtested: N and the trials' Sharpe variance must still count them.
    free = optimize_study(load_study(_study(tmp_path / "free")))
    path = _study(tmp_path / "req")
    cfg = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**cfg, "require": {"sharpe": ">= 0.0"}}))
    req = optimize_study(load_study(path))
    assert 5 <= req.counts["pruned"] <= 35 and req.counts["complete"] + req.counts["pruned"] == 40
    a, b = free.statistics, req.statistics
    assert a is not None and b is not None
    assert b["trials"]["n_complete"] == req.counts["complete"]
    assert a["trials"]["n_backtested"] == b["trials"]["n_backtested"] == 40
    assert a["dsr"]["n_trials"] == b["dsr"]["n_trials"] == 40
    for key in ("trials_sharpe_variance_annualized", "expected_max_sharpe_annualized", "value"):
        assert b["dsr"][key] == pytest.approx(a["dsr"][key], rel=1e-12), key
    assert b["trials"]["rerun_ok"] == 40
    assert b["pbo"]["pbo"] == pytest.approx(a["pbo"]["pbo"])
    assert "N=40 backtested candidates" in b["verdict"]

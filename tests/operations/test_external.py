"""External evaluators through the operations: walk-forward windows and stitching,
validate's statistics from returned equity curves (or a line saying why not), the
look-ahead check on returned curves, and the same trials whatever `jobs`."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest
import yaml
from optuna.trial import TrialState

from stratopt.cli import main
from stratopt.config import StudyConfig, load_study
from stratopt.data import Bars
from stratopt.evaluation import StudyData
from stratopt.operations import optimize_study, validate_study, walk_forward
from stratopt.stats import probability_of_backtest_overfitting, sample_moments

PROGRAMS = Path(__file__).parents[1] / "evaluation" / "programs"
TREND = PROGRAMS / "trend.py"
TOY = PROGRAMS / "toy.py"
CASH = 10_000.0


def _trend() -> ModuleType:
    spec = importlib.util.spec_from_file_location("trend_for_tests", TREND)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(tmp_path: Path, name: str, evaluator: dict[str, Any], **more: Any) -> Path:
    cfg: dict[str, Any] = {
        "name": name,
        "data": {"synthetic": {"bars": 600, "seed": 4}},
        "evaluator": evaluator,
        "space": {"n": [5, 10, 20]},
        "search": {"method": "grid"},
        "output": str(tmp_path / "runs"),
        **more,
    }
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _bars(study: StudyConfig) -> Bars:
    (bars,) = StudyData(study).get(())
    return bars


def _curve(params: dict[str, Any], bars: Bars, stop: int) -> pd.Series:
    """The evaluator's equity curve over bars ``0:stop``, computed here."""
    equity, _ = _trend().run(params, SimpleNamespace(bars=[bars.slice(0, stop)]))
    return equity  # type: ignore[no-any-return]


def _calls(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_walk_forward_gives_the_evaluator_each_window_and_stitches_its_curves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("TREND_CALLS", str(log))
    wf = {"walk_forward": {"train": 200, "test": 100, "step": 100}}
    study = load_study(_write(tmp_path, "wf", {"python": f"{TREND}:trend"}, validation=wf))
    result = walk_forward(study, storage="memory")
    bars = _bars(study)

    def at(i: int) -> str:
        return str(pd.Timestamp(bars.time[i]))

    assert len(result.windows) == 4
    expected = []
    for w in result.windows:
        win = w.window
        for n in (5, 10, 20):  # the train window's search: it is all the evaluator sees
            expected.append(
                {"params": {"n": n}, "data_start": at(win.train_start),
                 "start": at(win.train_start), "end": at(win.train_stop - 1)}
            )  # fmt: skip
        expected.append(  # the best, measured on the test window after warming up before it
            {"params": w.params, "data_start": at(0), "start": at(win.test_start),
             "end": at(win.test_stop - 1)}
        )  # fmt: skip
    calls = _calls(log)
    assert [{k: c[k] for k in ("params", "data_start", "start", "end")} for c in calls] == expected
    for c in calls:  # the bars handed over are those of the period's data_start..end
        assert pd.Timestamp(c["first_bar"]) == pd.Timestamp(c["data_start"])
        assert pd.Timestamp(c["last_bar"]) == pd.Timestamp(c["end"])

    pieces = []
    for w in result.windows:
        equity = _curve(dict(w.params), bars, w.window.test_stop)
        pieces.append((equity / equity.shift(1) - 1).iloc[w.window.test_start :])
    returns = pd.concat(pieces)
    assert list(result.equity.index) == list(returns.index)
    np.testing.assert_allclose(result.equity["return"], returns, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(result.equity["equity"], CASH * np.cumprod(1 + returns), rtol=1e-12)
    assert result.stitched["final_equity"] == pytest.approx(CASH * np.prod(1 + returns), rel=1e-12)


def test_validate_takes_dsr_and_pbo_from_the_returned_curves_rerunning_lost_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    grid = [3, 5, 8, 12, 20, 30, 50, 80]
    path = _write(tmp_path, "val", {"python": f"{TREND}:trend"}, space={"n": grid},
                  data={"synthetic": {"bars": 800, "seed": 4}})  # fmt: skip
    study = load_study(path)
    result = optimize_study(study, analyze=False)
    shutil.rmtree(tmp_path / "runs" / "val" / "external")  # the kept curves are lost
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("TREND_CALLS", str(log))
    stats = validate_study(study).sections["statistics"]
    assert sorted(c["params"]["n"] for c in _calls(log)) == grid  # each run again, once

    stored = optuna.load_study(study_name="val", storage=result.storage)
    ranked = sorted(stored.get_trials(states=(TrialState.COMPLETE,)), key=lambda t: -t.values[0])
    bars = _bars(study)
    matrix = np.column_stack(
        [_curve(t.params, bars, len(bars)).pct_change().fillna(0.0) for t in ranked]
    )
    moments = sample_moments(matrix[:, 0])
    assert stats["best"]["trial"] == ranked[0].number
    assert stats["best"]["sharpe_per_period"] == pytest.approx(moments.sharpe, rel=1e-9)
    assert 0.0 < stats["dsr"]["value"] < 1.0 and stats["dsr"]["n_trials"] == len(grid)
    assert stats["trials"]["rerun_ok"] == len(grid)
    pbo = probability_of_backtest_overfitting(matrix, partitions=stats["pbo"]["partitions"])
    assert stats["pbo"]["pbo"] == pytest.approx(pbo.summary()["pbo"], rel=1e-12)
    assert "unavailable" not in stats


def test_an_evaluator_returning_only_metrics_gets_what_needs_no_returns_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "metrics_only", {"python": f"{TREND}:trend_metrics"})
    optimize_study(load_study(path), analyze=False)
    with pytest.raises(SystemExit) as done:
        main(["validate", str(path)])
    assert done.value.code in (0, None)
    out = " ".join(capsys.readouterr().out.split())
    assert (
        "overfitting: DSR unavailable (the evaluator returns metrics only, no equity curve: "
        "stratopt has no returns of its trials); nor are the best's moments, PSR, MinTRL, "
        "PBO, SPA" in out
    )
    (folder,) = (tmp_path / "runs" / "metrics_only" / "validate").iterdir()
    stats = json.loads((folder / "validation.json").read_text())["statistics"]
    assert stats["trials"]["completed"] == 3
    assert stats["min_backtest_length"]["years"] > 0  # from the stored Sharpe ratios
    assert stats["dsr"]["available"] is False and stats["pbo"]["available"] is False
    assert stats["unavailable"]["statistics"] == [
        "best", "psr", "dsr", "min_track_record_length", "pbo", "spa",
    ]  # fmt: skip


@pytest.mark.parametrize(("function", "code"), [("trend", 0), ("trend_peeking", 1)])
def test_check_lookahead_compares_the_returned_curves_on_truncated_windows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], function: str, code: int
) -> None:
    path = _write(tmp_path, function, {"python": f"{TREND}:{function}"}, space={"n": [5, 20]})
    with pytest.raises(SystemExit) as done:
        main(["check-lookahead", str(path), "--points", "8"])
    out = " ".join(capsys.readouterr().out.split())
    assert done.value.code == code, out
    if code:
        assert "equity: full data -> truncated data" in out
        assert "leak(s) in 2 parameter set(s) (2 parameter set(s) x 1 series x 8" in out
    else:
        assert "look-ahead check: clean (2 parameter set(s) x 1 series x 8" in out


@pytest.mark.parametrize("kind", ["python", "command"])
def test_the_same_seed_gives_the_same_trials_with_one_or_two_jobs(
    tmp_path: Path, kind: str
) -> None:
    if kind == "python":
        evaluator: dict[str, Any] = {"python": f"{TREND}:trend"}
        space: dict[str, Any] = {"n": {"low": 2, "high": 80}}
    else:
        evaluator = {"command": ["python", str(TOY), "ok", "{params_json}", "{start}", "{end}"]}
        space = {"x": {"low": 0.0, "high": 6.0}}
    seen = []
    for jobs in (1, 2):
        search = {"method": "tpe", "trials": 12, "seed": 11, "jobs": jobs, "startup_trials": 4}
        path = _write(tmp_path / str(jobs), "det", evaluator, space=space, search=search)
        result = optimize_study(load_study(path), analyze=False)
        trials = optuna.load_study(study_name="det", storage=result.storage).trials
        seen.append([(t.number, t.state, t.params, t.values) for t in trials])
    assert seen[0] == seen[1]
    assert sum(state == TrialState.COMPLETE for _, state, _, _ in seen[0]) == 12

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest
import sqlalchemy
import yaml

from stratopt.config import load_study
from stratopt.operations import optimize, optimize_study

ROOT = Path(__file__).resolve().parents[1]

BASE: dict[str, Any] = {
    "name": "t",
    "data": {"synthetic": {"bars": 3000, "seed": 3, "edge_period": 120, "edge_strength": 0.5}},
    "strategy": "sma_cross",
    "backtest": {"commission": 0.0005},
    "space": {"fast": {"low": 2, "high": 20, "step": 3}, "slow": [20, 30, 45, 70]},
    "constraints": ["slow - fast >= 12"],
    "objective": "sharpe",
}


def _study(tmp_path: Path, **changes: Any) -> Path:
    cfg = json.loads(json.dumps(BASE))
    for key, value in changes.items():
        cfg[key] = value
    cfg.setdefault("output", str(tmp_path / "runs"))
    path = tmp_path / f"{cfg['name']}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _ranked(result: Any) -> pd.DataFrame:
    return pd.read_csv(result.run_folder.ranked).drop(columns=["runtime_s"])


def test_grid_is_the_cartesian_product_minus_constraints_exactly_once(tmp_path: Path) -> None:
    res = optimize_study(load_study(_study(tmp_path, search={"method": "grid"})))
    ranked = pd.read_csv(res.run_folder.ranked)
    got = sorted(zip(ranked["params.fast"], ranked["params.slow"], strict=True))
    expected = sorted(
        (f, s) for f, s in itertools.product(range(2, 21, 3), [20, 30, 45, 70]) if s - f >= 12
    )
    assert got == expected
    assert (ranked["state"] == "complete").all()
    assert res.stopped_by == "target"
    # Resuming a finished grid runs nothing new.
    again = optimize_study(load_study(_study(tmp_path, search={"method": "grid"})))
    assert len(pd.read_csv(again.run_folder.ranked)) == len(expected)
    assert again.counts["complete"] == len(expected)


@pytest.mark.parametrize("method", ["random", "tpe"])
def test_same_seed_same_results_whatever_jobs(tmp_path: Path, method: str) -> None:
    runs = []
    for k, jobs in enumerate((1, 2)):
        path = _study(
            tmp_path,
            name=f"det{k}",
            search={"method": method, "trials": 25, "seed": 7, "jobs": jobs},
            space={"fast": {"low": 2, "high": 30}, "slow": {"low": 31, "high": 120}},
            constraints=[],
        )
        runs.append(_ranked(optimize_study(load_study(path))))
    pd.testing.assert_frame_equal(runs[0], runs[1])
    assert runs[0]["params.fast"].nunique() > 5


# Two spaces for the bulk-drawn random search: one of every kind of dimension (a
# continuous float checks the draws bit for bit), and a small discrete one whose
# constraint and duplicates prune candidates in the middle of a batch.
_MIXED_SPACE = {
    "fast": {"low": 2, "high": 30},
    "slow": {"low": 31, "high": 120, "step": 3},
    "mode": ["reversal", "long_only"],
    "backtest": {"slippage_bps": {"low": 0.0, "high": 5.0}, "commission": [0.0005]},
}
_SMALL_SPACE = {"fast": {"low": 2, "high": 20, "step": 3}, "slow": [20, 30, 45, 70]}


def _optuna_random_draws(
    distributions: dict[str, optuna.distributions.BaseDistribution], seed: int, n: int
) -> list[dict[str, Any]]:
    """The candidates of Optuna's own ask/suggest loop with a seeded RandomSampler."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    return [study.ask(fixed_distributions=distributions).params for _ in range(n)]


@pytest.mark.parametrize("case", ["mixed", "small"])
def test_random_draws_written_in_bulk_are_optunas_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """In memory and on SQLite random candidates skip Optuna's per-trial round trips.

    The trials are those of Optuna's own path: the same candidates, numbered alike,
    pruned, completed and recorded alike.
    """
    dist = optuna.distributions
    if case == "mixed":
        space, constraints, trials = _MIXED_SPACE, [], 40
        # The study file's keys are written sorted: the space's order.
        reference = {
            "backtest.commission": dist.CategoricalDistribution([0.0005]),
            "backtest.slippage_bps": dist.FloatDistribution(0.0, 5.0),
            "fast": dist.IntDistribution(2, 30),
            "mode": dist.CategoricalDistribution(["reversal", "long_only"]),
            "slow": dist.IntDistribution(31, 118, step=3),
        }
    else:
        space, constraints, trials = _SMALL_SPACE, BASE["constraints"], 9
        reference = {
            "fast": dist.IntDistribution(2, 20, step=3),
            "slow": dist.CategoricalDistribution([20, 30, 45, 70]),
        }

    def run(storage: str, name: str) -> Any:
        search = {"method": "random", "trials": trials, "seed": 11, "batch": 16}
        path = _study(
            tmp_path, name=name, search=search, space=space, constraints=constraints,
            storage=storage,
        )  # fmt: skip
        return optimize_study(load_study(path))

    memory = run("memory", "mem")
    sqlite = run(f"sqlite:///{tmp_path / 'bulk.db'}", "db")
    with monkeypatch.context() as m:
        m.setattr("stratopt.search._runner.bulk_written", lambda study: False)
        asked = run("memory", "asked")  # every candidate through study.ask()
    ranked = _ranked(asked)
    pd.testing.assert_frame_equal(_ranked(memory), ranked)
    pd.testing.assert_frame_equal(_ranked(sqlite), ranked)
    assert memory.counts["complete"] == trials and memory.counts["running"] == 0
    if case == "small":
        reasons = ranked["pruned"].fillna("")
        assert reasons.str.startswith("constraint").any() and reasons.str.startswith("dup").any()
    # Trial k holds the k-th candidate of a plain Optuna loop, pruned ones included
    # (compared in memory: the CSV's text need not give back every float's last bit).
    draws = _optuna_random_draws(reference, seed=11, n=len(ranked))
    by_number = memory.ranked.sort_values("trial")
    for name in reference:
        assert list(by_number[f"params.{name}"]) == [d[name] for d in draws], name


def test_queued_trials_run_before_bulk_random_draws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A queued trial is still handed out first (through Optuna's ask), then draws go on."""
    queued = {"fast": 7, "slow": 100, "mode": "long_only", "backtest.slippage_bps": 1.25}
    db = f"sqlite:///{tmp_path / 'bulk.db'}"

    def run(storage: str, trials: int) -> Any:
        search = {"method": "random", "trials": trials, "seed": 11, "batch": 16}
        path = _study(
            tmp_path, name="q", search=search, space=_MIXED_SPACE, constraints=[], storage=storage
        )
        return optimize_study(load_study(path))

    def queue(storage: Any) -> None:
        study = optuna.create_study(
            study_name="q", storage=storage, direction="maximize", load_if_exists=True
        )
        study.enqueue_trial(queued)

    # SQLite: a resumed study with a queued trial.
    first = run(db, 40)
    assert first.counts["complete"] == 40 and first.counts["running"] == 0
    queue(db)
    more = run(db, 45)
    ran = [
        t
        for t in optuna.load_study(study_name="q", storage=db).trials
        if queued.items() <= t.params.items()
    ]
    assert [(t.number, t.state) for t in ran] == [(40, optuna.trial.TrialState.COMPLETE)]
    assert more.counts["complete"] == 45 and more.counts["waiting"] == 0

    # In memory: the queued trial is trial 0, the bulk draws follow as through study.ask().
    def queued_in_memory() -> Any:
        storage = optuna.storages.InMemoryStorage()
        queue(storage)
        monkeypatch.setattr("stratopt.search._study.open_storage", lambda url, **kw: storage)
        return _ranked(run("memory", 20))

    bulk = queued_in_memory()
    monkeypatch.setattr("stratopt.search._runner.bulk_written", lambda study: False)
    pd.testing.assert_frame_equal(bulk, queued_in_memory())
    first_trial = bulk.set_index("trial").loc[0]
    assert first_trial["state"] == "complete"
    assert {k: first_trial[f"params.{k}"] for k in queued} == queued
    assert len(bulk) == 20


def test_run_folder_files(tmp_path: Path) -> None:
    res = optimize_study(load_study(_study(tmp_path, search={"method": "random", "trials": 8})))
    folder = res.run_folder.path
    assert folder.parent.name == "t" and folder.parent.parent == tmp_path / "runs"
    summary = json.loads(res.run_folder.summary.read_text())
    assert summary["counts"]["complete"] == 8
    assert summary["config"]["search"]["seed"] == 0
    assert summary["data"][0]["bars"] == 3000
    assert set(summary["versions"]) >= {"python", "numpy", "optuna", "stratopt"}
    assert summary["best"]["params"] == res.best_params
    best = yaml.safe_load(res.run_folder.best_yaml.read_text())  # type: ignore[union-attr]
    assert best["params"]["fast"] == res.best_params["fast"]  # type: ignore[index]
    proc = subprocess.run(
        [sys.executable, "-m", "stratopt.cli", "backtest", str(res.run_folder.best_yaml), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["metrics"]["sharpe"] == pytest.approx(res.best_metrics["sharpe"])  # type: ignore[index]
    # The study is an ordinary Optuna study.
    storage = summary["storage"]
    study = optuna.load_study(study_name="t", storage=storage)
    trial = study.best_trial
    assert set(trial.user_attrs["stratopt"]["metrics"]) >= {"sharpe", "trades", "cagr"}


def test_tpe_finds_the_planted_edge_near_the_grid_optimum(tmp_path: Path) -> None:
    space = {"fast": {"low": 2, "high": 30}, "slow": {"low": 10, "high": 120, "step": 2}}
    common = {"space": space, "constraints": ["fast < slow"], "backtest": {"commission": 0.0}}
    grid = optimize_study(
        load_study(_study(tmp_path, name="g", search={"method": "grid"}, **common))
    )
    tpe = optimize_study(
        load_study(
            _study(tmp_path, name="p", search={"method": "tpe", "trials": 100, "seed": 1}, **common)
        )
    )
    assert grid.best_values is not None and tpe.best_values is not None
    assert tpe.best_values[0] >= 0.95 * grid.best_values[0]


def test_python_api_with_failures_and_equity_curves(tmp_path: Path) -> None:
    def objective(p: dict[str, Any]) -> Any:
        if p["x"] == 3:
            raise ValueError("three is unlucky")
        if p["x"] == 4:
            return {"sharpe": float("nan"), "trades": 10.0}
        if p["x"] % 2:
            rng = np.random.default_rng(p["x"])
            return pd.Series(100 * np.exp(np.cumsum(rng.normal(0.001, 0.01, 300))))
        return {"sharpe": -abs(p["x"] - 6) + p["y"], "trades": 60.0}

    res = optimize(
        objective,
        {"x": {"low": 0, "high": 9}, "y": [0.0, 0.5]},
        method="grid",
        trials=20,
        require={"trades": ">= 50"},
        output=tmp_path / "api",
        study_name="api",
    )
    ranked = pd.read_csv(res.run_folder.ranked)
    assert len(ranked) == 20
    failed = ranked[ranked["state"] == "fail"]
    assert set(failed["params.x"]) == {3, 4}
    assert "ValueError: three is unlucky" in set(failed["error"])
    assert res.best_params == {"x": 6, "y": 0.5}
    # Odd x return equity curves without trades: pruned by the trades requirement.
    assert set(ranked[ranked["state"] == "pruned"]["params.x"]) == {1, 5, 7, 9}


def test_bulk_random_records_failures_as_optunas_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In memory: errors, NaN and unmet requirements are recorded as through study.ask()."""

    def objective(p: dict[str, Any]) -> Any:
        if p["x"] == 3:
            raise ValueError("three is unlucky")
        if p["x"] == 4:
            return {"sharpe": float("nan"), "trades": 10.0}
        return {"sharpe": p["y"] - abs(p["x"] - 6), "trades": 60.0 if p["x"] % 2 else 10.0}

    def run(name: str) -> pd.DataFrame:
        res = optimize(
            objective,
            {"x": {"low": 0, "high": 9}, "y": {"low": 0.0, "high": 1.0}},
            method="random",
            trials=15,
            seed=5,
            batch=8,
            require={"trades": ">= 50"},
            storage="memory",
            output=tmp_path,
            study_name=name,
            analyze=False,
        )
        assert res.counts["complete"] == 15
        return pd.read_csv(res.run_folder.ranked).drop(columns=["runtime_s"])

    bulk = run("bulk")
    monkeypatch.setattr("stratopt.search._runner.bulk_written", lambda study: False)
    pd.testing.assert_frame_equal(bulk, run("asked"))
    failed = bulk[bulk["state"] == "fail"]
    assert set(failed["params.x"]) == {3, 4}
    assert "ValueError: three is unlucky" in set(failed["error"])
    assert set(bulk[bulk["state"] == "pruned"]["params.x"]) <= {0, 2, 6, 8}
    assert (bulk["state"] == "pruned").any()


def _raising_and_hanging_strategy(tmp_path: Path) -> str:
    (tmp_path / "moody.py").write_text(
        "import time\n"
        "import numpy as np\n"
        "from stratopt.strategies import IntParam, Strategy\n\n"
        "class Moody(Strategy):\n"
        "    name = 'moody'\n"
        "    k = IntParam(5, low=1)\n\n"
        "    def signals(self, bars, p, cache):\n"
        "        if p['k'] == 3:\n"
        "            raise RuntimeError('k=3 breaks')\n"
        "        if p['k'] == 4:\n"
        "            time.sleep(600)\n"
        "        out = np.zeros(len(bars), dtype=np.int8)\n"
        "        out[:: p['k'] * 10] = 1\n"
        "        out[p['k'] * 5 :: p['k'] * 10] = -1\n"
        "        return out\n"
    )
    return "moody.py:Moody"


def test_raising_and_hanging_candidates_fail_and_the_study_goes_on(tmp_path: Path) -> None:
    path = _study(
        tmp_path,
        strategy=_raising_and_hanging_strategy(tmp_path),
        space={"k": [1, 2, 3, 4, 5, 6]},
        constraints=[],
        search={"method": "grid", "jobs": 2, "trial_timeout": 8},
    )
    start = time.monotonic()
    res = optimize_study(load_study(path))
    assert time.monotonic() - start < 300
    ranked = pd.read_csv(res.run_folder.ranked).set_index("params.k")
    assert ranked.loc[3, "state"] == "fail" and "k=3 breaks" in ranked.loc[3, "error"]
    assert ranked.loc[4, "state"] == "fail" and "timed out" in ranked.loc[4, "error"]
    assert (ranked.loc[[1, 2, 5, 6], "state"] == "complete").all()


def test_a_candidate_whose_window_passes_int64_fails_and_the_study_goes_on(
    tmp_path: Path,
) -> None:
    """A strategy whose rules compute a window past int64 (the search's values stay
    within ±2**53; their product does not) refuses that candidate with a message naming
    the window; the whole study stopped on OverflowError before."""
    (tmp_path / "scaled.py").write_text(
        "from stratopt.engine import Signal\n"
        "from stratopt.strategies import IntParam, Strategy, above, below, on, sma\n\n"
        "class Scaled(Strategy):\n"
        "    name = 'scaled'\n"
        "    window = IntParam(5, low=2)\n"
        "    scale = IntParam(1, low=1)\n\n"
        "    def rules(self, p):\n"
        "        avg = sma('close', p['window'] * p['scale'])\n"
        "        return [on(above('close', avg), Signal.LONG),\n"
        "                on(below('close', avg), Signal.SHORT)]\n"
    )
    path = _study(
        tmp_path,
        strategy="scaled.py:Scaled",
        space={"window": [5, 2048], "scale": [1, 2**53]},
        constraints=[],
        search={"method": "grid"},
    )
    res = optimize_study(load_study(path))
    ranked = pd.read_csv(res.run_folder.ranked).set_index(["params.window", "params.scale"])
    assert len(ranked) == 4
    refused = ranked.loc[(2048, 2**53)]
    assert refused["state"] == "fail"
    assert refused["error"] == f"sma: window must be from 1 to 2**53 bars, got {2**64}"
    assert (
        ranked.loc[(5, 1), "state"] == "complete" and ranked.loc[(2048, 1), "state"] == "complete"
    )


def test_killed_run_resumes_to_the_exact_target_without_duplicates(tmp_path: Path) -> None:
    path = _study(
        tmp_path,
        name="killed",
        search={"method": "random", "trials": 200, "seed": 5, "batch": 1},
        space={"fast": {"low": 2, "high": 25}, "slow": {"low": 26, "high": 90}},
        constraints=[],
    )
    cmd = [sys.executable, "-m", "stratopt.cli", "optimize", str(path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = tmp_path / "runs" / "stratopt.db"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        time.sleep(0.1)  # trials take milliseconds: a slow poll can miss the window
        if db.exists() and _complete_count(db, "killed") >= 10:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = _complete_count(db, "killed")
    assert 10 <= done_before < 200
    res = optimize_study(load_study(path))
    study = optuna.load_study(study_name="killed", storage=f"sqlite:///{db}")
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 200 == res.counts["complete"]
    keys = [(t.params["fast"], t.params["slow"]) for t in complete]
    assert len(set(keys)) == len(keys)


def _complete_count(db: Path, name: str) -> int:
    try:
        study = optuna.load_study(study_name=name, storage=f"sqlite:///{db}")
    # Not created yet, being written, or its tables being created by the run (both sides
    # create Optuna's schema on first use; the loser of that race gets an IntegrityError).
    except (KeyError, sqlalchemy.exc.OperationalError, sqlalchemy.exc.IntegrityError):
        return 0
    return sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)


def test_several_symbols_aggregate_and_per_symbol_metrics(
    tmp_path: Path, shared_data: Path
) -> None:
    paths = [str(shared_data / f"{s}_1d.csv.gz") for s in ("AAPL", "MSFT", "IBM")]
    results = {}
    for how in ("mean", "worst", "portfolio"):
        path = _study(
            tmp_path,
            name=f"multi_{how}",
            data={"path": paths, "start": "2005-01-01", "end": "2010-12-31"},
            aggregate=how,
            search={"method": "grid"},
            space={"fast": [5, 10], "slow": [30, 60]},
            constraints=[],
        )
        res = optimize_study(load_study(path))
        results[how] = res
        study = optuna.load_study(study_name=f"multi_{how}", storage=json.loads(
            res.run_folder.summary.read_text())["storage"])  # fmt: skip
        rec = study.trials[0].user_attrs["stratopt"]
        assert set(rec["per_symbol"]) == {"AAPL", "MSFT", "IBM"}
        per = rec["per_symbol"]
        sharpe = [float(per[s]["sharpe"]) for s in per]
        if how == "mean":
            assert float(rec["metrics"]["sharpe"]) == pytest.approx(np.mean(sharpe))
        if how == "worst":
            assert float(rec["metrics"]["sharpe"]) == pytest.approx(min(sharpe))
    assert results["portfolio"].best_metrics is not None


def test_weighted_score_components_and_adaptive_bounds(tmp_path: Path) -> None:
    weights = {"sharpe": 0.30, "profit_factor": 0.25, "calmar": 0.25, "max_drawdown": -0.20}
    path = _study(
        tmp_path,
        name="weighted",
        objective={"weights": weights, "normalize": "adaptive", "refresh": 5},
        search={"method": "random", "trials": 12, "seed": 2},
        space={"fast": {"low": 2, "high": 20}, "slow": {"low": 25, "high": 90}},
        constraints=[],
    )
    res = optimize_study(load_study(path))
    storage = json.loads(res.run_folder.summary.read_text())["storage"]
    study = optuna.load_study(study_name="weighted", storage=storage)
    for t in study.trials:
        comps = t.user_attrs["stratopt"]["components"]
        weighted = [float(v) for k, v in comps.items() if k.endswith(".weighted")]
        assert len(weighted) == 4
        assert t.value == pytest.approx(sum(weighted))
    state = study.user_attrs["stratopt:normalizer"]
    assert state  # bounds persisted with the study, refreshed from completed trials
    ranked = pd.read_csv(res.run_folder.ranked)
    assert {"components.sharpe.norm", "components.max_drawdown.weighted"} <= set(ranked.columns)


@pytest.mark.parametrize(("mode", "pruned_expected"), [("strict", True), ("lenient", False)])
def test_strict_and_lenient_requirements(tmp_path: Path, mode: str, pruned_expected: bool) -> None:
    # One violated requirement (an impossible Sharpe) and one that holds.
    path = _study(
        tmp_path,
        name=f"req_{mode}",
        require={"sharpe": ">= 50", "trades": ">= 1", "mode": mode},
        search={"method": "grid"},
        space={"fast": [5, 10], "slow": [40]},
        constraints=[],
    )
    res = optimize_study(load_study(path))
    ranked = pd.read_csv(res.run_folder.ranked)
    states = set(ranked["state"])
    assert states == ({"pruned"} if pruned_expected else {"complete"})
    assert ranked["violations"].str.contains("sharpe").all()
    if pruned_expected:
        assert ranked["pruned"].str.startswith("requirements: sharpe").all()


@pytest.mark.parametrize("method", ["grid", "random", "tpe", "cmaes", "nsga2", "qmc"])
def test_every_method_runs_a_real_study(tmp_path: Path, method: str) -> None:
    from stratopt.search import SAMPLERS

    assert method in SAMPLERS
    path = _study(
        tmp_path,
        name=f"m_{method}",
        search={"method": method, "trials": 12, "seed": 3},
        space={"fast": {"low": 2, "high": 20}, "slow": {"low": 25, "high": 90, "step": 5}},
        constraints=[],
    )
    res = optimize_study(load_study(path))
    assert res.counts["complete"] == 12 or (method == "grid" and res.counts["complete"] > 12)
    assert res.best_params is not None


def test_pareto_front_ranks_first(tmp_path: Path) -> None:
    path = _study(
        tmp_path,
        name="pareto",
        objective={"maximize": ["sharpe"], "minimize": ["max_drawdown"]},
        search={"method": "nsga2", "trials": 30, "seed": 1, "population": 10},
        space={"fast": {"low": 2, "high": 20}, "slow": {"low": 25, "high": 120}},
        constraints=[],
    )
    res = optimize_study(load_study(path))
    ranked = pd.read_csv(res.run_folder.ranked)
    done = ranked[ranked["state"] == "complete"]
    sharpe, dd = done["value_0"].to_numpy(), done["value_1"].to_numpy()
    # The first row is on the front: nothing is at least as good in both and better in one.
    dominated = (sharpe >= sharpe[0]) & (dd <= dd[0]) & ((sharpe > sharpe[0]) | (dd < dd[0]))
    assert not dominated.any()


def test_timeframe_is_a_searchable_data_parameter(tmp_path: Path, shared_data: Path) -> None:
    path = _study(
        tmp_path,
        name="tf",
        data={"path": str(shared_data / "GOOG_1d.csv.gz")},
        search={"method": "grid"},
        space={"fast": [5], "slow": [20], "data": {"timeframe": ["1D", "1W"]}},
        constraints=[],
    )
    res = optimize_study(load_study(path))
    ranked = pd.read_csv(res.run_folder.ranked).set_index("params.data.timeframe")
    daily, weekly = ranked.loc["1D"], ranked.loc["1W"]
    assert daily["metrics.trades"] > weekly["metrics.trades"] > 0
    assert daily["state"] == weekly["state"] == "complete"


def test_duplicates_are_not_rerun_and_attempts_are_capped(tmp_path: Path) -> None:
    calls: list[dict[str, Any]] = []

    def objective(p: dict[str, Any]) -> dict[str, float]:
        calls.append(p)
        return {"sharpe": float(p["x"]), "trades": 100.0}

    res = optimize(objective, {"x": [1, 2, 3, 4, 5, 6]}, method="random", trials=10,
                   output=tmp_path, study_name="dups")  # fmt: skip
    assert len(calls) == 6  # each distinct value ran once
    assert res.counts["complete"] == 6 and res.stopped_by == "space exhausted"
    ranked = pd.read_csv(res.run_folder.ranked)
    dup = ranked["pruned"].fillna("") == "duplicate of an earlier candidate"
    assert dup.sum() == len(ranked) - 6 > 0
    capped = optimize(lambda p: {"sharpe": p["x"], "trades": 1.0},
                      {"x": {"low": 0.0, "high": 1.0}}, method="random", trials=5,
                      require={"trades": ">= 50"}, max_attempts=30,
                      output=tmp_path, study_name="capped")  # fmt: skip
    assert capped.stopped_by == "max_attempts" and capped.counts["pruned"] == 30


def test_retries_rerun_failed_candidates(tmp_path: Path) -> None:
    attempts: dict[int, int] = {}

    def flaky(p: dict[str, Any]) -> dict[str, float]:
        attempts[p["x"]] = attempts.get(p["x"], 0) + 1
        if attempts[p["x"]] < 2:
            raise ConnectionError("transient")
        return {"sharpe": 1.0, "trades": 10.0}

    res = optimize(flaky, {"x": [1, 2]}, method="grid", trials=2, retries=1,
                   output=tmp_path, study_name="flaky")  # fmt: skip
    assert res.counts["complete"] == 2 and attempts == {1: 2, 2: 2}


def test_review_fixes_bad_input_is_caught_before_the_search(tmp_path: Path) -> None:
    from stratopt.errors import ConfigError

    bad_param = _study(tmp_path, name="bp", params={"fsat": 5}, search={"method": "grid"})
    with pytest.raises(ConfigError, match=r"params\.fsat"):
        optimize_study(load_study(bad_param))
    bad_name = _study(tmp_path, name="../escape", search={"method": "grid"})
    with pytest.raises(ConfigError, match="not a valid study name"):
        optimize_study(load_study(bad_name))
    multi = _study(tmp_path, name="cm", objective={"maximize": ["sharpe"], "minimize":
                   ["max_drawdown"]}, search={"method": "cmaes", "trials": 3})  # fmt: skip
    with pytest.raises(ConfigError, match="cannot optimize several objectives"):
        optimize_study(load_study(multi))


def test_review_fixes_grid_change_and_space_change(tmp_path: Path) -> None:
    from stratopt.errors import ConfigError

    first = _study(tmp_path, name="g2", space={"fast": [5], "slow": [20, 30]},
                   constraints=[], search={"method": "grid"})  # fmt: skip
    optimize_study(load_study(first))
    second = _study(tmp_path, name="g2", space={"fast": [5], "slow": [20, 30, 40]},
                    constraints=[], search={"method": "grid"})  # fmt: skip
    with pytest.raises(ConfigError, match="cannot be resumed"):
        optimize_study(load_study(second))
    # A moved range is another study too (its best could lie outside the new range).
    r1 = _study(tmp_path, name="g3", space={"fast": {"low": 2, "high": 4}, "slow": [20]},
                constraints=[], search={"method": "grid"})  # fmt: skip
    optimize_study(load_study(r1))
    r2 = _study(tmp_path, name="g3", space={"fast": {"low": 4, "high": 6}, "slow": [20]},
                constraints=[], search={"method": "grid"})  # fmt: skip
    with pytest.raises(ConfigError, match=r"space\.fast"):
        optimize_study(load_study(r2))


def test_review_fixes_small_discrete_space_stops_when_exhausted(tmp_path: Path) -> None:
    res = optimize(
        lambda p: {"sharpe": float(p["x"])},
        {"x": [1, 2, 3]},
        method="random",
        trials=10,
        output=tmp_path,
        study_name="small",
    )
    assert res.stopped_by == "space exhausted" and res.counts["complete"] == 3
    assert len(res.ranked) < 40


USER_CROSS = """
from typing import Any

import numpy as np

from stratopt.strategies import IntParam, Strategy


class UserCross(Strategy):
    name = "user_cross"
    fast = IntParam(5, low=2)
    slow = IntParam(30, low=3)

    def signals(self, bars: Any, p: dict[str, Any], cache: Any) -> np.ndarray:
        close = bars.close
        fast = np.convolve(close, np.ones(p["fast"]) / p["fast"])[: len(close)]
        slow = np.convolve(close, np.ones(p["slow"]) / p["slow"])[: len(close)]
        out = np.where(fast > slow, 1, -1).astype(np.int8)
        out[: p["slow"]] = 0
        return out
"""


def test_same_seed_same_results_on_the_process_pool(tmp_path: Path) -> None:
    # A user strategy with `trial_timeout` runs in worker processes whatever `jobs` is;
    # results come back in any order, yet the study must not depend on it.
    (tmp_path / "user_cross.py").write_text(USER_CROSS)
    runs = []
    for jobs in (1, 2, 4):
        path = _study(
            tmp_path,
            name=f"pool{jobs}",
            strategy="user_cross.py:UserCross",
            search={"method": "tpe", "trials": 16, "seed": 3, "batch": 4, "jobs": jobs,
                    "trial_timeout": 60},
            space={"fast": {"low": 2, "high": 20}, "slow": {"low": 21, "high": 80}},
            constraints=[],
        )  # fmt: skip
        runs.append(_ranked(optimize_study(load_study(path))))
    pd.testing.assert_frame_equal(runs[0], runs[1])
    pd.testing.assert_frame_equal(runs[0], runs[2])
    assert (runs[0]["state"] == "complete").sum() == 16

"""How do shared studies scale with workers, and what does a trial cost in storage?

1. trials/s of 1, 2 and 4 `stratopt worker` processes on one study, on PostgreSQL (a
   throwaway local cluster, durable settings) and on SQLite (WAL, one file), with a
   backtest of fixed cost (`--cost-ms`, default 50): a test strategy that sleeps
   (`--cost sleep`, the default: workers overlap even on few cores, so what is left
   is the coordination and storage cost) or spins the CPU (`--cost cpu`: bounded by
   the cores). The rate counts from the first trial's start to the last trial's end
   in the storage, so process start-up (imports, JIT) is left out.
   efficiency = rate(K) / (K x rate(1)).
2. Per-trial storage time on PostgreSQL as the study grows: a worker with a free
   backtest runs `--probe` trials on an empty study and again once the study holds
   `--big` (default 10,000) finished trials; the seconds per trial of each (from the
   worker's first look at the study, after its one read of the existing trials, to its
   end), and the ratio.

Run by hand (not part of the tests; PostgreSQL is installed with apt-get if missing):
    .venv/bin/python benchmarks/scaleout.py [--json] [--trials N] [--workers 1,2,4]
        [--cost sleep|cpu] [--cost-ms 50] [--big 10000] [--probe 100] [--skip-big]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import TrialState

ROOT = Path(__file__).resolve().parents[1]
STRATEGY = """
import time
import numpy as np
from stratopt.strategies import IntParam, Strategy

class Fixed(Strategy):
    name = "fixed_cost"
    k = IntParam(5, low=0)
    cost_ms = IntParam(50, low=0)
    spin = IntParam(0, low=0)

    def signals(self, bars, p, cache):
        end = time.perf_counter() + p["cost_ms"] / 1000
        if p["spin"]:
            while time.perf_counter() < end:
                pass
        else:
            time.sleep(p["cost_ms"] / 1000)
        out = np.zeros(len(bars), dtype=np.int8)
        out[:: 2 + p["k"] % 13] = 1
        return out
"""


def _pg() -> Any:
    sys.path.insert(0, str(ROOT / "scripts"))  # not a package
    import throwaway_postgres

    return throwaway_postgres


def _study_file(tmp: Path, name: str, trials: int, cost_ms: int, spin: bool) -> Path:
    (tmp / "fixed.py").write_text(STRATEGY)
    cfg = {
        "name": name,
        "data": {"synthetic": {"bars": 200, "seed": 1}},
        "strategy": f"{tmp / 'fixed.py'}:Fixed",
        "params": {"cost_ms": cost_ms, "spin": int(spin)},
        "space": {"k": {"low": 0, "high": 10**9}},
        "search": {"method": "random", "trials": trials, "seed": 0},
        "objective": "total_return",
        "output": str(tmp / "runs"),
    }
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def run_workers(url: str, study_file: Path, name: str, k: int) -> dict[str, float]:
    """K worker processes on a fresh study; trials/s between first start and last end."""
    env = {**os.environ, "STRATOPT_STORAGE": url, "NUMBA_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "stratopt.cli", "worker", str(study_file), "--quiet"]
    cmd.append("--no-report")
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL) for _ in range(k)]
    for p in procs:
        if p.wait() != 0:
            raise RuntimeError(f"a worker failed with exit code {p.returncode}")
    trials = optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    first = min(t.datetime_start for t in done if t.datetime_start is not None)
    last = max(t.datetime_complete for t in done if t.datetime_complete is not None)
    seconds = (last - first).total_seconds()
    return {"trials": len(done), "seconds": seconds, "rate": len(done) / seconds}


def scaling(url: str, tmp: Path, tag: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for k in args.workers:
        name = f"scale_{tag}_{k}_{int(time.time())}"
        path = _study_file(tmp, name, args.trials, args.cost_ms, args.cost == "cpu")
        rows.append({"storage": tag, "workers": k, **run_workers(url, path, name, k)})
    base = next((r["rate"] for r in rows if r["workers"] == 1), None)
    for r in rows:
        r["efficiency"] = r["rate"] / (r["workers"] * base) if base else None
    return rows


def per_trial_storage(url: str, tmp: Path, big: int, probe: int) -> dict[str, float]:
    """Seconds per trial of a free backtest, on an empty study and at `big` trials."""
    from stratopt.config import load_study
    from stratopt.optimization import work_study

    name = f"grow_{int(time.time())}"
    path = _study_file(tmp, name, probe, 0, False)
    out: dict[str, float] = {}

    def timed(target: int) -> float:
        # From the worker's first look at the study (its one full read of the existing
        # trials done) to its end: the steady per-trial cost, start-up left out.
        cfg = load_study(path, [f"search.trials={target}"])
        marks: list[float] = []
        work_study(
            cfg, storage=url, report=False, on_progress=lambda _: marks.append(time.perf_counter())
        )
        return (marks[-1] - marks[0]) / probe

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out["s_per_trial_at_0"] = timed(probe)
    _fill(url, name, big - probe)
    out["s_per_trial_at_big"] = timed(big + probe)
    out["big"] = big
    out["growth"] = out["s_per_trial_at_big"] / out["s_per_trial_at_0"]
    return out


def _fill(url: str, name: str, n: int) -> None:
    """Add `n` finished trials like a worker's (params, value, stratopt record) at once.

    Through Optuna's own table models in one transaction: `study.add_trials` writes one
    trial per transaction (about ten statements each), which on a busy machine took
    longer than the rest of the benchmark. What is measured afterwards is unaffected.
    """
    import datetime as dt

    from optuna.storages._rdb import models

    from stratopt.storage import open_storage

    storage = open_storage(url)
    study_id = storage.get_study_id_from_name(name)
    dist = optuna.distributions.IntDistribution(0, 10**9)
    dist_json = optuna.distributions.distribution_to_json(dist)
    start = len(storage.get_all_trials(study_id, deepcopy=False))
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    session = storage.scoped_session()
    try:
        for i in range(n):
            k = 10**8 + i
            trial = models.TrialModel(
                number=start + i, study_id=study_id, state=TrialState.COMPLETE
            )
            trial.datetime_start = now
            trial.datetime_complete = now
            session.add(trial)
            session.flush()
            rec = {"metrics": {"total_return": 0.0}, "runtime_s": 0.0, "key": repr((k,))}
            session.add_all(
                [
                    models.TrialParamModel(
                        trial_id=trial.trial_id, param_name="k", param_value=float(k),
                        distribution_json=dist_json,
                    ),
                    models.TrialValueModel(
                        trial_id=trial.trial_id, objective=0, value=0.0,
                        value_type=models.TrialValueModel.TrialValueType.FINITE,
                    ),
                    models.TrialUserAttributeModel(
                        trial_id=trial.trial_id, key="stratopt", value_json=json.dumps(rec)
                    ),
                ]
            )  # fmt: skip
        session.commit()
    finally:
        session.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--cost", choices=("sleep", "cpu"), default="sleep")
    ap.add_argument("--cost-ms", type=int, default=50)
    ap.add_argument("--big", type=int, default=10_000)
    ap.add_argument("--probe", type=int, default=100)
    ap.add_argument("--skip-big", action="store_true")
    ap.add_argument("--skip-scaling", action="store_true")
    ap.add_argument("--storages", default="postgresql,sqlite")
    args = ap.parse_args()
    args.workers = [int(w) for w in args.workers.split(",")]
    pg = _pg()
    report: dict[str, Any] = {"cpus": os.cpu_count(), "cost": args.cost, "cost_ms": args.cost_ms}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        cluster = pg.start(durable=True) if "postgresql" in args.storages else None
        try:
            rows: list[dict[str, Any]] = []
            if args.skip_scaling:
                pass
            elif cluster is not None:
                rows += scaling(cluster.url(), tmp, "postgresql", args)
            if "sqlite" in args.storages and not args.skip_scaling:
                rows += scaling(f"sqlite:///{tmp / 'scale.db'}", tmp, "sqlite", args)
            report["scaling"] = rows
            if cluster is not None and not args.skip_big:
                report["storage_growth"] = per_trial_storage(
                    cluster.url(), tmp, args.big, args.probe
                )
        finally:
            if cluster is not None:
                cluster.stop()
    if args.json:
        print(json.dumps(report))
        return
    print(f"{'storage':<12}{'workers':>8}{'trials':>8}{'seconds':>9}{'trials/s':>10}{'eff.':>7}")
    for r in report["scaling"]:
        eff = "" if r["efficiency"] is None else f"{r['efficiency']:.2f}"
        print(
            f"{r['storage']:<12}{r['workers']:>8}{r['trials']:>8}{r['seconds']:>9.1f}"
            f"{r['rate']:>10.1f}{eff:>7}"
        )
    g = report.get("storage_growth")
    if g:
        print(
            f"per-trial time, free backtest, PostgreSQL: {g['s_per_trial_at_0'] * 1000:.1f} ms "
            f"on an empty study, {g['s_per_trial_at_big'] * 1000:.1f} ms at {g['big']:,} "
            f"trials (x{g['growth']:.2f})"
        )


if __name__ == "__main__":
    main()

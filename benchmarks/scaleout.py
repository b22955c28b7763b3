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
3. `--rss`: the memory of one long-running `stratopt worker` (free backtest, random
   search of `--rss-trials`, default 10,000) on SQLite and PostgreSQL: its resident set
   size (VmRSS) when the study reaches 1k, 2k, 5k and 10k complete trials (its target
   is 300 more, so the worker is still at work), and the ratio RSS(last) / RSS(1k)
   (flat: within 1.10). `others_cpu_share`: the share of all
   cores other processes took meanwhile (the worker, this process and, on PostgreSQL,
   the cluster's server processes left out).

Run by hand (not part of the tests; PostgreSQL is installed with apt-get if missing):
    .venv/bin/python benchmarks/scaleout.py [--json] [--trials N] [--workers 1,2,4]
        [--cost sleep|cpu] [--cost-ms 50] [--big 10000] [--probe 100] [--skip-big]
    .venv/bin/python benchmarks/scaleout.py --rss [--rss-trials 10000] [--storages sqlite]
"""

from __future__ import annotations

import argparse
import contextlib
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


RSS_MARKS = (1_000, 2_000, 5_000, 10_000)


def worker_rss(url: str, tmp: Path, tag: str, trials: int) -> dict[str, Any]:
    """One `stratopt worker` on a free random search of `trials`: its VmRSS (KiB) as the
    study passes each mark of RSS_MARKS (and `trials`), and the host's other CPU use."""
    import sqlalchemy as sa

    from stratopt.storage import open_storage

    name = f"rss_{tag}_{int(time.time())}"
    # A target beyond the last mark: every sample is of a worker at work, not of its
    # end (which reads the finished study for its result).
    path = _study_file(tmp, name, trials + 300, 0, False)
    marks = sorted({m for m in RSS_MARKS if m < trials} | {trials})
    engine = open_storage(url).engine  # type: ignore[attr-defined]
    count = sa.text(
        "SELECT count(*) FROM trials t JOIN studies s ON s.study_id = t.study_id "
        "WHERE s.study_name = :name AND t.state = 'COMPLETE'"
    )
    env = {**os.environ, "STRATOPT_STORAGE": url, "NUMBA_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "stratopt.cli", "worker", str(path), "--quiet", "--no-report"]
    server = _server_pid(url)
    busy0, own0, t0 = _busy_cpu_s(), _own_cpu_s([os.getpid(), server]), time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    samples: list[dict[str, float]] = []
    try:
        while marks and proc.poll() is None:
            time.sleep(0.2)
            with engine.connect() as conn:
                done = int(conn.execute(count, {"name": name}).scalar_one())
            if done >= marks[0]:
                samples.append({"trials": done, "rss_kib": _rss_kib(proc.pid)})
                marks = [m for m in marks if m > done]
        if proc.wait() != 0:
            raise RuntimeError(f"the worker failed with exit code {proc.returncode}")
    finally:
        if proc.poll() is None:
            proc.kill()
        engine.dispose()
    seconds = time.perf_counter() - t0
    # The worker, once reaped, counts in this process's children's CPU time.
    busy = _busy_cpu_s() - busy0 - (_own_cpu_s([os.getpid(), server]) - own0)
    return {
        "storage": tag,
        "samples": samples,
        "ratio": samples[-1]["rss_kib"] / samples[0]["rss_kib"],
        "seconds": seconds,
        "others_cpu_share": max(0.0, busy) / (seconds * (os.cpu_count() or 1)),
    }


def _rss_kib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return float(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def _busy_cpu_s() -> float:
    """Busy CPU seconds of the whole machine so far (all cores, steal included)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s(pids: list[int | None]) -> float:
    """CPU seconds of these processes, their reaped children and their live children."""
    total = 0
    for pid in pids:
        if pid is None:
            continue
        try:
            kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in stat[11:15])  # utime stime cutime cstime
        for kid in kids:
            with contextlib.suppress(OSError):
                kstat = Path(f"/proc/{kid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(kstat[11]) + int(kstat[12])
    return total / os.sysconf("SC_CLK_TCK")


def _server_pid(url: str) -> int | None:
    """The throwaway PostgreSQL server's postmaster (None: SQLite)."""
    if not url.startswith("postgres"):
        return None
    found = sorted(Path(tempfile.gettempdir()).glob("stratopt-pg-*/data/postmaster.pid"))
    port = url.rsplit(":", 1)[1].split("/")[0]
    for pidfile in found:
        lines = pidfile.read_text().splitlines()
        if len(lines) > 3 and lines[3].strip() == port:
            return int(lines[0])
    return None


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
    ap.add_argument("--rss", action="store_true", help="only the worker memory part (3.)")
    ap.add_argument("--rss-trials", type=int, default=10_000)
    args = ap.parse_args()
    args.workers = [int(w) for w in args.workers.split(",")]
    pg = _pg()
    report: dict[str, Any] = {"cpus": os.cpu_count(), "cost": args.cost, "cost_ms": args.cost_ms}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        cluster = pg.start(durable=True) if "postgresql" in args.storages else None
        urls = {"sqlite": f"sqlite:///{tmp / 'scale.db'}"}
        if cluster is not None:
            urls["postgresql"] = cluster.url()
        tags = [t for t in ("postgresql", "sqlite") if t in args.storages]
        try:
            measure(report, tags, urls, tmp, args)
        finally:
            if cluster is not None:
                cluster.stop()
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)


def measure(
    report: dict[str, Any], tags: list[str], urls: dict[str, str], tmp: Path,
    args: argparse.Namespace,
) -> None:  # fmt: skip
    if args.rss:
        report["rss"] = [worker_rss(urls[t], tmp, t, args.rss_trials) for t in tags]
        return
    tags = [] if args.skip_scaling else tags
    report["scaling"] = [row for t in tags for row in scaling(urls[t], tmp, t, args)]
    if "postgresql" in urls and not args.skip_big:
        report["storage_growth"] = per_trial_storage(urls["postgresql"], tmp, args.big, args.probe)


def print_report(report: dict[str, Any]) -> None:
    for r in report.get("rss", []):
        figures = ", ".join(
            f"{s['rss_kib'] / 1024:.1f} MiB at {s['trials']:,}" for s in r["samples"]
        )
        print(
            f"worker RSS, {r['storage']}: {figures}; RSS(last)/RSS(first) = {r['ratio']:.3f} "
            f"({r['seconds']:.0f} s, others_cpu_share {r['others_cpu_share']:.2f})"
        )
    if report.get("scaling"):
        print(
            f"{'storage':<12}{'workers':>8}{'trials':>8}{'seconds':>9}{'trials/s':>10}{'eff.':>7}"
        )
    for r in report.get("scaling", []):
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

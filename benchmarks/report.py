"""How big and how slow is a study report?

Targets (issue: the study report): the demo study's report under 3 MB; a 20,000-trial
study's report under 5 MB, made in under 10 s on this machine.

    .venv/bin/python benchmarks/report.py            # a table
    .venv/bin/python benchmarks/report.py --json     # one JSON object on stdout

The demo study is examples/sma_cross_synthetic.yaml, optimized into a temporary folder.
The 20,000-trial study is a random search of sma_cross over a continuous space (almost
no duplicates) on 2,000 synthetic daily bars with the demo's holdout, optimized once
with its analysis (statistics, robustness) and kept in `--keep DIR` to rerun the report
alone. Timed: `stratopt.report(run_folder)` as the `report` command runs it (reading the
run folder, re-running the best/robust/PBO candidates and the Monte Carlo, drawing,
writing), `--runs` times; the median and the worst are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from engine_throughput import _busy_cpu_s  # one machine-busy probe (benchmarks/ is on sys.path)

import stratopt
from stratopt.config import load_study
from stratopt.optimization import optimize_study

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "sma_cross_synthetic.yaml"
TARGETS = {"demo_mb": 3.0, "big_mb": 5.0, "big_seconds": 10.0}
BIG: dict[str, Any] = {
    "name": "report_bench_20k",
    "data": {"synthetic": {"bars": 2000, "seed": 7, "interval": "1D", "edge_period": 120,
                           "edge_strength": 0.3}},
    "strategy": "sma_cross",
    "params": {"mode": "reversal"},
    "space": {"fast": {"low": 2, "high": 60}, "slow": {"low": 20, "high": 400},
              "backtest": {"stop_loss": {"low": 0.01, "high": 0.2, "log": True}}},
    "constraints": ["slow >= fast + 5"],
    "backtest": {"cash": 10000, "commission": 0.001, "slippage_bps": 2, "fill": "next_open"},
    "search": {"method": "random", "trials": 20000, "seed": 11},
    "objective": "sharpe",
    "validation": {"holdout": 0.2},
}  # fmt: skip


def _own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def _timed_reports(folder: Path, runs: int) -> dict[str, Any]:
    seconds, size = [], 0
    busy0, own0, wall0 = _busy_cpu_s(), _own_cpu_s(), time.perf_counter()
    for _ in range(runs):
        t0 = time.perf_counter()
        path = stratopt.report(folder)
        seconds.append(time.perf_counter() - t0)
        size = path.stat().st_size
    busy1, own1, wall1 = _busy_cpu_s(), _own_cpu_s(), time.perf_counter()
    out: dict[str, Any] = {
        "bytes": size,
        "mb": size / 1e6,
        "seconds_median": statistics.median(seconds),
        "seconds_worst": max(seconds),
        "seconds": seconds,
    }
    if busy0 is not None and busy1 is not None:
        others = max(0.0, (busy1 - busy0) - (own1 - own0))
        out["others_cpu_share"] = others / ((wall1 - wall0) * (os.cpu_count() or 1))
    return out


def _optimize(study_file: Path) -> tuple[Path, float]:
    t0 = time.perf_counter()
    folder = optimize_study(load_study(study_file)).run_folder.path
    return folder, time.perf_counter() - t0


def _demo(work: Path, runs: int) -> dict[str, Any]:
    study = yaml.safe_load(DEMO.read_text())
    study["output"] = str(work / "demo-runs")
    path = work / "demo.yaml"
    path.write_text(yaml.safe_dump(study))
    folder, optimize_s = _optimize(path)
    return {"trials": study["search"]["trials"], "optimize_seconds": optimize_s,
            **_timed_reports(folder, runs)}  # fmt: skip


def _big(keep: Path, runs: int, trials: int) -> dict[str, Any]:
    study = {**BIG, "search": {**BIG["search"], "trials": trials}, "output": str(keep / "runs")}
    study["name"] = f"report_bench_{trials}"
    path = keep / f"{study['name']}.yaml"
    path.write_text(yaml.safe_dump(study))
    root = keep / "runs" / study["name"]
    existing = sorted(p for p in root.glob("2*") if (p / "summary.json").is_file())
    optimize_s = None
    if existing:
        folder = existing[-1]
    else:
        folder, optimize_s = _optimize(path)
    counts = json.loads((folder / "summary.json").read_text())["counts"]
    return {"trials": sum(counts.values()), "complete": counts.get("complete"),
            "optimize_seconds": optimize_s, **_timed_reports(folder, runs)}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--runs", type=int, default=3, help="timed reports per study")
    parser.add_argument("--trials", type=int, default=20000, help="trials of the big study")
    parser.add_argument("--keep", type=Path, default=None,
                        help="folder that keeps the big study between runs")  # fmt: skip
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stratopt-report-bench-") as tmp:
        work = Path(tmp)
        keep = args.keep or work
        keep.mkdir(parents=True, exist_ok=True)
        result: dict[str, Any] = {"targets": TARGETS}
        if not args.skip_demo:
            result["demo"] = _demo(work, args.runs)
        result["big"] = _big(keep, args.runs, args.trials)
    demo, big = result.get("demo"), result["big"]
    result["met"] = {
        "demo_mb": None if demo is None else demo["mb"] < TARGETS["demo_mb"],
        "big_mb": big["mb"] < TARGETS["big_mb"],
        "big_seconds": big["seconds_worst"] < TARGETS["big_seconds"],
    }
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
        return 0
    for name in ("demo", "big"):
        r = result.get(name)
        if r is None:
            continue
        share = r.get("others_cpu_share")
        print(
            f"{name}: {r['trials']:,} trials, report {r['mb']:.2f} MB, "
            f"{r['seconds_median']:.2f} s median, {r['seconds_worst']:.2f} s worst"
            + (f" (others' CPU share {share:.0%})" if share is not None else "")
        )
    print(f"targets: {TARGETS}; met: {result['met']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Does stratopt's batch TPE (`method: tpe`) find as good a best as Optuna's TPE
(`method: tpe_optuna`)?

For each study (benchmarks/studies/planted_edge.yaml: the planted-edge synthetic data
of examples/sma_cross_synthetic.yaml in a space of about 70,000 combinations; and
benchmarks/studies/goog_sma.yaml: SMA cross on GOOG daily, 10,000 combinations) and each seed, both
methods run the same budget of complete trials (in memory, no analyses); the best
objective value among the first K complete trials is read for each K of `--at`.
The figure is the median over the seeds; the bar is tpe within 2 % of tpe_optuna.

    python benchmarks/tpe_quality.py [--seeds 10] [--trials 2000] [--at 500,2000] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import optuna

from stratopt.config import load_study
from stratopt.optimization import compile_study, optimize_study

HERE = Path(__file__).resolve().parent
STUDIES = {
    "planted_edge": HERE / "studies" / "planted_edge.yaml",
    "goog": HERE / "studies" / "goog_sma.yaml",
}
METHODS = ("tpe_optuna", "tpe")


def best_after(path: Path, method: str, seed: int, trials: int, at: list[int]) -> dict:
    """One study run: the best value among the first k complete trials, for each k."""
    with tempfile.TemporaryDirectory() as out:
        cfg = load_study(
            path,
            [f"search.method={method}", f"search.trials={trials}", f"search.seed={seed}",
             f"output={out}"],
        )  # fmt: skip
        started = time.perf_counter()
        res = optimize_study(cfg, storage="memory", analyze=False)
        seconds = time.perf_counter() - started
    done = res.ranked[res.ranked["state"] == "complete"].sort_values("trial")
    values = done["value"].to_numpy(dtype=float)
    sign = 1.0 if compile_study(cfg).objective.directions[0] == "maximize" else -1.0
    best = {str(k): float(sign * max(sign * values[:k])) for k in at if k <= len(values)}
    return {"best": best, "seconds": seconds, "complete": len(values)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--at", default="500,2000")
    ap.add_argument("--studies", default=",".join(STUDIES))
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--reuse",
        help="a previous --json output: its runs of methods not in --methods are reused",
    )
    ap.add_argument("--methods", default=",".join(METHODS), help="the methods to run now")
    args = ap.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    at = [int(x) for x in args.at.split(",")]
    runs: dict[str, dict[str, list[dict]]] = {}
    old = json.loads(Path(args.reuse).read_text())["runs"] if args.reuse else {}
    now = args.methods.split(",")
    for name in args.studies.split(","):
        runs[name] = {m: [] if m in now else old[name][m][: args.seeds] for m in METHODS}
        for seed in range(args.seeds):
            for method in now:  # alternating, so host drift hits both alike
                r = best_after(STUDIES[name], method, seed, args.trials, at)
                runs[name][method].append(r)
                print(f"{name} seed {seed} {method}: {r}", file=sys.stderr, flush=True)
    summary: dict[str, dict] = {}
    for name, by_method in runs.items():
        summary[name] = {}
        for k in at:
            med = {m: statistics.median(r["best"][str(k)] for r in by_method[m]) for m in METHODS}
            rel = (med["tpe"] - med["tpe_optuna"]) / abs(med["tpe_optuna"])
            summary[name][str(k)] = {
                "median_tpe_optuna": med["tpe_optuna"],
                "median_tpe": med["tpe"],
                "relative_difference": rel,
                "within_2_percent": rel >= -0.02,
            }
        summary[name]["seconds"] = {
            m: statistics.median(r["seconds"] for r in by_method[m]) for m in METHODS
        }
    if args.json:
        print(json.dumps({"summary": summary, "runs": runs}, indent=1))
    else:
        for name, rows in summary.items():
            for k, row in rows.items():
                print(name, k, row)
    return 0


if __name__ == "__main__":
    sys.exit(main())

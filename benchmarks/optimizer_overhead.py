"""How much does stratopt's trial loop cost on top of Optuna, and on top of the engine?

1. 1,000 trials of a near-free objective: trials/s of `stratopt.optimize` against a bare
   Optuna loop (`study.optimize`) with the same sampler (RandomSampler, seeded) and the
   same storage, in-memory and SQLite. overhead = bare_rate / stratopt_rate - 1.
   `stratopt.optimize` runs as a user calls it (random search asks candidates in
   batches of 256); `overhead_*_batch1` is the same with `batch=1`, one candidate
   asked, run and told at a time as Optuna's loop does. Both give the same candidates
   (the random sampler ignores earlier results).
2. The engine path: candidates/s of a 1,000-candidate grid `optimize_study` on 100,000
   synthetic bars against the raw many-candidates call (`evaluate_many` on the same
   candidates). grid_fraction_of_raw = stratopt_rate / raw_rate, with the default SQLite
   storage, and grid_fraction_of_raw_inmemory with an in-memory one.

Both time the search (`analyze=False`): the analyses after it (overfitting statistics,
stability, look-ahead check) cost a bounded amount per study, not per trial, and are
timed on their own: `grid_analysis_seconds` (SQLite grid study: the median over
--repeats of an analyzed run less an unanalyzed one) and `free_analysis_seconds` (the
near-free objective, in memory, once).

Run by hand (not part of the tests):
    .venv/bin/python benchmarks/optimizer_overhead.py [--json] [--trials N] [--bars N]
        [--repeats R]   (median of R interleaved runs of each loop / grid pair, default 3)
        [--parts overhead,grid]   (which of 1. and 2. to run; default both)
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna

SPACE = {"x": {"low": -10.0, "high": 10.0}, "y": {"low": -10.0, "high": 10.0}}


def _free(params: dict[str, Any]) -> dict[str, float]:
    return {"sharpe": -(params["x"] ** 2) - (params["y"] - 1.0) ** 2}


def bare_optuna(trials: int, storage: str | None) -> float:
    """Trials/s of Optuna's own loop with the same work per trial, on the same storage.

    The storage object comes from `stratopt.storage.open_storage`, as stratopt's does
    (for SQLite: WAL journal, synchronous=NORMAL), so only the loops differ.
    """
    from stratopt.storage import open_storage

    study = optuna.create_study(
        storage=open_storage(storage),
        sampler=optuna.samplers.RandomSampler(seed=0),
        direction="maximize",
    )

    def objective(trial: optuna.Trial) -> float:
        p = {"x": trial.suggest_float("x", -10, 10), "y": trial.suggest_float("y", -10, 10)}
        return _free(p)["sharpe"]

    start = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    return trials / (time.perf_counter() - start)


def stratopt_api(
    trials: int, storage: str | None, out: Path, analyze: bool = False, batch: int | None = None
) -> float:
    from stratopt.optimization import optimize

    start = time.perf_counter()
    optimize(
        _free,
        SPACE,
        method="random",
        trials=trials,
        batch=batch,
        storage=storage or "memory",
        output=out,
        study_name=f"overhead{time.monotonic_ns()}",
        analyze=analyze,
    )
    return trials / (time.perf_counter() - start)


def engine_path(bars_n: int, out: Path, storage: str, analyze: bool = False) -> tuple[float, float]:
    """(stratopt optimize candidates/s, raw evaluate_many candidates/s) on one grid."""
    from stratopt.backtest import evaluate_many
    from stratopt.config import parse_study
    from stratopt.data import synthetic_bars
    from stratopt.engine import ExecSettings
    from stratopt.optimization import optimize_study

    fast = list(range(5, 105, 5))
    slow = list(range(110, 1110, 20))
    raw = {
        "name": f"grid{time.monotonic_ns()}",
        "data": {"synthetic": {"bars": bars_n, "seed": 1, "interval": "1min"}},
        "strategy": "sma_cross",
        "space": {"fast": fast, "slow": slow},
        "search": {"method": "grid", "batch": 1000},
        "backtest": {"commission": 0.001},
        "storage": storage,
        "output": str(out),
    }
    study = parse_study(raw, source="benchmark", base_dir=out)
    bars = synthetic_bars(bars_n, seed=1, interval="1min")
    grid = [{"fast": f, "slow": s} for f in fast for s in slow]
    settings = ExecSettings(commission=0.001)
    evaluate_many(bars, "sma_cross", grid[:10], settings)  # compile / warm
    start = time.perf_counter()
    evaluate_many(bars, "sma_cross", grid, settings)
    raw_rate = len(grid) / (time.perf_counter() - start)
    start = time.perf_counter()
    optimize_study(study, analyze=analyze)
    opt_rate = len(grid) / (time.perf_counter() - start)
    return opt_rate, raw_rate


def grid_analysis(bars_n: int, out: Path, repeats: int) -> float:
    """Seconds the analyses add to the SQLite grid study: the median over `repeats` of an
    analyzed run less an unanalyzed one next to it (the two in alternating order), so
    the figure carries neither one search's noise nor the machine's drift."""
    url = f"sqlite:///{out / 'grid.db'}"
    added = []
    for r in range(repeats):
        order = (False, True) if r % 2 == 0 else (True, False)
        seconds = {a: 1000 / engine_path(bars_n, out, url, analyze=a)[0] for a in order}
        added.append(seconds[True] - seconds[False])
    return round(statistics.median(added), 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--bars", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--parts", default="overhead,grid", help="overhead, grid or both")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        stratopt_api(50, None, out)  # warm imports
        stratopt_api(50, f"sqlite:///{out / 'warm.db'}", out)  # and the RDB storage's
        if "grid" in parts:  # and the analysis's imports (scipy.stats, arch), paid once:
            engine_path(args.bars, out, "memory", analyze=True)  # not in grid_analysis
        res: dict[str, Any] = {}
        overhead = (("inmemory", None), ("sqlite", f"sqlite:///{out / 'o.db'}"))
        for label, url in overhead if "overhead" in parts else ():
            # Interleaved, median of --repeats: the machine's noise is tens of percent.
            bares, ourss, singles = [], [], []
            for _ in range(args.repeats):
                bares.append(bare_optuna(args.trials, url))
                ourss.append(stratopt_api(args.trials, url, out))
                singles.append(stratopt_api(args.trials, url, out, batch=1))
            bare = statistics.median(bares)
            ours, single = statistics.median(ourss), statistics.median(singles)
            res[f"bare_{label}_trials_per_s"] = round(bare, 1)
            res[f"stratopt_{label}_trials_per_s"] = round(ours, 1)
            res[f"stratopt_{label}_batch1_trials_per_s"] = round(single, 1)
            res[f"overhead_{label}"] = round(bare / ours - 1.0, 4)
            res[f"overhead_{label}_batch1"] = round(bare / single - 1.0, 4)
        # Headline: the default storage (SQLite); in-memory shows the loop without it.
        grid = (("", f"sqlite:///{out / 'grid.db'}"), ("_inmemory", "memory"))
        for label, url in grid if "grid" in parts else ():
            # Each repeat times the raw call and then the grid: the fraction is the median
            # of these pairs, so a noisy minute spoils one pair, not the figure.
            pairs = [engine_path(args.bars, out, url) for _ in range(args.repeats)]
            res[f"grid{label}_candidates_per_s"] = round(statistics.median(p[0] for p in pairs), 1)
            res[f"raw{label}_candidates_per_s"] = round(statistics.median(p[1] for p in pairs), 1)
            fraction = statistics.median(p[0] / p[1] for p in pairs)
            res[f"grid_fraction_of_raw{label}"] = round(fraction, 4)
        if "overhead" in parts:
            n = args.trials
            with_analysis = n / stratopt_api(n, None, out, analyze=True)
            res["free_analysis_seconds"] = round(
                with_analysis - n / res["stratopt_inmemory_trials_per_s"], 3
            )
        if "grid" in parts:
            res["grid_analysis_seconds"] = grid_analysis(args.bars, out, args.repeats)
    headline = ("overhead_inmemory", "overhead_sqlite", "grid_fraction_of_raw")
    ordered = {k: res[k] for k in headline if k in res}
    ordered.update(res)
    if args.json:
        print(json.dumps(ordered))
    else:
        for k, v in ordered.items():
            print(f"{k:32s} {v}")
        print("targets: overhead <= 0.15 (both storages); grid_fraction_of_raw >= 0.5")


if __name__ == "__main__":
    main()

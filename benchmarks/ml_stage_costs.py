"""How much cheaper is a stage-2 trial than a stage-1 trial? (issue: >= 20x)

A stage-1 trial fits one LightGBM model per fold (no cache: a fresh cache folder per
trial), predicts the test blocks and scores the out-of-fold IC. A stage-2 trial runs the
rule on the cached predictions through the engine only. Both are timed on the fixtures
of tests/ml: `small` (tests/ml/conftest.py SMALL: 8 assets x 500 bars) and `planted`
(tests/ml/test_signal.py: 50 assets x 2,000 bars, 10 features), after one warm-up call
(numba compilation). Stage-2 candidates are drawn at random from the study's stage-2
space, so the score cache sees realistic reuse.

Run by hand (not part of the tests):
    .venv/bin/python benchmarks/ml_stage_costs.py [--json] [--stage1 N] [--stage2 M]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.ml.conftest import SMALL
from tests.ml.test_signal import RAW as PLANTED

from stratopt.ml import parse_ml_study, prepare
from stratopt.ml._cache import PredictionCache
from stratopt.ml._predict import fold_predictions, model_params, path_predictions
from stratopt.ml._prepare import Prepared
from stratopt.ml._stage1 import evaluate_model
from stratopt.ml._stage2 import PredictionSet, RuleBacktester


def others_cpu_share(seconds: float = 0.5) -> float:
    """Share of the machine's CPU used by other processes while we sleep."""

    def busy() -> tuple[float, float]:
        with open("/proc/stat") as fh:
            v = [float(x) for x in fh.readline().split()[1:]]
        return sum(v) - v[3] - v[4], sum(v)

    a = busy()
    time.sleep(seconds)
    b = busy()
    return (b[0] - a[0]) / max(b[1] - a[1], 1e-9)


def measure(raw: dict[str, Any], n1: int, n2: int) -> dict[str, float]:
    root = Path(tempfile.mkdtemp())
    study = parse_ml_study({**raw, "output": str(root)}, source="bench", base_dir=root)
    prepared = prepare(study)
    rng = np.random.default_rng(0)
    params = [{"num_leaves": int(rng.integers(7, 31))} for _ in range(n1 + 1)]
    times1 = []
    for k, p in enumerate(params):
        fresh = Prepared(**{**prepared.__dict__, "cache": PredictionCache(root / f"c{k}")})
        start = time.perf_counter()
        evaluate_model(fresh, p)
        if k:  # the first call compiles
            times1.append(time.perf_counter() - start)
    oof = fold_predictions(prepared, model_params(prepared, params[0]))
    values, fold = path_predictions(prepared, oof)
    first = int(np.argmax((fold >= 0).any(axis=0)))
    bt = RuleBacktester(
        prepared.panel,
        {0: PredictionSet(values, fold)},
        span=(first, prepared.holdout_start),
        settings=study.stage2.backtest.to_settings(),
    )
    times2 = []
    for k in range(n2 + 1):
        cand = {
            "entry": float(rng.uniform(0.6, 0.95)),
            "exit": 0.5,
            "hold": int(rng.integers(0, 6)),
            "window": int(rng.choice([30, 60, 90])),
        }
        start = time.perf_counter()
        bt.run(cand)
        if k:
            times2.append(time.perf_counter() - start)
    s1, s2 = float(np.median(times1)), float(np.median(times2))
    return {
        "stage1_trial_s": s1,
        "stage2_trial_s": s2,
        "ratio": s1 / s2,
        "stage1_worst_s": max(times1),
        "stage2_worst_s": max(times2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--stage1", type=int, default=5)
    ap.add_argument("--stage2", type=int, default=100)
    args = ap.parse_args()
    out: dict[str, Any] = {"others_cpu_share": others_cpu_share(), "cpus": os.cpu_count()}
    for name, raw in (("small", SMALL), ("planted", PLANTED)):
        out[name] = measure(raw, args.stage1, args.stage2)
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"others_cpu_share {out['others_cpu_share']:.2f}")
    for name in ("small", "planted"):
        r = out[name]
        print(
            f"{name:8s} stage 1 {r['stage1_trial_s'] * 1e3:8.1f} ms/trial  stage 2 "
            f"{r['stage2_trial_s'] * 1e3:7.2f} ms/trial  ratio {r['ratio']:6.1f}x"
        )


if __name__ == "__main__":
    main()

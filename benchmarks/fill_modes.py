"""Fill modes: `fill: close` against `fill: next_open`, with and without whole units.

On engine_throughput's seeded 1-minute bars (1M by default), ``evaluate_many`` with
the full metric set on SMA-crossover reversal candidates (commission 0.1 %, all
equity in each position), two grids:

* ``engine``: engine_throughput's (fast 20-200 x slow 220-2000);
* ``short``: short windows (fast 5-60 x slow 70-600). With whole units the fees
  take many of these candidates' equity below one unit's price, so they stay flat
  for long stretches and their 5 % quantile moves into the metrics' band: the
  tail fallback's path.

Each grid runs in its own child process. A round times the three modes one after the
other (``close``, ``next_open``, ``whole``: next_open + whole_units), so that a change
in the host's load falls on all three; figures are the median and the worst of
``--runs`` rounds after an untimed warm-up round. ``ratio`` is whole / close within a
round (median and worst round). ``python_redo`` counts the candidates the engine
handed back to be simulated again from Python (``run_one_nb``) in the last round.
``others_cpu_share`` is the share of the CPUs other processes took while the child
ran (engine_throughput's check).

    python benchmarks/fill_modes.py                          # 100 candidates, table
    python benchmarks/fill_modes.py --candidates 1000 --json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from engine_throughput import (
    BUSY_WARNING,
    CASH,
    COMMISSION,
    _busy_cpu_s,
    _children_cpu_s,
    load_arrays,
    make_bars,
    make_grid,
    stratopt_bars,
)

GRIDS = ("engine", "short")
MODES: dict[str, dict[str, Any]] = {
    "close": {"fill": "close"},
    "next_open": {"fill": "next_open"},
    "whole": {"fill": "next_open", "whole_units": True},
}


def short_grid(combos: int) -> np.ndarray:
    """``combos`` (fast, slow) pairs, fast 5-60 x slow 70-600, in make_grid's shape."""
    n_fast = max(1, min(combos, round((combos / 2.5) ** 0.5)))
    n_slow = -(-combos // n_fast)
    fast = np.unique(np.linspace(5, 60, n_fast).round().astype(np.int64))
    slow = np.unique(np.linspace(70, 600, n_slow).round().astype(np.int64))
    return np.array([(f, s) for f in fast for s in slow], dtype=np.int64)[:combos]


def child_main(args: argparse.Namespace) -> int:
    """Time the three modes on one grid, alternating; write a JSON to ``--out``."""
    import stratopt.engine._many as many
    from stratopt.backtest import evaluate_many
    from stratopt.engine import ExecSettings

    bars = stratopt_bars(load_arrays(Path(args.data)))
    grid = make_grid(args.candidates) if args.child == "engine" else short_grid(args.candidates)
    params = [{"fast": int(f), "slow": int(s), "mode": "reversal"} for f, s in grid]
    redo = [0]
    one = many.run_one_nb

    def counted(*a: Any) -> Any:
        redo[0] += 1
        return one(*a)

    many.run_one_nb = counted  # white box: who is simulated again from Python
    times: dict[str, list[float]] = {m: [] for m in MODES}
    redone: dict[str, int] = {}
    for r in range(args.runs + 1):  # round 0 warms up
        for mode, kw in MODES.items():
            settings = ExecSettings(
                cash=CASH, commission=COMMISSION, sizing="fraction", size=1.0, **kw
            )
            redo[0] = 0
            t0 = time.perf_counter()
            evaluate_many(bars, "sma_cross", params, settings)
            if r:
                times[mode].append(time.perf_counter() - t0)
            redone[mode] = redo[0]
    Path(args.out).write_text(json.dumps({"times_s": times, "python_redo": redone}))
    return 0


def run_grid(grid: str, args: argparse.Namespace, data_path: Path, out: Path) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", grid, "--data"]
    cmd += [str(data_path), "--out", str(out), "--candidates", str(args.candidates)]
    cmd += ["--runs", str(args.runs)]
    busy0, own0, t0 = _busy_cpu_s(), _children_cpu_s(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    busy1, own1, t1 = _busy_cpu_s(), _children_cpu_s(), time.perf_counter()
    if proc.returncode != 0 or not out.exists():
        raise SystemExit(f"{grid} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.read_text())
    times = result["times_s"]
    ratios = [w / c for w, c in zip(times["whole"], times["close"], strict=True)]
    result["grid"] = grid
    result["median_s"] = {m: statistics.median(t) for m, t in times.items()}
    result["worst_s"] = {m: max(t) for m, t in times.items()}
    result["ratio_whole_vs_close"] = {"median": statistics.median(ratios), "worst": max(ratios)}
    if busy0 is not None and busy1 is not None:
        others = max(0.0, (busy1 - busy0) - (own1 - own0))
        result["others_cpu_share"] = others / ((t1 - t0) * (os.cpu_count() or 1))
    return result


def print_table(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"{args.bars:,} bars x {args.candidates} candidates, {args.runs} rounds (median, worst)")
    head = f"{'grid':7} {'close':>15} {'next_open':>15} {'whole':>15} {'ratio':>13} redo  others"
    print(head)
    for r in results:
        cells = [f"{r['median_s'][m]:.3f} ({r['worst_s'][m]:.3f})" for m in MODES]
        ratio = r["ratio_whole_vs_close"]
        share = r.get("others_cpu_share")
        print(
            f"{r['grid']:7} {cells[0]:>15} {cells[1]:>15} {cells[2]:>15}"
            f" {ratio['median']:.2f} ({ratio['worst']:.2f})"
            f" {r['python_redo']['whole']:>4}  {'-' if share is None else f'{share:.1%}'}"
        )
        if share is not None and share > BUSY_WARNING:
            print(f"warning: other processes took {share:.0%} of the CPUs during {r['grid']}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--bars", type=int, default=1_000_000)
    p.add_argument("--candidates", type=int, default=100)
    p.add_argument("--runs", type=int, default=3, help="timed rounds after a warm-up round")
    p.add_argument("--grids", default=",".join(GRIDS), help="comma-separated: engine,short")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--child", choices=GRIDS, help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if min(args.runs, args.candidates) < 1 or args.bars < 10:
        p.error("--runs and --candidates must be >= 1, --bars >= 10")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(args)
    grids = [g.strip() for g in args.grids.split(",") if g.strip()]
    if set(grids) - set(GRIDS):
        raise SystemExit(f"unknown grid(s): {sorted(set(grids) - set(GRIDS))}")
    data = make_bars(args.bars, args.seed)
    with tempfile.TemporaryDirectory(prefix="stratopt-fills-") as tmp:
        data_path = Path(tmp) / "bars.npz"
        np.savez(data_path, **data)
        results = [run_grid(g, args, data_path, Path(tmp) / f"{g}.json") for g in grids]
    if args.json:
        print(json.dumps({"bars": args.bars, "candidates": args.candidates, "grids": results}))
    else:
        print_table(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

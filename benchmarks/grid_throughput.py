"""Grid engine throughput on the real BTCPERP 1-minute file.

Three contestants, each in its own subprocess (so that its peak RSS is its own), on the
same 45,031 bars:

* ``grid``: `stratopt.engine.grid.simulate_grid_many`, 1,000 hedge-grid candidates with
  20 levels a side, full metric set;
* ``single``: the single-position engine, `stratopt.backtest.evaluate_many` on 1,000
  SMA-crossover candidates, full metric set;
* ``reference``: the plain-Python reference simulator (tests/engine/reference_grid.py)
  on a few of the grid candidates (it also checks that their fills equal the kernel's).

Each reports bar-evaluations per second (bars x candidates / s): the median of
``--runs`` timed calls after one untimed warm-up call, and the worst (slowest) run.
Targets (issue 16): grid >= 1/20 of single, grid >= 100 x reference, grid peak RSS
< 1 GiB. ``others_cpu_share`` is the share of all cores other processes took while a
child ran (see engine_throughput.py); above 5 % the figures are unreliable.

    python benchmarks/grid_throughput.py            # a table
    python benchmarks/grid_throughput.py --json     # one JSON object
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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "BTCPERP_1m.csv.gz"
CONTESTANTS = ("grid", "single", "reference")
TARGET_VS_SINGLE = 1 / 20
TARGET_VS_REFERENCE = 100.0
TARGET_RSS_MB = 1024.0
BUSY_WARNING = 0.05
LEVELS = 20

sys.path.insert(0, str(HERE))
from engine_throughput import _busy_cpu_s, _children_cpu_s, peak_rss_mb  # noqa: E402


def grid_candidates(count: int) -> list[dict[str, float]]:
    """`count` hedge-grid ladders, 20 levels a side: steps 10-100 bps x take-profit x stop."""
    steps = np.linspace(10.0, 100.0, max(1, count // 10))
    out = []
    for s in steps:
        for tp in (0.5, 1.0, 2.0, 3.0, 5.0):
            for sl in (0.0, 4.0):
                out.append({"grid_step_bps": float(s), "tp_steps": tp, "sl_steps": sl})
    return out[:count]


def _grid_inputs(bars: Any, count: int) -> tuple[Any, np.ndarray, list[Any], Any]:
    from stratopt.engine.grid import Funding, GridExec, GridParams, build_market

    ex = GridExec(cash=100_000.0, maker_fee=0.0002, taker_fee=0.0005, slippage_bps=1.0)
    params = [
        GridParams(
            grid_levels_long=LEVELS,
            grid_levels_short=LEVELS,
            base_qty=0.01,
            recenter_trigger_bps=200.0,
            max_inventory_quote=15_000.0,
            **c,  # type: ignore[arg-type]
        )
        for c in grid_candidates(count)
    ]
    market = build_market(bars, funding=Funding.constant(0.0001, "8h"))
    sides = np.full((1, len(bars)), 3, dtype=np.int8)
    return market, sides, params, ex


def grid_runner(bars: Any, count: int) -> tuple[Callable[[], Any], int]:
    from stratopt.engine.grid import pack_grid, simulate_grid_many

    market, sides, params, ex = _grid_inputs(bars, count)
    rows = np.stack([pack_grid(p, ex) for p in params])

    def once() -> Any:
        return simulate_grid_many(market, sides, rows, periods_per_year=bars.periods_per_year)

    return once, len(params)


def single_runner(bars: Any, count: int) -> tuple[Callable[[], Any], int]:
    from stratopt.backtest import evaluate_many
    from stratopt.engine import ExecSettings
    from stratopt.strategies import get_strategy

    grid = [{"fast": f, "slow": s} for f in range(5, 105, 5) for s in range(120, 620, 10)]
    grid = grid[:count]
    strategy = get_strategy("sma_cross")
    settings = ExecSettings(cash=100_000.0, commission=0.0005)

    def once() -> Any:
        return evaluate_many(bars, strategy, grid, settings).metrics

    return once, len(grid)


def reference_runner(bars: Any, count: int) -> tuple[Callable[[], Any], int]:
    sys.path.insert(0, str(ROOT))
    from tests.engine import reference_grid as ref
    from tests.engine._grid_random import ref_bars, ref_grid

    from stratopt.engine.grid import simulate_grid

    market, sides, params, ex = _grid_inputs(bars, 1000)
    chosen = [params[i] for i in np.linspace(0, len(params) - 1, count).astype(int)]
    time_ns, prices = ref_bars(bars)
    side_list = sides[0].tolist()
    funding = ref.RefFunding(rate=0.0001, interval_ns=8 * 3_600 * 10**9)

    def once() -> Any:
        return [
            ref.run_reference(ref_grid(p, ex), time_ns, prices, side_list, funding=funding)
            for p in chosen
        ]

    # the reference is only a yardstick if it computes what the kernel computes
    for p, out in zip(chosen, once(), strict=True):
        sim = simulate_grid(market, sides[0], p, ex)
        if [tuple(f) for f in sim.fills.tolist()] != out.fills:
            raise SystemExit(f"reference and kernel disagree on {p}")
    return once, len(chosen)


RUNNERS = {"grid": grid_runner, "single": single_runner, "reference": reference_runner}


def child_main(args: argparse.Namespace) -> int:
    from stratopt.data import load_bars

    bars = load_bars(args.data)
    count = args.reference_candidates if args.contestant == "reference" else args.candidates
    run, used = RUNNERS[args.contestant](bars, count)
    t0 = time.perf_counter()
    run()
    warmup = time.perf_counter() - t0
    runs = 1 if args.contestant == "reference" else args.runs
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    n = len(bars)
    result = {
        "contestant": args.contestant,
        "bars": n,
        "candidates": used,
        "warmup_s": warmup,
        "times_s": times,
        "bar_evals_per_s": n * used / statistics.median(times),
        "worst_bar_evals_per_s": n * used / max(times),
        "peak_rss_mb": peak_rss_mb(),
    }
    Path(args.out).write_text(json.dumps(result))
    return 0


def run_child(name: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    out = workdir / f"{name}.json"
    cmd = [
        sys.executable, str(Path(__file__).resolve()), "--contestant", name,
        "--data", str(args.data), "--out", str(out), "--candidates", str(args.candidates),
        "--reference-candidates", str(args.reference_candidates), "--runs", str(args.runs),
    ]  # fmt: skip
    busy0, own0, t0 = _busy_cpu_s(), _children_cpu_s(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    busy1, own1, t1 = _busy_cpu_s(), _children_cpu_s(), time.perf_counter()
    if proc.returncode != 0 or not out.exists():
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        return {"contestant": name, "error": f"exit {proc.returncode}: {tail}"}
    result: dict[str, Any] = json.loads(out.read_text())
    if busy0 is not None and busy1 is not None:
        others = max(0.0, (busy1 - busy0) - (own1 - own0))
        result["others_cpu_share"] = others / ((t1 - t0) * (os.cpu_count() or 1))
    return result


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def summarize(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    rate = {k: r.get("bar_evals_per_s") for k, r in results.items()}
    worst = {k: r.get("worst_bar_evals_per_s") for k, r in results.items()}
    grid_rss = results.get("grid", {}).get("peak_rss_mb")
    vs_single = _ratio(rate.get("grid"), rate.get("single"))
    vs_reference = _ratio(rate.get("grid"), rate.get("reference"))
    return {
        "grid_bar_evals_per_s": rate.get("grid"),
        "single_bar_evals_per_s": rate.get("single"),
        "reference_bar_evals_per_s": rate.get("reference"),
        "ratio_vs_single": vs_single,
        "ratio_vs_reference": vs_reference,
        "grid_peak_rss_mb": grid_rss,
        "worst": {
            "grid_bar_evals_per_s": worst.get("grid"),
            "single_bar_evals_per_s": worst.get("single"),
            "ratio_vs_single": _ratio(worst.get("grid"), rate.get("single")),
            "ratio_vs_reference": _ratio(worst.get("grid"), rate.get("reference")),
        },
        "others_cpu_share": {k: r.get("others_cpu_share") for k, r in results.items()},
        "targets": {
            "vs_single >= 1/20": None if vs_single is None else vs_single >= TARGET_VS_SINGLE,
            "vs_reference >= 100": None
            if vs_reference is None
            else vs_reference >= TARGET_VS_REFERENCE,
            "grid_rss < 1 GiB": None if grid_rss is None else grid_rss < TARGET_RSS_MB,
        },
        "details": results,
    }


def print_table(summary: dict[str, Any]) -> None:
    details = summary["details"]
    print(
        f"{'contestant':<11}{'cands':>7}{'bar-evals/s':>14}{'worst':>14}{'RSS MiB':>9}{'others':>8}"
    )
    for name in CONTESTANTS:
        r = details.get(name, {})
        if "error" in r:
            print(f"{name:<11} failed: {r['error']}")
            continue
        share = r.get("others_cpu_share")
        print(
            f"{name:<11}{r.get('candidates', 0):>7}{r.get('bar_evals_per_s', 0):>14.3g}"
            f"{r.get('worst_bar_evals_per_s', 0):>14.3g}{r.get('peak_rss_mb', 0):>9.0f}"
            f"{'' if share is None else f'{share:.0%}':>8}"
        )
        if share is not None and share > BUSY_WARNING:
            print(f"  warning: other processes took {share:.0%} of the CPUs: figures unreliable")
    for key in ("ratio_vs_single", "ratio_vs_reference"):
        value = summary[key]
        print(f"{key}: {'n/a' if value is None else f'{value:.3g}'}")
    print("targets:", json.dumps(summary["targets"]))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--candidates", type=int, default=1000)
    p.add_argument("--reference-candidates", type=int, default=2)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--contestants", default=",".join(CONTESTANTS))
    p.add_argument("--json", action="store_true")
    p.add_argument("--contestant", choices=CONTESTANTS, help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.contestant:
        return child_main(args)
    if not args.data.is_file():
        print(f"data file not found: {args.data}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        results = {
            name: run_child(name, args, Path(tmp))
            for name in args.contestants.split(",")
            if name in CONTESTANTS
        }
    summary = summarize(results)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_table(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())

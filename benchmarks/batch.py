"""stratopt's batch against backtesting.py's multi-market runner, per cell.

A cell is one symbol × timeframe × parameter set. Both sides run the same always-in SMA
crossover (backtesting.py's README `SmaCross` with `exclusive_orders=True`; stratopt's
`sma_cross` in `mode: reversal` with the settings of docs/parity.md) on the same bars:

* 20 symbols, every distinct symbol of ../shared/data: the 16 with intraday files (the
  hourly FX and SPY files, BTCUSD hourly, BTCPERP minutes, the eleven 5-minute crypto
  files) at **1h and 1d**, the 4 with daily files only (AAPL, IBM, MSFT, GOOG) at **1d
  and 1w** (they have no hourly bars). 40 series, loaded and resampled once by
  `stratopt.batch.load_series`; the peer gets the very same arrays.
* 50 parameter sets: fast 5, 10, 15, 20, 25 × slow 30, 40, …, 120.

stratopt: `stratopt.batch.run_batch` over the 40 series × 50 sets (2,000 cells), local
executor, one untimed warm-up run, then `--runs` timed runs; the median counts.
backtesting.py: `backtesting.lib.MultiBacktest(dfs, SmaCross, ...).run(n1=, n2=)` over the
same 40 series for `--peer-sets` of the 50 sets (evenly spread: it takes minutes per set
on the hourly FX files), in the peers virtualenv (benchmarks/README.md), timed once per
set. Per cell = time / cells run. Both use every core (the engine's threads; the
runner's process pool).

Usage: .venv/bin/python benchmarks/batch.py [--json] [--runs 3] [--peer-sets 3]
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
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"
PEER_PYTHON = HERE / ".venv-peers" / "bin" / "python"
INTRADAY = (
    "SPY_1h", "EURUSD_1h", "NZDUSD_1h", "BTCUSD_1h", "BTCPERP_1m", "ADABTC_5m", "DASHBTC_5m",
    "ETCBTC_5m", "ETHBTC_5m", "LTCBTC_5m", "NXTBTC_5m", "TRXBTC_5m", "XLMBTC_5m",
    "XMRBTC_5m", "ZECBTC_5m", "XRPUSDT_PERP_5m",
)  # fmt: skip
DAILY = ("AAPL_1d", "IBM_1d", "MSFT_1d", "GOOG_1d")
SETS = [(f, s) for f in (5, 10, 15, 20, 25) for s in range(30, 130, 10)]
CASH = 1_000_000.0  # above every price, so whole units can always be bought
COMMISSION = 0.002
FULL_EQUITY = 1 - 2**-52  # backtesting.py's default order size (docs/parity.md)
TARGET = 100.0

sys.path.insert(0, str(HERE))
from engine_throughput import _busy_cpu_s, _children_cpu_s  # noqa: E402


def load_cells() -> list[Any]:
    """The 40 series (stratopt.batch.Series), intraday then daily files."""
    from stratopt.batch import load_series

    intraday = [str(DATA / f"{name}.csv.gz") for name in INTRADAY]
    daily = [str(DATA / f"{name}.csv.gz") for name in DAILY]
    series = load_series(intraday, ["1h", "1d"]) + load_series(daily, ["1d", "1w"])
    bad = [s.label for s in series if s.bars is None]
    if bad:
        raise SystemExit(f"series without bars: {bad}")
    return series


def run_stratopt(series: list[Any], runs: int) -> dict[str, Any]:
    from stratopt.batch import Job, run_batch
    from stratopt.engine import ExecSettings

    settings = ExecSettings(cash=CASH, commission=COMMISSION, fill="next_open",
                            sizing="fraction", size=FULL_EQUITY, whole_units=True)  # fmt: skip
    params = tuple({"fast": f, "slow": s, "mode": "reversal"} for f, s in SETS)
    job = Job("sma_cross", params, (settings,) * len(params))
    first = run_batch(series, job)  # warm-up: numba caches, indicator code paths
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        table = run_batch(series, job)
        times.append(time.perf_counter() - t0)
    assert table.frame.equals(first.frame), "two runs of the same batch differ"
    cells = len(table.frame)
    return {
        "cells": cells,
        "errors": table.errors,
        "seconds": times,
        "median_seconds": statistics.median(times),
        "frame": table.frame,
    }


def export(series: list[Any], path: Path) -> None:
    arrays: dict[str, np.ndarray] = {}
    for i, s in enumerate(series):
        b = s.bars
        for col in ("time", "open", "high", "low", "close", "volume"):
            arrays[f"{i}:{col}"] = getattr(b, col)
    np.savez(path, **arrays)


def peer_child(data: Path, out: Path, sets: list[tuple[int, int]]) -> None:
    """In the peers venv: MultiBacktest over every series, once per parameter set."""
    from _backtesting_peer import run

    run(data, out, sets, CASH, COMMISSION)


def run_peer(series: list[Any], sets: list[tuple[int, int]], python: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "bars.npz", Path(tmp) / "peer.json"
        export(series, data)
        cmd = [str(python), str(Path(__file__).resolve()), "--peer-child", str(data),
               "--out", str(out), "--sets", json.dumps(sets)]  # fmt: skip
        busy0, own0, t0 = _busy_cpu_s(), _children_cpu_s(), time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        busy1, own1, t1 = _busy_cpu_s(), _children_cpu_s(), time.perf_counter()
        if proc.returncode != 0:
            raise SystemExit(f"backtesting.py child failed:\n{proc.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(out.read_text())
    if busy0 is not None and busy1 is not None:
        others = max(0.0, (busy1 - busy0) - (own1 - own0))
        result["others_cpu_share"] = others / ((t1 - t0) * (os.cpu_count() or 1))
    return result


def agreement(frame: Any, peer: dict[str, Any]) -> dict[str, Any]:
    """Closed trades: backtesting.py's `# Trades` + the trade left open = stratopt's count."""
    same = total = 0
    for key, counts in peer["trades"].items():
        fast, slow = (int(x) for x in key.split(","))
        set_id = SETS.index((fast, slow))
        ours = frame.loc[frame["set"] == set_id, "trades"].to_numpy()
        for theirs, mine in zip(counts, ours, strict=True):
            total += 1
            same += int(mine) in (theirs, theirs + 1)  # +1: the END exit of the open trade
    return {"cells_compared": total, "trade_counts_agree": same}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--runs", type=int, default=3, help="timed stratopt runs")
    ap.add_argument("--peer-sets", type=int, default=3, help="parameter sets backtesting.py runs")
    ap.add_argument("--peer-python", type=Path, default=PEER_PYTHON)
    ap.add_argument("--peer-child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--sets", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.peer_child:
        peer_child(args.peer_child, args.out, [tuple(s) for s in json.loads(args.sets)])
        return 0
    series = load_cells()
    ours = run_stratopt(series, args.runs)
    pick = np.linspace(0, len(SETS) - 1, args.peer_sets).round().astype(int)
    peer = run_peer(series, [SETS[i] for i in pick], args.peer_python)
    ours_cell = ours["median_seconds"] / ours["cells"]
    peer_cell = sum(peer["seconds"]) / peer["cells"]
    summary = {
        "stratopt_cells_per_s": 1.0 / ours_cell,
        "backtesting_py_cells_per_s": 1.0 / peer_cell,
        "ratio": peer_cell / ours_cell,
        "target_ratio": TARGET,
        "series": len(series),
        "parameter_sets": len(SETS),
        "stratopt_cells": ours["cells"],
        "stratopt_error_rows": ours["errors"],
        "stratopt_seconds": ours["seconds"],
        "backtesting_py_cells": peer["cells"],
        "backtesting_py_seconds": peer["seconds"],
        "others_cpu_share_during_peer": peer.get("others_cpu_share"),
        "bars": {s.label: len(s.bars) for s in series},
        **agreement(ours["frame"], peer),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"stratopt       {summary['stratopt_cells_per_s']:>12,.0f} cells/s "
            f"({ours['cells']} cells, median of {args.runs}: {ours['median_seconds']:.3f} s)"
        )
        print(
            f"backtesting.py {summary['backtesting_py_cells_per_s']:>12,.1f} cells/s "
            f"({peer['cells']} cells in {sum(peer['seconds']):.1f} s)"
        )
        print(f"ratio {summary['ratio']:,.0f}x (target {TARGET:.0f}x); trade counts agree on "
              f"{summary['trade_counts_agree']} of {summary['cells_compared']} cells")  # fmt: skip
    return 0 if summary["ratio"] >= TARGET else 3


if __name__ == "__main__":
    sys.exit(main())

"""Engine throughput: stratopt vs a bare numba floor vs vectorbt on an SMA-crossover grid.

One run measures, for each contestant in its own subprocess (so that its peak RSS is
its own), bar-evaluations per second (bars x candidates / s; warm: one untimed call
first, then the median of ``--runs`` timed calls) and peak RSS, on a seeded synthetic
1-minute series:

* ``stratopt``: ``stratopt.backtest.evaluate_many`` on the whole grid, full metric set;
* ``floor``: ``benchmarks/_floor_nb.py``, rolling means + crossover state machine,
  final equity and trade count only;
* ``vectorbt``: ``vbt.MA.run`` + ``vbt.Portfolio.from_signals`` on a slice of the grid,
  run with a separate interpreter (``--vbt-python``) that has vectorbt installed.

The rule: always-in long/short SMA crossover reversal; long when fast crosses above
slow (``fast[i-1] < slow[i-1] and fast[i] > slow[i]``), short on the opposite cross,
market orders filled at the next bar's open, commission 0.1% of traded value per
side, all equity in each position, no stops. The SMA computation (once per distinct
window) is inside every timed region.

Then it checks that the three agree on trade counts on the combinations vectorbt ran
(and stratopt and the floor on every combination). See ``benchmarks/README.md``.

    python benchmarks/engine_throughput.py                       # full run, table
    python benchmarks/engine_throughput.py --json                # one JSON object
    python benchmarks/engine_throughput.py --bars 20000 --combos 20   # quick run

The child processes are this same file with ``--contestant NAME``; only numpy (and the
contestant's own library) is imported there, since the vectorbt child runs in an
environment without stratopt.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
CONTESTANTS = ("stratopt", "floor", "vectorbt")
CASH = 10_000.0
COMMISSION = 0.001
VBT_PYTHON_ENV = "STRATOPT_VBT_PYTHON"
DEFAULT_VBT_PYTHON = HERE / ".venv-peers" / "bin" / "python"
TARGET_VS_FLOOR = 0.5
TARGET_VS_VECTORBT = 50.0
TARGET_RSS_MB = 1024.0
BUSY_WARNING = 0.05  # share of the CPUs taken by other processes during a child
VOLATILITY = 5e-4  # per 1-minute bar: ~36% a year on round-the-clock minutes

Result = dict[str, Any]


# ----------------------------------------------------------------------------- data


def make_bars(n: int, seed: int) -> dict[str, Any]:
    """The benchmark series: ``n`` seeded 1-minute bars as plain arrays.

    Uses ``stratopt.data.synthetic_bars`` when the installed stratopt has it, else a
    seeded geometric random walk generated here. The one place to switch generators.
    """
    try:
        from stratopt.data import synthetic_bars
    except ImportError:
        return _random_walk_bars(n, seed)
    bars = synthetic_bars(n, seed=seed, interval="1min", volatility=VOLATILITY)
    out: dict[str, Any] = {
        c: np.ascontiguousarray(getattr(bars, c), dtype=np.float64)
        for c in ("open", "high", "low", "close", "volume")
    }
    out["time"] = np.asarray(bars.time, dtype="datetime64[ns]")
    out["periods_per_year"] = float(bars.periods_per_year)
    out["generator"] = (
        f"stratopt.data.synthetic_bars({n}, seed={seed}, interval='1min', volatility={VOLATILITY})"
    )
    return out


def _random_walk_bars(n: int, seed: int) -> dict[str, Any]:
    """Geometric random walk, 5 bp per bar (~36% a year on 24/7 minutes), valid OHLC."""
    rng = np.random.default_rng(seed)
    sigma = VOLATILITY
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, sigma, n)))
    open_ = np.empty(n)
    open_[0] = 100.0
    open_[1:] = close[:-1]
    open_ *= np.exp(rng.normal(0.0, 0.1 * sigma, n))
    wicks = np.abs(rng.normal(0.0, 0.5 * sigma, (2, n)))
    high = np.maximum(open_, close) * np.exp(wicks[0])
    low = np.minimum(open_, close) * np.exp(-wicks[1])
    volume = rng.lognormal(3.0, 1.0, n)
    start = np.datetime64("2024-01-01T00:00:00", "ns")
    return {
        "open": open_,
        "high": high,
        "low": low,
        "close": close,
        "volume": volume,
        "time": start + np.arange(n) * np.timedelta64(60, "s"),
        "periods_per_year": 365.0 * 24 * 60,
        "generator": f"geometric random walk in benchmarks ({n} bars, seed={seed})",
    }


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


# ----------------------------------------------------------------------------- grid


def make_grid(combos: int) -> np.ndarray:
    """``combos`` (fast, slow) pairs, fast outer: 20 x 50 for 1,000.

    Fast windows 20..200, slow windows 220..2000, evenly spaced; other counts keep the
    2:5 shape and truncate the last row. Fast windows under 20 minutes trade so often
    (~18 round trips a day at 10/220) that 0.1% fees drain equity below 1e-6 of a
    currency unit within the series, where vectorbt's absolute tolerance (1e-12)
    rejects further orders and trade counts stop being comparable.
    """
    n_fast = max(1, min(combos, round((combos / 2.5) ** 0.5)))
    n_slow = -(-combos // n_fast)
    fast = np.unique(np.linspace(20, 200, n_fast).round().astype(np.int64))
    slow = np.unique(np.linspace(220, 2000, n_slow).round().astype(np.int64))
    grid = np.array([(f, s) for f in fast for s in slow], dtype=np.int64)
    return grid[:combos]


def vbt_slice(combos: int, vbt_combos: int) -> np.ndarray:
    """Indices of the grid that vectorbt runs: evenly spread over the whole grid."""
    k = min(combos, vbt_combos)
    return np.unique(np.linspace(0, combos - 1, k).round().astype(np.int64))


def sample_indices(idx: np.ndarray, k: int = 10) -> np.ndarray:
    """The combinations shown in the agreement table (a sample of the vectorbt slice)."""
    return idx[np.unique(np.linspace(0, len(idx) - 1, min(k, len(idx))).round().astype(int))]


# ----------------------------------------------------------------------------- measuring


def peak_rss_mb() -> float:
    """This process's peak resident set size in MiB (VmHWM, else ru_maxrss)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024.0 if sys.platform != "darwin" else rss / 2**20


def current_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def measure(
    run: Callable[[], tuple[np.ndarray, np.ndarray]], runs: int
) -> tuple[float, list[float], np.ndarray, np.ndarray]:
    """One untimed warm-up call, then ``runs`` timed calls; returns the last results."""
    t0 = time.perf_counter()
    trades, equity = run()
    warmup = time.perf_counter() - t0
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        trades, equity = run()
        times.append(time.perf_counter() - t0)
    return warmup, times, trades, equity


# ----------------------------------------------------------------------------- contestants


def floor_runner(data: dict[str, np.ndarray], grid: np.ndarray) -> Callable[[], Any]:
    """(b) The minimal numba kernel of ``_floor_nb.py``."""
    from _floor_nb import rolling_means, sma_cross_floor

    windows, inverse = np.unique(grid, return_inverse=True)
    rows = inverse.reshape(grid.shape).astype(np.int64)
    fast_row = np.ascontiguousarray(rows[:, 0])
    slow_row = np.ascontiguousarray(rows[:, 1])
    start = (grid.max(axis=1) - 1).astype(np.int64)
    open_, close = data["open"], data["close"]

    def once() -> tuple[np.ndarray, np.ndarray]:
        means = rolling_means(close, windows)
        equity, trades = sma_cross_floor(
            open_, close, means, fast_row, slow_row, start, CASH, COMMISSION
        )
        return trades, equity

    return once


def stratopt_bars(data: dict[str, np.ndarray]) -> Any:
    """The benchmark series as `stratopt.data.Bars`."""
    from stratopt.data import Bars

    return Bars(
        time=data["time"],
        open=data["open"],
        high=data["high"],
        low=data["low"],
        close=data["close"],
        volume=data["volume"],
        symbol="SYNTH",
        source="benchmark",
        periods_per_year=float(data["periods_per_year"]),
    )


def stratopt_runner(data: dict[str, np.ndarray], grid: np.ndarray) -> Callable[[], Any]:
    """(a) stratopt's many-candidates engine call, full metric set."""
    from stratopt.backtest import evaluate_many
    from stratopt.engine import ExecSettings
    from stratopt.strategies import get_strategy

    bars = stratopt_bars(data)
    strategy = get_strategy("sma_cross")
    settings = ExecSettings(
        cash=CASH, commission=COMMISSION, fill="next_open", sizing="fraction", size=1.0
    )

    def once() -> tuple[np.ndarray, np.ndarray]:
        params = [{"fast": int(f), "slow": int(s), "mode": "reversal"} for f, s in grid]
        metrics = evaluate_many(bars, strategy, params, settings).metrics
        trades = metrics["trades"].to_numpy(dtype=np.int64)
        equity = metrics["final_equity"].to_numpy(dtype=np.float64)
        return trades, equity

    return once


def vectorbt_runner(data: dict[str, np.ndarray], grid: np.ndarray) -> Callable[[], Any]:
    """(c) vectorbt: MA.run per distinct window, from_signals on all columns at once.

    Fills at the next bar's open: signals are shifted one bar forward and executed at
    ``price=open`` (the crossing of bar i becomes an order at bar i+1, filled at
    ``open[i+1]`` and marked at ``close[i+1]``; the last bar's signal falls off).
    ``direction='both'`` with entries/exits makes every exit a short entry, i.e. the
    always-in reversal. ``size=inf`` + ``lock_cash=True`` puts all equity in each
    position, long or short. Crossings use the rule's strict definition on numpy
    arrays (vectorbt's own ``crossed_above`` would also fire after a tie).
    Trade count = ``pf.trades.count()`` (exit trades, the still-open one included);
    final equity = initial cash + net pnl of all trades, less the exit fee the
    still-open position would pay at the last close.
    """
    import vectorbt as vbt

    windows, inverse = np.unique(grid, return_inverse=True)
    rows = inverse.reshape(grid.shape)
    open_, close = data["open"], data["close"]
    n, m = close.shape[0], grid.shape[0]
    close2d, open2d = close[:, None], open_[:, None]  # one column, broadcast to m

    def once() -> tuple[np.ndarray, np.ndarray]:
        ma = vbt.MA.run(close, window=windows.tolist(), short_name="ma")
        means = ma.ma.to_numpy()  # (n, distinct windows)
        entries = np.zeros((n, m), dtype=np.bool_)
        exits = np.zeros((n, m), dtype=np.bool_)
        for c in range(m):
            f = means[:, rows[c, 0]]
            s = means[:, rows[c, 1]]
            # crossing at bar i (1..n-2) -> order at bar i+1
            entries[2:, c] = (f[:-2] < s[:-2]) & (f[1:-1] > s[1:-1])
            exits[2:, c] = (f[:-2] > s[:-2]) & (f[1:-1] < s[1:-1])
        max_orders = int(entries.sum() + exits.sum()) + m
        pf = vbt.Portfolio.from_signals(
            close2d,
            entries,
            exits,
            direction="both",
            price=open2d,
            size=np.inf,
            lock_cash=True,
            fees=COMMISSION,
            init_cash=CASH,
            max_orders=max_orders,
        )
        trades = pf.trades
        counts = trades.count().to_numpy(dtype=np.int64)
        rec = trades.values
        col = rec["col"]
        net = np.bincount(col, weights=rec["pnl"], minlength=m)
        still_open = rec["status"] == 0
        exit_fee = np.bincount(
            col[still_open],
            weights=rec["size"][still_open] * close[-1] * COMMISSION,
            minlength=m,
        )
        return counts, CASH + net - exit_fee

    return once


RUNNERS: dict[str, Callable[[dict[str, np.ndarray], np.ndarray], Callable[[], Any]]] = {
    "stratopt": stratopt_runner,
    "floor": floor_runner,
    "vectorbt": vectorbt_runner,
}


def child_main(args: argparse.Namespace) -> int:
    """Run one contestant and write its JSON (and per-combination arrays) to ``--out``."""
    data = load_arrays(Path(args.data))
    grid = make_grid(args.combos)
    if args.contestant == "vectorbt":
        idx = vbt_slice(args.combos, args.vbt_combos)
    else:
        idx = np.arange(len(grid))
    sub = grid[idx]
    baseline = current_rss_mb()
    runner = RUNNERS[args.contestant](data, sub)
    warmup, times, trades, equity = measure(runner, args.runs)
    n = int(data["close"].shape[0])
    med = statistics.median(times)
    out = Path(args.out)
    np.savez(out.with_suffix(".npz"), idx=idx, trades=trades, final_equity=equity)
    result: Result = {
        "contestant": args.contestant,
        "bars": n,
        "combos": len(sub),
        "warmup_s": warmup,
        "times_s": times,
        "median_s": med,
        "bar_evals_per_s": n * len(sub) / med,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": peak_rss_mb(),
        "python": sys.executable,
        "versions": _versions(args.contestant),
    }
    out.write_text(json.dumps(result))
    return 0


def _versions(contestant: str) -> dict[str, str]:
    import numba

    v = {"numpy": np.__version__, "numba": numba.__version__}
    if contestant == "vectorbt":
        import vectorbt

        v["vectorbt"] = vectorbt.__version__
    elif contestant == "stratopt":
        import stratopt

        v["stratopt"] = stratopt.__version__
    return v


# ----------------------------------------------------------------------------- parent


def run_child(
    name: str, python: str, args: argparse.Namespace, data_path: Path, workdir: Path
) -> tuple[Result | None, dict[str, np.ndarray] | None, str]:
    out = workdir / f"{name}.json"
    cmd = [
        python,
        str(Path(__file__).resolve()),
        "--contestant",
        name,
        "--data",
        str(data_path),
        "--out",
        str(out),
        "--combos",
        str(args.combos),
        "--vbt-combos",
        str(args.vbt_combos),
        "--runs",
        str(args.vbt_runs if name == "vectorbt" else args.runs),
    ]
    busy0, own0, t0 = _busy_cpu_s(), _children_cpu_s(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    busy1, own1, t1 = _busy_cpu_s(), _children_cpu_s(), time.perf_counter()
    if proc.returncode != 0 or not out.exists():
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        return None, None, f"{name} failed (exit {proc.returncode}):\n{tail}"
    result = json.loads(out.read_text())
    if busy0 is not None and busy1 is not None:
        # CPU time the rest of the machine (other processes, VM steal) took while the
        # child ran, as a share of all cores: a noisy-neighbour warning, not a correction.
        others = max(0.0, (busy1 - busy0) - (own1 - own0))
        result["others_cpu_share"] = others / ((t1 - t0) * (os.cpu_count() or 1))
    arrays = load_arrays(out.with_suffix(".npz"))
    return result, arrays, ""


def _busy_cpu_s() -> float | None:
    """Busy CPU seconds of the whole machine so far (all cores, steal included)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return None
    ticks = [int(x) for x in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    busy = sum(ticks[:8]) - idle  # user nice system idle iowait irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK")


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def compare(
    results: dict[str, dict[str, np.ndarray]], combos: int, vbt_combos: int
) -> dict[str, Any]:
    """Trade-count agreement: all three on the vectorbt slice, stratopt/floor on all."""
    report: dict[str, Any] = {}
    idx = vbt_slice(combos, vbt_combos)
    names = [n for n in CONTESTANTS if n in results]
    counts = {}
    equity = {}
    for name in names:
        r = results[name]
        pos = {int(i): k for k, i in enumerate(r["idx"])}
        counts[name] = {int(i): int(r["trades"][pos[int(i)]]) for i in idx if int(i) in pos}
        equity[name] = {int(i): float(r["final_equity"][pos[int(i)]]) for i in idx if int(i) in pos}
    mismatches = []
    for i in idx:
        row = {name: counts[name].get(int(i)) for name in names}
        values = {v for v in row.values() if v is not None}
        if len(values) > 1:
            mismatches.append({"combo": int(i), **row})
    report["checked_combos"] = len(idx)
    report["contestants"] = names
    report["trade_count_mismatches"] = mismatches
    sample = sample_indices(idx)
    report["sample"] = [
        {
            "combo": int(i),
            **{f"{n}_trades": counts[n].get(int(i)) for n in names},
            **{f"{n}_final_equity": equity[n].get(int(i)) for n in names},
        }
        for i in sample
    ]
    if "stratopt" in results and "floor" in results:
        a, b = results["stratopt"], results["floor"]
        report["stratopt_vs_floor_all_combos"] = {
            "combos": len(a["trades"]),
            "trade_count_mismatches": int(np.sum(a["trades"] != b["trades"])),
            "final_equity_max_rel_diff": float(
                np.max(np.abs(a["final_equity"] / b["final_equity"] - 1.0))
            ),
        }
    if "vectorbt" in results and "floor" in results:
        v = results["vectorbt"]
        f = results["floor"]["final_equity"][v["idx"]]
        report["vectorbt_vs_floor_final_equity_max_rel_diff"] = float(
            np.max(np.abs(v["final_equity"] / f - 1.0))
        )
    report["agree"] = not mismatches and (
        report.get("stratopt_vs_floor_all_combos", {}).get("trade_count_mismatches", 0) == 0
    )
    return report


def summarize(
    args: argparse.Namespace,
    data: dict[str, Any],
    results: dict[str, Result],
    agreement: dict[str, Any],
    errors: dict[str, str],
) -> dict[str, Any]:
    def rate(name: str) -> float | None:
        r = results.get(name)
        return None if r is None else float(r["bar_evals_per_s"])

    def rss(name: str) -> float | None:
        r = results.get(name)
        return None if r is None else float(r["peak_rss_mb"])

    s, f, v = rate("stratopt"), rate("floor"), rate("vectorbt")
    summary: dict[str, Any] = {
        "stratopt_bar_evals_per_s": s,
        "floor_bar_evals_per_s": f,
        "vectorbt_bar_evals_per_s": v,
        "ratio_vs_floor": s / f if s and f else None,
        "ratio_vs_vectorbt": s / v if s and v else None,
        "stratopt_peak_rss_mb": rss("stratopt"),
        "floor_peak_rss_mb": rss("floor"),
        "vectorbt_peak_rss_mb": rss("vectorbt"),
        "bars": int(data["close"].shape[0]),
        "combos": args.combos,
        "vectorbt_combos": results["vectorbt"]["combos"] if "vectorbt" in results else None,
        "runs": {n: len(r["times_s"]) for n, r in results.items()},
        "data": str(data["generator"]),
        "trade_counts_agree": agreement.get("agree"),
        "agreement": agreement,
        "details": results,
        "errors": errors,
    }
    summary["targets"] = {
        "ratio_vs_floor>=0.5": _ge(summary["ratio_vs_floor"], TARGET_VS_FLOOR),
        "ratio_vs_vectorbt>=50": _ge(summary["ratio_vs_vectorbt"], TARGET_VS_VECTORBT),
        "stratopt_peak_rss_mb<1024": (
            None
            if summary["stratopt_peak_rss_mb"] is None
            else summary["stratopt_peak_rss_mb"] < TARGET_RSS_MB
        ),
    }
    return summary


def _ge(x: float | None, target: float) -> bool | None:
    return None if x is None else x >= target


def print_table(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 150)
    details: dict[str, Result] = summary["details"]
    table = Table(
        title=(
            f"SMA-crossover reversal grid on {summary['bars']:,} 1-minute bars:"
            " warm, median of the timed runs"
        )
    )
    columns = (
        "contestant",
        "combos",
        "runs",
        "median s",
        "bar-evals/s",
        "warm-up s",
        "peak RSS MiB",
    )
    for col in columns:
        table.add_column(col, justify="left" if col == "contestant" else "right")
    for name in CONTESTANTS:
        r = details.get(name)
        if r is None:
            table.add_row(name, "-", "-", "-", "not run", "-", "-")
            continue
        table.add_row(
            name,
            f"{r['combos']:,}",
            str(len(r["times_s"])),
            f"{r['median_s']:.3f}",
            f"{r['bar_evals_per_s']:.3g}",
            f"{r['warmup_s']:.2f}",
            f"{r['peak_rss_mb']:.0f}",
        )
    console.print(table)
    agreement = summary["agreement"]
    if agreement.get("sample"):
        names = agreement["contestants"]
        sample = Table(title="Trade counts on a sample of combinations (fast, slow)")
        sample.add_column("combo")
        for n in names:
            sample.add_column(f"{n} trades", justify="right")
        for n in names:
            sample.add_column(f"{n} final equity", justify="right")
        grid = make_grid(summary["combos"])
        for row in agreement["sample"]:
            f, s = grid[row["combo"]]
            cells = [f"#{row['combo']} ({f}, {s})"]
            cells += [_fmt(row[f"{n}_trades"], "d") for n in names]
            cells += [_fmt(row[f"{n}_final_equity"], ",.2f") for n in names]
            sample.add_row(*cells)
        console.print(sample)
    console.print(f"data: {summary['data']}")
    console.print(
        f"trade counts agree: {agreement.get('agree')} "
        f"({agreement.get('checked_combos')} combinations checked across "
        f"{', '.join(agreement.get('contestants', []))}"
        + (
            f"; stratopt vs floor on all {agreement['stratopt_vs_floor_all_combos']['combos']}:"
            f" {agreement['stratopt_vs_floor_all_combos']['trade_count_mismatches']} mismatches,"
            f" final equity max rel diff"
            f" {agreement['stratopt_vs_floor_all_combos']['final_equity_max_rel_diff']:.2e}"
            if "stratopt_vs_floor_all_combos" in agreement
            else ""
        )
        + ")"
    )
    if agreement.get("trade_count_mismatches"):
        console.print(f"[red]mismatches:[/red] {agreement['trade_count_mismatches'][:10]}")
    for key in ("ratio_vs_floor", "ratio_vs_vectorbt"):
        value = summary[key]
        console.print(f"{key}: {'-' if value is None else f'{value:.3g}'}")
    console.print(f"targets: {summary['targets']}")
    for name, r in details.items():
        share = r.get("others_cpu_share")
        if share is not None and share > BUSY_WARNING:
            console.print(
                f"[yellow]warning[/yellow]: other processes took {share:.0%} of the CPUs"
                f" while {name} ran; its figures are unreliable"
            )
    for name, err in summary["errors"].items():
        console.print(f"[yellow]{name}[/yellow]: {err}")


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def resolve_vbt_python(arg: str | None) -> str | None:
    candidate = arg or os.environ.get(VBT_PYTHON_ENV) or str(DEFAULT_VBT_PYTHON)
    return candidate if Path(candidate).exists() else None


def parent_main(args: argparse.Namespace) -> int:
    wanted = [c.strip() for c in args.contestants.split(",") if c.strip()]
    unknown = set(wanted) - set(CONTESTANTS)
    if unknown:
        raise SystemExit(f"unknown contestant(s): {sorted(unknown)}")
    data = make_bars(args.bars, args.seed)
    results: dict[str, Result] = {}
    arrays: dict[str, dict[str, np.ndarray]] = {}
    errors: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="stratopt-bench-") as tmp:
        workdir = Path(tmp)
        data_path = workdir / "bars.npz"
        np.savez(data_path, **data)
        for name in CONTESTANTS:
            if name not in wanted:
                continue
            python: str | None = sys.executable
            if name == "vectorbt":
                python = resolve_vbt_python(args.vbt_python)
                if python is None:
                    errors[name] = (
                        f"skipped: no vectorbt interpreter (pass --vbt-python, set "
                        f"{VBT_PYTHON_ENV}, or create {DEFAULT_VBT_PYTHON}; see README)"
                    )
                    continue
            if not args.json:
                print(f"running {name} ...", file=sys.stderr, flush=True)
            result, arr, err = run_child(name, python, args, data_path, workdir)
            if result is None or arr is None:
                errors[name] = err
                continue
            results[name] = result
            arrays[name] = arr
    agreement = compare(arrays, args.combos, args.vbt_combos) if arrays else {}
    summary = summarize(args, data, results, agreement, errors)
    if args.json:
        print(json.dumps(summary))
    else:
        print_table(summary)
    if agreement and not agreement["agree"]:
        return 2
    if args.check_targets and not all(summary["targets"].values()):
        return 3
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--bars", type=int, default=1_000_000, help="series length (1-minute bars)")
    p.add_argument("--combos", type=int, default=1_000, help="grid size for stratopt and floor")
    p.add_argument(
        "--vbt-combos", type=int, default=100, help="vectorbt's slice of the grid (spread evenly)"
    )
    p.add_argument(
        "--runs", type=int, default=5, help="timed runs after the warm-up (median), stratopt/floor"
    )
    p.add_argument("--vbt-runs", type=int, default=3, help="timed runs for vectorbt")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--contestants",
        default=",".join(CONTESTANTS),
        help="comma-separated subset of stratopt,floor,vectorbt",
    )
    p.add_argument(
        "--vbt-python",
        default=None,
        help=f"interpreter with vectorbt (default: ${VBT_PYTHON_ENV} or {DEFAULT_VBT_PYTHON})",
    )
    p.add_argument("--check-targets", action="store_true", help="exit 3 if a target is missed")
    p.add_argument("--contestant", choices=CONTESTANTS, help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if min(args.runs, args.vbt_runs, args.combos, args.vbt_combos) < 1 or args.bars < 10:
        p.error("--runs, --vbt-runs, --combos and --vbt-combos must be >= 1, --bars >= 10")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.contestant:
        return child_main(args)
    return parent_main(args)


if __name__ == "__main__":
    sys.exit(main())

"""Every metric of a few hundred candidates, pinned bit for bit to a saved run.

`test_many_candidates.py` checks the batch kernel against `run_one_nb`, but both call
the same metrics kernels, so a change to those kernels moves both together. This file
pins their output to `data/pinned_metrics.npz`, made by the code before the vector
compaction of the metrics pass (main 2c7025a): an optimization of the kernels must give
the same bits (ranked_results.csv is compared bit for bit).

The inputs come from `numpy.random.Generator.random` only, turned into prices with
``+ - * /`` and `np.cumprod` (no `exp`/`log`, whose last bits depend on the CPU's
NumPy build). The metrics' reassociated sums (volatility, Sharpe, skew, CVaR's tail
sum...) depend on the vector width LLVM picks for the CPU, so on a CPU other than the
one the file was made on only the metrics without such sums are compared.

Regenerate (only from code whose bits are the reference)::

    python -m tests.engine.test_pinned_metrics
"""

from __future__ import annotations

from pathlib import Path

import llvmlite.binding as llvm_binding
import numpy as np

from stratopt.engine import _nb, run_many
from stratopt.engine._types import ExecSettings, pack_settings
from stratopt.metrics import METRIC_IDS

PINNED = Path(__file__).parent / "data" / "pinned_metrics.npz"
# metrics computed without a reassociated sum: the same bits on every CPU
CPU_FREE = (
    "total_return", "cagr", "max_drawdown", "max_drawdown_duration", "trades", "win_rate",
    "profit_factor", "avg_trade", "expectancy", "sqn", "exposure", "return_on_risk",
    "best_trade", "worst_trade", "avg_trade_duration", "avg_win", "avg_loss", "var_95",
    "tail_ratio", "final_equity",
)  # fmt: skip
N_CANDIDATES = 48


def _prices(u: np.ndarray, vol: float, calm_after: int) -> tuple[np.ndarray, ...]:
    """OHLC from uniforms: a multiplicative walk, calmer after bar ``calm_after``."""
    n = u.shape[1]
    step = (u[0] - 0.5) * vol
    step[calm_after:] *= 0.05
    close = 100.0 * np.cumprod(1.0 + step)
    open_ = np.concatenate(([100.0], close[:-1])) * (1.0 + (u[1] - 0.5) * vol * 0.2)
    high = np.maximum(open_, close) * (1.0 + u[2] * vol * 0.3)
    low = np.minimum(open_, close) * (1.0 - u[3] * vol * 0.3)
    return tuple(np.ascontiguousarray(a[:n]) for a in (open_, high, low, close))


def _settings(rng: np.random.Generator) -> ExecSettings:
    r = rng.random(10)
    stop = 0.002 + 0.03 * r[5] if r[4] < 0.4 else None
    return ExecSettings(
        cash=10_000.0,
        commission=0.002 * r[0] if r[0] < 0.7 else 0.0,
        fill="close" if r[1] < 0.5 else "next_open",
        direction=("both", "long", "short")[int(r[2] * 3)],
        sizing="fraction" if r[3] < 0.8 else "units",
        size=1.0 if r[3] < 0.8 else 30.0,
        whole_units=bool(r[6] < 0.3),
        stop_loss=stop,
        take_profit=0.004 + 0.05 * r[7] if r[8] < 0.3 else None,
        max_bars=int(5 + 200 * r[9]) if r[9] < 0.2 else None,
    )


def _case(seed: int, n: int) -> np.ndarray:
    """The metrics of N_CANDIDATES crossovers of random walks on one random path."""
    rng = np.random.default_rng(seed)
    u = rng.random((4, n))
    vol = 0.002 + 0.03 * rng.random()
    ohlc = _prices(u, vol, n // 4 if seed % 3 == 0 else n)  # seed 0, 3: tails in the band
    walks = np.cumsum(rng.random((6, n)) - 0.5, axis=1)
    ind = np.ascontiguousarray(walks)
    rules = np.zeros((N_CANDIDATES, 8, 5), dtype=np.int64)
    exs = []
    for k in range(N_CANDIDATES):
        a, b = (int(x) for x in rng.random(2) * 6)
        b = (a + 1 + b % 5) % 6
        rules[k, 0] = (_nb.RULE_CROSS_ABOVE, a, b, 1, 0)
        rules[k, 1] = (_nb.RULE_CROSS_BELOW, a, b, -1 if rng.random() < 0.7 else 2, 0)
        exs.append(pack_settings(_settings(rng)))
    out = np.full((N_CANDIDATES, len(METRIC_IDS)), np.nan)
    run_many(ohlc, ind, rules, np.zeros((N_CANDIDATES, 8)), np.stack(exs), 252.0, out)
    return out


CASES = ((0, 40_000), (1, 30_000), (2, 9_000), (3, 20_000), (4, 5_000), (5, 2_100))


def _all_cases() -> np.ndarray:
    return np.concatenate([_case(seed, n) for seed, n in CASES])


def _cpu() -> str:
    return f"{llvm_binding.get_host_cpu_name()} {llvm_binding.get_host_cpu_features().flatten()}"


def test_metrics_are_the_pinned_bits() -> None:
    saved = np.load(PINNED)
    got = _all_cases()
    want = saved["metrics"]
    assert got.shape == want.shape
    same_cpu = str(saved["cpu"]) == _cpu()
    names = METRIC_IDS if same_cpu else CPU_FREE
    for name in names:
        i = METRIC_IDS.index(name)
        bad = np.flatnonzero(got[:, i].view(np.uint64) != want[:, i].view(np.uint64))
        assert bad.size == 0, (name, bad[:5], got[bad[:5], i], want[bad[:5], i])


if __name__ == "__main__":  # pragma: no cover
    PINNED.parent.mkdir(exist_ok=True)
    np.savez_compressed(PINNED, metrics=_all_cases(), cpu=np.array(_cpu()))
    print(f"wrote {PINNED}")

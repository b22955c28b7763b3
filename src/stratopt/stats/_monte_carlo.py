"""Monte Carlo of a backtest: reshuffled trade order and bootstrapped returns.

Both give distributions of final equity, maximum drawdown and Sharpe ratio over
`n_sims` simulated paths, with their 5th, 50th and 95th percentiles. Paths are
generated from one `numpy.random.default_rng(seed)` in a fixed order and evaluated
by the kernels of `stratopt.stats._nb`, so the same inputs and seed give bit-identical
results whatever the thread count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from stratopt.stats import _nb
from stratopt.stats._bootstrap import bootstrap_indices

__all__ = [
    "BootstrapFan",
    "MonteCarloResult",
    "bootstrap_fan",
    "bootstrap_returns",
    "reshuffle_trades",
]

PERCENTILES = (5, 50, 95)
FAN_PERCENTILES = (5, 25, 50, 75, 95)  # a fan chart's bands: 5-95, 25-75 and the median
# Index arrays are made in chunks of about this many entries (8 bytes each), so the
# memory of a bootstrap does not grow with n_sims x T.
_CHUNK_ENTRIES = 4_000_000


@dataclass(frozen=True, eq=False)
class MonteCarloResult:
    """Simulated distributions (one value per path) and the original path's values.

    Attributes:
        method: `trade_shuffle`, `bootstrap_stationary` or `bootstrap_iid`.
        final_equity: Final equity of each path (currency).
        max_drawdown: Maximum drawdown of each path (fraction, peak from the cash).
        sharpe: Sharpe ratio of each path: annualized by `sqrt(periods_per_year)` for
            a returns bootstrap, **per trade** (not annualized) for a trade shuffle.
        original: The same numbers for the path as it happened.
        seed, n_sims: As given.
        longest_underwater: The longest run of steps (trades for a shuffle, periods
            for a bootstrap) with equity below its running peak, on each path.
    """

    method: str
    final_equity: np.ndarray
    max_drawdown: np.ndarray
    sharpe: np.ndarray
    original: dict[str, float]
    seed: int
    n_sims: int
    longest_underwater: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def percentiles(self) -> dict[str, dict[str, float]]:
        """{statistic: {"p5": ..., "p50": ..., "p95": ...}} (NumPy's linear quantiles)."""
        out: dict[str, dict[str, float]] = {}
        for name in ("final_equity", "max_drawdown", "sharpe"):
            values = getattr(self, name)
            q = np.percentile(values, PERCENTILES)
            out[name] = {f"p{p}": float(v) for p, v in zip(PERCENTILES, q, strict=True)}
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "n_sims": self.n_sims,
            "seed": self.seed,
            "original": self.original,
            "percentiles": self.percentiles(),
        }


def _check(values: np.ndarray, name: str, n_sims: int, cash: float) -> np.ndarray:
    v = np.ascontiguousarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size < 2:
        raise ValueError(f"{name}: need a 1-D series of at least 2 values, got shape {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    if n_sims < 1:
        raise ValueError(f"n_sims must be >= 1, got {n_sims}")
    if not (math.isfinite(cash) and cash > 0):
        raise ValueError(f"cash must be finite and > 0, got {cash}")
    return v


def reshuffle_trades(
    trades: np.ndarray,
    *,
    cash: float,
    n_sims: int = 1000,
    seed: int = 0,
    compounding: bool = False,
) -> MonteCarloResult:
    """Distributions over random orders of the same trades.

    Each path replays all trades in a uniformly random order (a permutation, no
    replacement), one step per trade: `equity += pnl_i` (`compounding=False`, fixed
    position sizes; `trades` are net pnl in currency) or `equity *= 1 + ret_i`
    (`compounding=True`; `trades` are net trade returns). The final equity is the same
    on every path either way (sums and products commute); what order changes is the
    drawdown and the per-trade Sharpe ratio `mean / std (ddof=1)` of the step returns
    `E_i / E_{i-1} - 1`.

    Raises:
        ValueError: fewer than 2 trades, non-finite values, `n_sims < 1`, `cash <= 0`.
    """
    steps = _check(trades, "trades", n_sims, cash)
    rng = np.random.default_rng(seed)
    n = steps.size
    out = np.empty((n_sims, 4))
    rows = max(1, _CHUNK_ENTRIES // n)
    for start in range(0, n_sims, rows):
        k = min(rows, n_sims - start)
        order = rng.permuted(np.broadcast_to(np.arange(n, dtype=np.int64), (k, n)), axis=1)
        _nb.paths_nb(steps, np.ascontiguousarray(order), cash, not compounding,
                           out[start : start + k])  # fmt: skip
    original = np.empty((1, 4))
    _nb.paths_nb(steps, np.arange(n, dtype=np.int64)[None, :], cash, not compounding,
                       original)  # fmt: skip
    return _result("trade_shuffle", out, original[0], 1.0, seed, n_sims)


def bootstrap_returns(
    returns: np.ndarray,
    *,
    cash: float = 1.0,
    n_sims: int = 1000,
    seed: int = 0,
    method: Literal["stationary", "iid"] = "stationary",
    block_size: float | None = None,
    periods_per_year: float = 252.0,
) -> MonteCarloResult:
    """Distributions over resampled histories of per-period returns.

    Each path has the original length `T` and compounds `equity *= 1 + r`.

    * `iid`: every period drawn independently and uniformly (destroys serial
      dependence: volatility clustering, trends).
    * `stationary` (default): Politis & Romano's stationary bootstrap. A path is made
      of blocks that start at a uniform random period and run on (wrapping around the
      end) for a geometric number of periods with mean `block_size` (default
      `sqrt(T)`), which keeps short-range dependence.

    The Sharpe ratio of each path is `mean / std (ddof=1) x sqrt(periods_per_year)`
    (annualized, as the `sharpe` metric), with the x / 0 rule.

    Raises:
        ValueError: fewer than 2 returns, non-finite values, `n_sims < 1`, `cash <= 0`,
            `block_size < 1`, or an unknown method.
    """
    return bootstrap_fan(
        returns, cash=cash, n_sims=n_sims, seed=seed, method=method, block_size=block_size,
        periods_per_year=periods_per_year, steps=np.empty(0, dtype=np.int64),
    ).result  # fmt: skip


@dataclass(frozen=True, eq=False)
class BootstrapFan:
    """`bootstrap_returns`' result, and its paths' equity percentiles at chosen steps.

    Attributes:
        result: Exactly what `bootstrap_returns` returns for the same arguments.
        steps: Periods after which the percentiles are taken (1 = after the first).
        percentiles: `{p: equity}`, the p-th percentile (NumPy's linear) of the paths'
            equity after each step; after step `T` they are the `final_equity` ones.
    """

    result: MonteCarloResult
    steps: np.ndarray
    percentiles: dict[int, np.ndarray]


def bootstrap_fan(
    returns: np.ndarray,
    *,
    steps: np.ndarray,
    cash: float = 1.0,
    n_sims: int = 1000,
    seed: int = 0,
    method: Literal["stationary", "iid"] = "stationary",
    block_size: float | None = None,
    periods_per_year: float = 252.0,
) -> BootstrapFan:
    """`bootstrap_returns` (the same paths, bit for bit), with a fan chart of them.

    The fan is the `FAN_PERCENTILES` of the paths' equity after each of `steps`,
    1-based period counts in `[1, T]`; memory grows with
    `n_sims x len(steps)`, so pass a few thousand steps at most.

    Raises:
        ValueError: as `bootstrap_returns`, or a step outside `[1, T]`.
    """
    r = _check(returns, "returns", n_sims, cash)
    if method not in ("stationary", "iid"):
        raise ValueError(f"method must be 'stationary' or 'iid', got {method!r}")
    t = r.size
    at = np.asarray(steps, dtype=np.int64)
    if at.size and (at.min() < 1 or at.max() > t):
        raise ValueError(f"steps must lie in [1, {t}], got {at.min()}..{at.max()}")
    mean_block = math.sqrt(t) if block_size is None else float(block_size)
    if not mean_block >= 1.0:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    rng = np.random.default_rng(seed)
    out = np.empty((n_sims, 4))
    fan = np.empty((n_sims, at.size))
    rows = max(1, _CHUNK_ENTRIES // t)
    for start in range(0, n_sims, rows):
        k = min(rows, n_sims - start)
        if method == "iid":
            idx = rng.integers(0, t, size=(k, t), dtype=np.int64)
        else:
            idx = bootstrap_indices(t, k, block_size=mean_block, rng=rng)
        _nb.paths_nb(r, idx, cash, False, out[start : start + k])
        if at.size:
            # The same products in the same order as the kernel: cash, then x (1 + r).
            growth = np.concatenate((np.full((k, 1), cash), 1.0 + r[idx]), axis=1)
            fan[start : start + k] = np.cumprod(growth, axis=1)[:, at]
    original = np.empty((1, 4))
    _nb.paths_nb(r, np.arange(t, dtype=np.int64)[None, :], cash, False, original)
    result = _result(f"bootstrap_{method}", out, original[0], periods_per_year, seed, n_sims)
    bands = {p: np.percentile(fan, p, axis=0) for p in FAN_PERCENTILES} if at.size else {}
    return BootstrapFan(result, at, bands)


def _result(
    method: str, out: np.ndarray, orig: np.ndarray, ppy: float, seed: int, n_sims: int
) -> MonteCarloResult:
    scale = math.sqrt(ppy)
    return MonteCarloResult(
        method=method,
        final_equity=out[:, 0].copy(),
        max_drawdown=out[:, 1].copy(),
        sharpe=out[:, 2] * scale,
        original={
            "final_equity": float(orig[0]),
            "max_drawdown": float(orig[1]),
            "sharpe": float(orig[2] * scale),
            "longest_underwater": float(orig[3]),
        },
        seed=seed,
        n_sims=n_sims,
        longest_underwater=out[:, 3].copy(),
    )

"""The `monte_carlo` section: trade reshuffle and stationary bootstrap, with a verdict.

The paths come from `stratopt.stats` (`reshuffle_trades` on net pnl, `bootstrap_returns`);
this module only summarizes them. Definitions: docs/analysis.md ("monte_carlo").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stratopt.analysis._curve import Curve
from stratopt.stats import MonteCarloResult, bootstrap_returns, reshuffle_trades

__all__ = ["DRAWDOWN_LEVELS", "PERCENTILES", "monte_carlo_section", "percentile_rank"]

PERCENTILES = (5, 25, 50, 75, 95)
DRAWDOWN_LEVELS = (0.1, 0.2, 0.3, 0.5)


def percentile_rank(values: np.ndarray, x: float) -> float:
    """(#values below x + ½ #values equal to x) / #values."""
    return float(((values < x).sum() + 0.5 * (values == x).sum()) / values.size)


def _summary(res: MonteCarloResult, cash: float) -> dict[str, Any]:
    stats = {
        "terminal_return": res.final_equity / cash - 1.0,
        "max_drawdown": res.max_drawdown,
        "longest_underwater": res.longest_underwater,
    }
    orig = {
        "terminal_return": res.original["final_equity"] / cash - 1.0,
        "max_drawdown": res.original["max_drawdown"],
        "longest_underwater": res.original["longest_underwater"],
    }
    out: dict[str, Any] = {"paths": res.n_sims, "seed": res.seed}
    for name, values in stats.items():
        q = np.percentile(values, PERCENTILES)
        out[name] = {
            "original": float(orig[name]),
            "percentiles": {f"p{p}": float(v) for p, v in zip(PERCENTILES, q, strict=True)},
            "rank": percentile_rank(values, orig[name]),
        }
    out["p_loss"] = float((stats["terminal_return"] < 0).mean())
    out["p_drawdown"] = {f"{x:g}": float((res.max_drawdown > x).mean()) for x in DRAWDOWN_LEVELS}
    return out


def _shuffle_verdict(rank: float) -> str:
    if rank < 0.1:
        return "the trade order was lucky: most orders of the same trades draw down more"
    if rank > 0.9:
        return "the trade order was unlucky: most orders of the same trades draw down less"
    return "the drawdown is typical of the same trades in other orders"


def _bootstrap_verdict(rank: float) -> str:
    if rank > 0.9:
        return "the history as it happened is better than most resampled histories"
    if rank < 0.1:
        return "the history as it happened is worse than most resampled histories"
    return "the history as it happened is typical of resampled histories"


def monte_carlo_section(curve: Curve, *, n_sims: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Both resamplings of one candidate (each `available: False` when too short)."""
    out: dict[str, Any] = {}
    pnl = curve.net_pnl
    if pnl.size >= 2:
        shuffle = reshuffle_trades(pnl, cash=curve.cash, n_sims=n_sims, seed=seed)
        part = _summary(shuffle, curve.cash)
        # every order ends at the same equity (sums commute): a rank would rank rounding
        part["terminal_return"]["rank"] = None
        part["unit"] = "trades"
        part["verdict"] = _shuffle_verdict(part["max_drawdown"]["rank"])
        out["trade_shuffle"] = part
    else:
        out["trade_shuffle"] = {"available": False, "reason": f"{pnl.size} trade(s); 2 needed"}
    r = curve.returns
    if r.size >= 2:
        boot = bootstrap_returns(
            r, cash=curve.cash, n_sims=n_sims, seed=seed,
            periods_per_year=curve.periods_per_year,
        )  # fmt: skip
        part = _summary(boot, curve.cash)
        part["unit"] = "bars"
        part["verdict"] = (
            f"{_bootstrap_verdict(part['terminal_return']['rank'])}; P(loss) = {part['p_loss']:.0%}"
        )
        out["bootstrap"] = part
    else:
        out["bootstrap"] = {"available": False, "reason": f"{r.size} bar(s); 2 needed"}
    return out

"""The test oracle: every metric written the plain way with NumPy and pandas.

Deliberately independent of `stratopt.metrics._nb`: two-pass moments, pandas for
standard deviations, `np.quantile`, boolean masks for the trade statistics. Formulas
and edge-case rules are those of docs/metrics.md.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def ratio(x: float, y: float) -> float:
    """The x / 0 rule of docs/metrics.md."""
    if y != 0:
        return x / y
    return math.inf if x > 0 else (-math.inf if x < 0 else 0.0)


def bar_returns(equity: np.ndarray, cash: float) -> np.ndarray:
    """r[j] = equity[j] / equity[j-1] - 1 with equity[-1] = cash; 0 after ruin."""
    prev = np.concatenate(([cash], equity[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(prev > 0, equity / prev - 1.0, 0.0)


def longest_run(flags: np.ndarray) -> int:
    """Length of the longest run of True."""
    if not flags.any():
        return 0
    s = pd.Series(flags)
    groups = (~s).cumsum()
    return int(s.groupby(groups).sum().max())


def reference_metrics(
    equity: np.ndarray,
    *,
    cash: float,
    pnl: np.ndarray,
    ret: np.ndarray,
    bars: np.ndarray,
    ror: np.ndarray | None = None,
    exposure_bars: int = 0,
    ppy: float = 252.0,
) -> dict[str, float]:
    equity = np.asarray(equity, dtype=float)
    pnl = np.asarray(pnl, dtype=float)
    ret = np.asarray(ret, dtype=float)
    bars = np.asarray(bars, dtype=float)
    ror = ret if ror is None else np.asarray(ror, dtype=float)
    n = len(equity)
    out: dict[str, float] = {}
    final = float(equity[-1]) if n else cash
    ann = math.sqrt(ppy)

    out["total_return"] = final / cash - 1.0
    if n:
        r = bar_returns(equity, cash)
        mean = float(r.mean())
        std = float(pd.Series(r).std(ddof=1)) if n > 1 else 0.0
        down = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
        cagr = -1.0
        if final > 0:
            with np.errstate(over="ignore"):  # overflows to +inf, as documented
                cagr = float(np.float64(final / cash) ** (ppy / n)) - 1.0
        peak = np.maximum.accumulate(np.concatenate(([cash], equity)))[1:]
        dd = (peak - equity) / peak
        dev = r - mean
        m2 = float(np.mean(dev**2))
        skew = float(np.mean(dev**3)) / m2**1.5 if n > 1 and m2 > 0 else 0.0
        kurt = float(np.mean(dev**4)) / m2**2 - 3.0 if n > 1 and m2 > 0 else 0.0
        q05 = float(np.quantile(r, 0.05))
        q95 = float(np.quantile(r, 0.95))
        out["cagr"] = cagr
        out["volatility"] = std * ann
        out["sharpe"] = ratio(mean, std) * ann
        out["sortino"] = ratio(mean, down) * ann
        out["calmar"] = ratio(cagr, float(dd.max()))
        out["max_drawdown"] = float(dd.max())
        out["max_drawdown_duration"] = float(longest_run(equity < peak))
        out["skew"] = skew
        out["kurtosis"] = kurt
        out["var_95"] = q05
        out["cvar_95"] = float(r[r <= q05].mean())
        out["ulcer_index"] = math.sqrt(float(np.mean(dd**2)))
        out["omega"] = ratio(float(r[r > 0].sum()), float(-r[r < 0].sum()))
        out["tail_ratio"] = ratio(abs(q95), abs(q05))
    else:
        for key in (
            "cagr", "volatility", "sharpe", "sortino", "calmar", "max_drawdown",
            "max_drawdown_duration", "skew", "kurtosis", "var_95", "cvar_95",
            "ulcer_index", "omega", "tail_ratio",
        ):  # fmt: skip
            out[key] = 0.0

    count = len(pnl)
    win = pnl > 0
    loss = pnl < 0
    valid_ror = ror[np.isfinite(ror)]
    out["trades"] = float(count)
    out["win_rate"] = float(win.mean()) if count else 0.0
    out["profit_factor"] = ratio(float(pnl[win].sum()), float(-pnl[loss].sum()))
    out["avg_trade"] = float(ret.mean()) if count else 0.0
    out["expectancy"] = float(pnl.mean()) if count else 0.0
    if count >= 2:  # backtesting.py: sqrt(n) * mean / std (pandas, ddof=1)
        out["sqn"] = math.sqrt(count) * ratio(float(pnl.mean()), float(pd.Series(pnl).std()))
    else:
        out["sqn"] = 0.0
    out["exposure"] = exposure_bars / n if n else 0.0
    out["return_on_risk"] = float(valid_ror.mean()) if len(valid_ror) else 0.0
    out["best_trade"] = float(ret.max()) if count else 0.0
    out["worst_trade"] = float(ret.min()) if count else 0.0
    out["avg_trade_duration"] = float(bars.mean()) if count else 0.0
    out["avg_win"] = float(ret[win].mean()) if win.any() else 0.0
    out["avg_loss"] = float(ret[loss].mean()) if loss.any() else 0.0
    out["final_equity"] = final
    return out

"""The `breakdown` section: the backtest cut into calendar years and months.

Each period's figures are `stratopt.metrics.compute_metrics` of the period alone, so
they mean what the whole backtest's metrics mean. Definitions: docs/analysis.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stratopt.analysis._curve import Curve, Period, period_returns
from stratopt.metrics import compute_metrics

__all__ = ["BREAKDOWN_METRICS", "breakdown_section"]

BREAKDOWN_METRICS = ("volatility", "sharpe", "sortino", "max_drawdown", "trades", "win_rate")
_UNIT = {"year": "datetime64[Y]", "month": "datetime64[M]"}


def _periods(curve: Curve, period: Period) -> list[dict[str, Any]]:
    key = curve.time.astype(_UNIT[period])
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    ends = np.concatenate((starts[1:], [len(curve)]))
    growth = period_returns(curve, period).to_numpy()
    t = curve.closed_trades
    exit_idx = t["exit_idx"].to_numpy(dtype=np.int64) if len(t) else np.zeros(0, np.int64)
    net = (t["pnl"] - t["fees"]).to_numpy(dtype=np.float64) if len(t) else np.zeros(0)
    ret = t["ret"].to_numpy(dtype=np.float64) if len(t) else np.zeros(0)
    held = (
        (exit_idx - t["entry_idx"].to_numpy(dtype=np.int64)).astype(np.float64) if len(t) else net
    )
    exposure = curve.exposure if curve.exposure.size == len(curve) else np.zeros(len(curve))
    rows = []
    for i, (a, b) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        before = curve.cash if a == 0 else float(curve.equity[a - 1])
        figures = dict.fromkeys(BREAKDOWN_METRICS, 0.0)
        if before > 0:  # else the account was gone before the period: nothing to measure
            pick = (exit_idx >= a) & (exit_idx < b)
            m = compute_metrics(
                curve.equity[a:b], cash=before, trades_net_pnl=net[pick], trades_ret=ret[pick],
                trades_bars=held[pick], exposure_bars=int(exposure[a:b].sum()),
                periods_per_year=curve.periods_per_year,
            )  # fmt: skip
            figures = {k: m[k] for k in BREAKDOWN_METRICS}
        label = str(key[a])  # numpy spells a month 2020-03 and a year 2020
        rows.append({"period": label, "return": float(growth[i]), **figures})
    return rows


def breakdown_section(curve: Curve) -> dict[str, Any]:
    """Per calendar year and per calendar month: the return and the period's metrics."""
    if len(curve) == 0:
        return {"years": [], "months": []}
    return {"years": _periods(curve, "year"), "months": _periods(curve, "month")}

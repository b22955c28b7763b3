"""The `trades` section: counts, win/loss figures, streaks, sides, holding times, calendar.

Definitions: docs/analysis.md ("trades"). Figures the metrics package defines come from
the candidate's metrics.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from stratopt.analysis._curve import Curve, ratio

__all__ = ["HOLDING_QUANTILES", "trade_section"]

HOLDING_QUANTILES = (0.0, 0.25, 0.5, 0.75, 0.95, 1.0)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def trade_section(curve: Curve) -> dict[str, Any]:
    """Every figure of the `trades` section of one candidate."""
    t = curve.closed_trades
    m = curve.metrics
    net = curve.net_pnl
    ret = t["ret"].to_numpy(dtype=np.float64) if len(t) else np.zeros(0)
    wins, losses = net > 0, net < 0
    out: dict[str, Any] = {
        "count": len(t),
        "wins": int(wins.sum()),
        "losses": int(losses.sum()),
        "breakeven": int(len(t) - wins.sum() - losses.sum()),
        "win_rate": m["win_rate"],
        "avg_win": m["avg_win"],
        "avg_loss": m["avg_loss"],
        "median_win": _median(ret[wins]),
        "median_loss": _median(ret[losses]),
        "payoff": ratio(m["avg_win"], abs(m["avg_loss"])),
        "profit_factor": m["profit_factor"],
        "no_losses": not bool(losses.any()),
        "expectancy": m["expectancy"],
        "expectancy_return": m["avg_trade"],
        **_largest(ret, net, wins, losses),
        **_streaks(np.sign(net)),
        "long": _side(net, ret, t, 1),
        "short": _side(net, ret, t, -1),
        **_holding(t),
    }
    out.update(_calendar(t, net, ret, intraday=curve.intraday))
    return out


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if values.size else 0.0


def _largest(
    ret: np.ndarray, net: np.ndarray, wins: np.ndarray, losses: np.ndarray
) -> dict[str, float]:
    out = {"largest_win": 0.0, "largest_loss": 0.0, "largest_win_pnl": 0.0,
           "largest_loss_pnl": 0.0}  # fmt: skip
    if wins.any():
        i = np.flatnonzero(wins)[np.argmax(ret[wins])]
        out["largest_win"], out["largest_win_pnl"] = float(ret[i]), float(net[i])
    if losses.any():
        i = np.flatnonzero(losses)[np.argmin(ret[losses])]
        out["largest_loss"], out["largest_loss_pnl"] = float(ret[i]), float(net[i])
    return out


def _streaks(sign: np.ndarray) -> dict[str, Any]:
    best = {1.0: 0, -1.0: 0}
    kind, run = 0.0, 0
    for s in sign:
        run = run + 1 if s == kind and s != 0 else (1 if s != 0 else 0)
        kind = float(s)
        if kind != 0:
            best[kind] = max(best[kind], run)
    names = {1.0: "win", -1.0: "loss", 0.0: "none"}
    return {
        "max_win_streak": best[1.0],
        "max_loss_streak": best[-1.0],
        "current_streak": {"kind": names[kind], "length": run},
    }


def _group(net: np.ndarray, ret: np.ndarray) -> dict[str, Any]:
    n = int(net.size)
    return {
        "count": n,
        "win_rate": float((net > 0).sum() / n) if n else 0.0,
        "net_pnl": float(net.sum()),
        "avg_return": float(ret.mean()) if n else 0.0,
    }


def _side(net: np.ndarray, ret: np.ndarray, t: pd.DataFrame, side: int) -> dict[str, Any]:
    mask = t["side"].to_numpy() == side if len(t) else np.zeros(0, dtype=bool)
    return _group(net[mask], ret[mask])


def _holding(t: pd.DataFrame) -> dict[str, Any]:
    if not len(t):
        return {"holding_bars": {}, "holding_time": {}}
    bars = (t["exit_idx"] - t["entry_idx"]).to_numpy(dtype=np.float64)
    span = (t["exit_time"] - t["entry_time"]).to_numpy().astype(np.int64).astype(np.float64)
    q = np.quantile(bars, HOLDING_QUANTILES)
    qt = np.quantile(span, HOLDING_QUANTILES)
    return {
        "holding_bars": {f"q{p:g}": float(v) for p, v in zip(HOLDING_QUANTILES, q, strict=True)},
        "holding_time": {
            f"q{p:g}": str(pd.Timedelta(round(float(v)), unit="ns"))
            for p, v in zip(HOLDING_QUANTILES, qt, strict=True)
        },
    }


def _calendar(
    t: pd.DataFrame, net: np.ndarray, ret: np.ndarray, *, intraday: bool
) -> dict[str, Any]:
    exits = pd.DatetimeIndex(t["exit_time"]) if len(t) else pd.DatetimeIndex([])
    keys: dict[str, tuple[np.ndarray, Any]] = {
        "by_weekday": (exits.day_of_week.to_numpy(), lambda k: _WEEKDAYS[k]),
        "by_month": (exits.month.to_numpy(), int),
    }
    if intraday:
        keys["by_hour"] = (exits.hour.to_numpy(), int)
    out: dict[str, Any] = {}
    for name, (key, label) in keys.items():
        out[name] = {
            str(label(int(k))): _group(net[key == k], ret[key == k]) for k in np.unique(key)
        }
    return out

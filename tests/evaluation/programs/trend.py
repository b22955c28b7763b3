"""Python evaluators for the tests: a long-or-flat moving-average rule on the study's bars.

`trend` returns its equity curve (every bar from `data_start` on) and its trades;
`trend_metrics` only its metrics; `trend_peeking` decides on today's close with
tomorrow's close (look-ahead). Each call is appended, as one JSON line, to the file named
by $TREND_CALLS when it is set (calls may come from worker processes).
"""

import json
import os

import numpy as np
import pandas as pd


def _log(params, ctx):
    path = os.environ.get("TREND_CALLS")
    if path:
        with open(path, "a") as f:
            f.write(
                json.dumps(
                    {
                        "params": params,
                        "data_start": str(ctx.data_start),
                        "start": str(ctx.start),
                        "end": str(ctx.end),
                        "first_bar": str(ctx.bars[0].time[0]),
                        "last_bar": str(ctx.bars[0].time[-1]),
                    }
                )
                + "\n"
            )


def run(params, ctx, peek=False):
    bars = ctx.bars[0]
    close = pd.Series(bars.close, index=pd.DatetimeIndex(bars.time))
    signal = close > close.rolling(int(params["n"])).mean()
    if peek:
        signal = close.shift(-3) > close.shift(-2)
    held = signal.shift(1, fill_value=False).to_numpy()  # decided at a close, held the next bar
    step = np.concatenate(([0.0], close.pct_change().to_numpy()[1:]))
    equity = pd.Series(10_000 * np.cumprod(1 + np.where(held, step, 0.0)), index=close.index)
    changes = np.flatnonzero(np.diff(held.astype(int)))
    entries = [i + 1 for i in changes if held[i + 1]]
    trades = []
    for a in entries:
        b = next((i + 1 for i in changes if i + 1 > a), len(held) - 1)
        pnl = float(equity.iloc[b] - equity.iloc[a - 1])
        trades.append(
            {"entry_time": str(close.index[a]), "exit_time": str(close.index[b]), "pnl": pnl}
        )
    return equity, trades


def trend(params, ctx):
    _log(params, ctx)
    equity, trades = run(params, ctx)
    return {
        "equity": equity,
        "trades": trades,
        "cash": 10_000,
        "metrics": {"n_seen": float(params["n"])},
    }


def trend_metrics(params, ctx):
    _log(params, ctx)
    equity, trades = run(params, ctx)
    inside = equity[equity.index >= ctx.start]
    r = inside.pct_change().dropna()
    return {
        "metrics": {
            "sharpe": float(r.mean() / r.std() * 252**0.5) if r.std() > 0 else 0.0,
            "trades": len(trades),
        }
    }


def trend_peeking(params, ctx):
    equity, trades = run(params, ctx, peek=True)
    return {"equity": equity, "trades": trades, "cash": 10_000}

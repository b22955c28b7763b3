"""A small stand-alone backtester, called by stratopt as a command (see README.md).

It knows nothing of stratopt: it reads its request (the parameters and the period) from
its arguments, reads an OHLC CSV file, runs a moving-average crossover that is long when
the fast average is above the slow one (orders filled at the next bar's open, a
commission per side), and prints one JSON object: its equity at every bar of the
period, its trades and two metrics of its own. Only Python's standard library is used.

    python backtester.py --params '{"fast": 10, "slow": 30}' --start 2005-01-03 \\
        --end 2012-12-31 --data-start 2004-08-19 --data GOOG.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys


def read_bars(path: str) -> list[dict[str, float | str]]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"{path}: no rows")
    time_key = next(
        k for k in rows[0] if k.lower() in ("", "date", "time", "timestamp", "datetime")
    )
    out = []
    for r in rows:
        lower = {k.lower(): v for k, v in r.items()}
        out.append(
            {
                "time": r[time_key][:19].replace(" ", "T"),
                "open": float(lower["open"]),
                "close": float(lower["close"]),
            }
        )
    return out


def sma(values: list[float], n: int) -> list[float]:
    out, total = [math.nan] * len(values), 0.0
    for i, v in enumerate(values):
        total += v
        if i >= n:
            total -= values[i - n]
        if i >= n - 1:
            out[i] = total / n
    return out


def backtest(bars, fast: int, slow: int, cash: float, commission: float, start: str):
    """Equity at each bar close from `start` on, and the trades opened from `start` on."""
    closes = [b["close"] for b in bars]
    f, s = sma(closes, fast), sma(closes, slow)
    units, entry, equity, trades = 0.0, None, [], []
    for i, bar in enumerate(bars):
        if i > 0:  # yesterday's signal, filled at today's open
            want = f[i - 1] > s[i - 1]
            if want and units == 0 and bar["time"] >= start:
                units = cash * (1 - commission) / bar["open"]
                entry = (bar["time"], cash)
                cash = 0.0
            elif not want and units > 0:
                cash = units * bar["open"] * (1 - commission)
                pnl = cash - entry[1]
                trades.append(
                    {
                        "entry_time": entry[0],
                        "exit_time": bar["time"],
                        "pnl": pnl,
                        "return": pnl / entry[1],
                    }
                )
                units = 0.0
        if bar["time"] >= start:
            equity.append([bar["time"], cash + units * bar["close"]])
    return equity, trades


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--params", required=True, help="the parameters, one JSON object")
    p.add_argument("--start", required=True)
    p.add_argument("--end", required=True)
    p.add_argument("--data-start", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--cash", type=float, default=10_000.0)
    p.add_argument("--commission", type=float, default=0.001)
    a = p.parse_args()
    params = json.loads(a.params)
    fast, slow = int(params["fast"]), int(params["slow"])
    if not 1 <= fast < slow:
        sys.exit(f"need 1 <= fast < slow, got fast={fast} slow={slow}")
    bars = [b for b in read_bars(a.data) if a.data_start[:19] <= b["time"] <= a.end[:19]]
    equity, trades = backtest(bars, fast, slow, a.cash, a.commission, a.start[:19])
    wins = [t for t in trades if t["pnl"] > 0]
    json.dump(
        {
            "cash": a.cash,
            "equity": equity,
            "trades": trades,
            "metrics": {
                "net_profit": equity[-1][1] - a.cash if equity else 0.0,
                "winning_trades": len(wins),
            },
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()

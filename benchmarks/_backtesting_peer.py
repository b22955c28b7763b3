"""backtesting.py's side of benchmarks/batch.py; runs in the peers virtualenv only.

The strategy is backtesting.py's README `SmaCross` (docs/parity.md), at module level so
that MultiBacktest's process pool can pickle it.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from backtesting import Strategy
from backtesting.lib import MultiBacktest, crossover
from backtesting.test import SMA


class SmaCross(Strategy):
    n1, n2 = 10, 20

    def init(self) -> None:
        self.sma1 = self.I(SMA, self.data.Close, self.n1)
        self.sma2 = self.I(SMA, self.data.Close, self.n2)

    def next(self) -> None:
        if crossover(self.sma1, self.sma2):
            self.position.close()
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()
            self.sell()


def run(data: Path, out: Path, sets: list[tuple[int, int]], cash: float, commission: float) -> None:
    """MultiBacktest over every series of `data`, once per parameter set, timed."""
    warnings.filterwarnings("ignore")
    os.environ.setdefault("TQDM_DISABLE", "1")
    z = np.load(data)
    n = len({k.split(":")[0] for k in z.files})
    dfs = [
        pd.DataFrame(
            {c.title(): z[f"{i}:{c}"] for c in ("open", "high", "low", "close", "volume")},
            index=pd.DatetimeIndex(z[f"{i}:time"]),
        )
        for i in range(n)
    ]
    runner = MultiBacktest(dfs, SmaCross, cash=cash, commission=commission, exclusive_orders=True)
    runner.run(n1=sets[0][0], n2=sets[0][1])  # warm-up: the process pool, imports
    times, trades = [], {}
    for fast, slow in sets:
        t0 = time.perf_counter()
        stats = runner.run(n1=fast, n2=slow)
        times.append(time.perf_counter() - t0)
        trades[f"{fast},{slow}"] = [int(x) for x in stats.loc["# Trades"]]
    out.write_text(json.dumps({"cells": n * len(sets), "seconds": times, "trades": trades}))

"""A strategy whose signals are Python code, slowed down and logged, for the batch tests.

`STRATOPT_TEST_SLEEP` seconds of sleep per candidate; with `STRATOPT_TEST_LOG` set, one
line `pid bars every` per candidate run, so a test can see a cell run twice.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from stratopt.data import Bars
from stratopt.strategies import IntParam, Strategy


class SlowFlip(Strategy):
    name = "slow_flip"
    every = IntParam(20, low=1)

    def signals(self, bars: Bars, p: dict[str, Any], cache: Any) -> np.ndarray:
        log = os.environ.get("STRATOPT_TEST_LOG")
        if log:
            with open(log, "a") as f:
                f.write(f"{os.getpid()} {len(bars)} {p['every']}\n")
        time.sleep(float(os.environ.get("STRATOPT_TEST_SLEEP", "0")))
        if p["every"] == 13:
            raise RuntimeError("unlucky 13")
        out = np.zeros(len(bars), dtype=np.int8)
        idx = np.arange(0, len(bars), p["every"])
        out[idx] = np.where((idx // p["every"]) % 2 == 0, 1, -1)
        return out

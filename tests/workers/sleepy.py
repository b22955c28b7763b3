"""A test strategy of controllable cost, and a switch to hang one chosen candidate.

`delay_ms` (a fixed param, or $SLEEPY_DELAY_MS) is slept per candidate. If
$SLEEPY_HANG_DIR is set, the first candidate with k == $SLEEPY_HANG_K writes its process
id to `hang.pid` there and sleeps for 10 minutes: a test then kills that process while
the trial is running. Later runs of that candidate (the retry) find the file and behave
normally.
"""

import os
import time
from pathlib import Path

import numpy as np

from stratopt.strategies import IntParam, Strategy


class Sleepy(Strategy):
    name = "sleepy"
    k = IntParam(5, low=0)
    delay_ms = IntParam(10, low=0)

    def signals(self, bars, p, cache):
        hang_dir = os.environ.get("SLEEPY_HANG_DIR")
        if hang_dir and p["k"] == int(os.environ.get("SLEEPY_HANG_K", "-1")):
            marker = Path(hang_dir) / "hang.pid"
            try:
                with marker.open("x") as f:
                    f.write(str(os.getpid()))
            except FileExistsError:
                pass
            else:
                time.sleep(600)
        delay = os.environ.get("SLEEPY_DELAY_MS")
        time.sleep((int(delay) if delay else p["delay_ms"]) / 1000)
        period = 2 + p["k"] % 17
        out = np.zeros(len(bars), dtype=np.int8)
        out[:: period * 2] = 1
        out[period :: period * 2] = -1
        return out

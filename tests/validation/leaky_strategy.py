"""Strategies for the look-ahead tests, loaded as `path/leaky_strategy.py:Class`."""

from __future__ import annotations

from typing import Any

import numpy as np

from stratopt.data import Bars
from stratopt.engine import Signal
from stratopt.strategies import IndicatorCache, IntParam, Strategy


class PeekNextClose(Strategy):
    """Deliberately leaky: long when the *next* close is higher (close shifted by -1).

    On data cut at bar c the next close of bar c-1 is missing, so its signal drops to 0:
    every truncation point exposes the leak at exactly bar c-1.
    """

    name = "peek_next_close"
    window = IntParam(5, low=1, doc="unused; gives the space something to search")

    def signals(self, bars: Bars, p: dict[str, Any], cache: IndicatorCache) -> np.ndarray:
        close = bars.close
        following = np.full_like(close, np.nan)
        following[:-1] = close[1:]
        out = np.zeros(len(close), dtype=np.int8)
        out[following > close] = Signal.LONG
        out[following < close] = Signal.SHORT
        return out


class WholeSeriesZScore(Strategy):
    """Deliberately leaky: z-score of the close against the mean of the *whole* series."""

    name = "whole_series_zscore"
    level = IntParam(1, low=0)

    def signals(self, bars: Bars, p: dict[str, Any], cache: IndicatorCache) -> np.ndarray:
        close = bars.close
        z = (close - close.mean()) / close.std()
        out = np.zeros(len(close), dtype=np.int8)
        out[z > p["level"]] = Signal.SHORT
        out[z < -p["level"]] = Signal.LONG
        return out


class TrailingMomentum(Strategy):
    """Honest numpy signals: long when the close is above the close `window` bars ago."""

    name = "trailing_momentum"
    window = IntParam(10, low=1)

    def signals(self, bars: Bars, p: dict[str, Any], cache: IndicatorCache) -> np.ndarray:
        close, w = bars.close, p["window"]
        out = np.zeros(len(close), dtype=np.int8)
        out[w:][close[w:] > close[:-w]] = Signal.LONG
        out[w:][close[w:] < close[:-w]] = Signal.SHORT
        return out

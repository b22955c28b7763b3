"""Aggregating bars into a coarser timeframe."""

from __future__ import annotations

import datetime as dt

import numpy as np

from stratopt.data._bars import Bars
from stratopt.data._frequency import (
    annualization,
    as_ns,
    infer_bar_interval,
    parse_timeframe,
)
from stratopt.errors import DataError

__all__ = ["resample"]

_NS_PER_DAY = 86_400 * 10**9
# Weekly bins start on Mondays; 1970-01-05 is the first Monday after the epoch.
_MONDAY_NS = 4 * _NS_PER_DAY


def resample(bars: Bars, timeframe: str | dt.timedelta) -> Bars:
    """Aggregate bars into a coarser timeframe.

    Bins are fixed in UTC: multiples of a week start on Monday 00:00, everything else
    counts from the Unix epoch, so ``"1D"`` bins are UTC calendar days and ``"4h"`` bins
    start at 00:00, 04:00, ... A bin gets open = first open, high = max, low = min,
    close = last close, volume = sum, and is labelled by its start (open time). Bins with
    no bar are dropped, never filled. ``periods_per_year`` is inferred again from the new
    timestamps (see `infer_periods_per_year`).

    Args:
        bars: Validated bars, oldest first.
        timeframe: The new bar length, e.g. ``"4h"``, ``"1D"``, ``"1W"`` (see
            `parse_timeframe`). A timeframe equal to the bars' interval returns ``bars``.

    Returns:
        The aggregated bars, same symbol and source.

    Raises:
        ConfigError: The timeframe is not understood.
        DataError: The timeframe is finer than the data or not a whole multiple of its
            interval, or the result has fewer than 2 bars.
    """
    step = parse_timeframe(timeframe)
    interval = infer_bar_interval(bars.time)
    name = bars.source or bars.symbol or "bars"
    if step < interval:
        raise DataError(
            f"{name}: cannot resample bars of {interval} to the finer timeframe {timeframe!r}"
        )
    step_ns, interval_ns = int(step.value), int(interval.value)
    if step_ns % interval_ns:
        raise DataError(
            f"{name}: timeframe {timeframe!r} is not a whole multiple of the bar interval "
            f"{interval}; bars of unequal length would result"
        )
    if step_ns == interval_ns:
        return bars
    origin = _MONDAY_NS if step_ns % (7 * _NS_PER_DAY) == 0 else 0
    key = (as_ns(bars.time) - origin) // step_ns
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    if starts.shape[0] < 2:
        raise DataError(f"{name}: resampling to {timeframe!r} leaves fewer than 2 bars")
    ends = np.concatenate((starts[1:], [key.shape[0]])) - 1
    time = (key[starts] * step_ns + origin).astype("datetime64[ns]")
    inferred = annualization(time)
    return Bars(
        time=time,
        open=np.ascontiguousarray(bars.open[starts]),
        high=np.maximum.reduceat(bars.high, starts),
        low=np.minimum.reduceat(bars.low, starts),
        close=np.ascontiguousarray(bars.close[ends]),
        volume=np.add.reduceat(bars.volume, starts),
        symbol=bars.symbol,
        source=bars.source,
        periods_per_year=inferred.periods_per_year,
        annualization_rule=inferred.rule,
    )

"""`load_bars`: one file of one symbol into validated `Bars`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import re
from typing import TypeAlias

import numpy as np
import pandas as pd

from stratopt.data._bars import Bars
from stratopt.data._frequency import GIVEN_RULE, annualization
from stratopt.data._read import open_source, read_table, source_name
from stratopt.data._resample import resample
from stratopt.data._time import parse_time
from stratopt.data._validate import NoBarColumns, validate_frame
from stratopt.errors import ConfigError, DataError

__all__ = ["TimeLike", "load_bars", "select_range", "symbol_from_path"]

TimeLike: TypeAlias = str | dt.date | dt.datetime | pd.Timestamp | np.datetime64


def load_bars(
    path: str | os.PathLike[str],
    *,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    timeframe: str | dt.timedelta | None = None,
    symbol: str | None = None,
    periods_per_year: float | None = None,
) -> Bars:
    """Load one symbol's OHLCV bars from a CSV, gzip CSV or Parquet file.

    The whole file is validated (see `validate_frame`), then the date range is selected,
    then the bars are resampled; resampling after the selection means no bar outside
    ``[start, end]`` leaks into the first or last aggregated bar.

    Example:
        >>> bars = load_bars("pkg://backtesting/test/GOOG.csv", start="2010-01-01")
        >>> bars.symbol, bars.periods_per_year
        ('GOOG', 252.0)

    Args:
        path: A file path, or ``pkg://<package>/<path>`` for a file shipped inside an
            installed Python package (e.g. ``pkg://backtesting/test/GOOG.csv``).
        start: First time to keep (inclusive). A date, datetime, or their ISO text; a zone
            is converted to UTC, naive values are UTC.
        end: Last time to keep (inclusive). A bare date keeps the whole day, so
            ``end="2020-01-31"`` keeps intraday bars up to 23:59:59.
        timeframe: Resample to this coarser bar length (``"4h"``, ``"1D"``, ``"1W"``);
            see `resample`.
        symbol: The symbol; by default the file name up to the first ``_`` or ``.``
            (``GOOG_1d.csv.gz`` -> ``GOOG``).
        periods_per_year: Bars per year for annualization; by default
            `infer_periods_per_year` of the loaded (and resampled) timestamps.

    Returns:
        Validated bars, oldest first.

    Raises:
        DataError: The file is missing, unreadable or invalid, or the selection holds
            fewer than 2 bars.
        ConfigError: An option is invalid (``start`` after ``end``, unknown timeframe,
            non-positive ``periods_per_year``).
    """
    name = source_name(path)
    if periods_per_year is not None and not (
        math.isfinite(periods_per_year) and periods_per_year > 0
    ):
        raise ConfigError(f"periods_per_year must be a positive number, got {periods_per_year!r}")
    with open_source(path) as file:
        raw = read_table(file, name)
        try:
            valid = validate_frame(raw, name)
        except NoBarColumns:
            size = file.stat().st_size
            raise DataError(
                f"{name}: not a CSV or Parquet file of bars ({size:,} bytes): no open, high, "
                "low or close column (is the first line a header? expected timestamp, open, "
                "high, low, close and optionally volume, any case)"
            ) from None
    frame = select_range(valid, start=start, end=end, source=name)
    inferred = annualization(frame.index)
    bars = Bars.from_frame(
        frame,
        symbol=symbol_from_path(name) if symbol is None else symbol,
        source=name,
        periods_per_year=inferred.periods_per_year,
        annualization_rule=inferred.rule,
    )
    if timeframe is not None:
        bars = resample(bars, timeframe)
    if periods_per_year is not None:
        bars = dataclasses.replace(
            bars, periods_per_year=float(periods_per_year), annualization_rule=GIVEN_RULE
        )
    return bars


def symbol_from_path(path: str | os.PathLike[str]) -> str:
    """The file name up to the first ``_`` or ``.``: ``data/GOOG_1d.csv.gz`` -> ``GOOG``."""
    base = source_name(path).replace("\\", "/").rsplit("/", 1)[-1]
    return re.split(r"[_.]", base, maxsplit=1)[0] or base


def _bound(value: TimeLike, label: str) -> tuple[pd.Timestamp, bool]:
    """The bound as naive UTC, and whether it was a bare date (a whole day)."""
    return parse_time(value, field=label)


def select_range(
    frame: pd.DataFrame,
    *,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    source: str = "",
) -> pd.DataFrame:
    """Rows of a time-indexed frame between ``start`` and ``end``, both inclusive.

    A bare-date ``end`` includes its whole day. See `load_bars` for accepted values.

    Raises:
        ConfigError: A bound cannot be parsed, or ``start`` is after ``end``.
        DataError: Fewer than 2 rows are left.
    """
    if start is None and end is None:
        return frame
    index = pd.DatetimeIndex(frame.index)
    keep = np.ones(len(frame), dtype=bool)
    lo = hi = None
    if start is not None:
        lo, _ = _bound(start, "start")
        keep &= np.asarray(index >= lo)
    if end is not None:
        hi, whole_day = _bound(end, "end")
        keep &= np.asarray(index < hi + pd.Timedelta(days=1) if whole_day else index <= hi)
    if lo is not None and hi is not None and lo > hi:
        raise ConfigError(f"start {start!r} is after end {end!r}")
    selected = frame.loc[keep]
    if len(selected) < 2:
        covers = f"{index[0]} to {index[-1]}" if len(index) else "nothing"
        raise DataError(
            f"{source}: {len(selected)} bar(s) between start={start!r} and end={end!r}; "
            f"the data covers {covers}"
        )
    return selected

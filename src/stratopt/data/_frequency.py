"""Bar spacing, timeframe strings and the number of bars per year."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from stratopt.errors import ConfigError, DataError

__all__ = [
    "GIVEN_RULE",
    "MADE_RULE",
    "Annualization",
    "annualization",
    "infer_bar_interval",
    "infer_periods_per_year",
    "parse_timeframe",
    "timeframe_label",
]

GIVEN_RULE = "given (periods_per_year), not inferred"
"""The rule of a bars-per-year figure the user set (`data.periods_per_year`)."""

MADE_RULE = "given when the bars were made"
"""The rule of bars made in code (`Bars(...)`, `Bars.from_frame`) without a rule of their own."""


_NS_PER_DAY = 86_400 * 10**9
# The mean Gregorian year; observed densities are measured against it.
_DAYS_PER_YEAR = 365.25
TRADING_DAYS_PER_YEAR = 252.0
CALENDAR_DAYS_PER_YEAR = 365.0
# Share of a 24/7 calendar an intraday series must fill to count as "trades around the clock".
_CONTINUOUS_SHARE = 0.95

_UNITS: dict[str, int] = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "minutes": 60,
    "t": 60,
    "h": 3600,
    "hr": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86_400,
    "day": 86_400,
    "days": 86_400,
    "w": 7 * 86_400,
    "wk": 7 * 86_400,
    "week": 7 * 86_400,
    "weeks": 7 * 86_400,
}
_TIMEFRAME_RE = re.compile(r"^\s*(\d+)\s*([A-Za-z]+)\s*$")


def parse_timeframe(timeframe: str | dt.timedelta) -> pd.Timedelta:
    """Turn a timeframe such as ``"5m"``, ``"4h"``, ``"1D"`` or ``"1W"`` into a Timedelta.

    Units: ``s``, ``m``/``min`` (minutes), ``h``, ``d``, ``w`` (any case, except that a lone
    upper-case ``M`` is refused because it usually means months, which have no fixed length).

    Args:
        timeframe: The text, or a positive `datetime.timedelta` / `pandas.Timedelta`.

    Returns:
        The length of one bar.

    Raises:
        ConfigError: The text is not a positive whole number followed by a known unit.
    """
    if isinstance(timeframe, dt.timedelta):
        step = pd.Timedelta(timeframe)
        if step <= pd.Timedelta(0):
            raise ConfigError(f"timeframe must be positive, but got {timeframe!r}")
        return step
    match = _TIMEFRAME_RE.match(str(timeframe))
    if match is None:
        raise ConfigError(
            f"timeframe {timeframe!r} is not understood; expected a number and a unit "
            "such as '5m', '4h', '1D' or '1W'"
        )
    count, unit = int(match.group(1)), match.group(2)
    if unit == "M":
        raise ConfigError(
            f"timeframe {timeframe!r}: months are not supported; use 'm' for minutes "
            "or a fixed length such as '4W'"
        )
    seconds = _UNITS.get(unit.lower())
    if seconds is None or count <= 0:
        raise ConfigError(
            f"timeframe {timeframe!r} is not understood; expected a positive number and one "
            f"of the units {', '.join(sorted(set(_UNITS)))}"
        )
    return pd.Timedelta(seconds=count * seconds)


def as_ns(time: Any) -> npt.NDArray[np.int64]:
    """Nanoseconds since the epoch (UTC) of a datetime array, index or series."""
    if isinstance(time, pd.Series):
        time = pd.DatetimeIndex(time)
    if isinstance(time, pd.DatetimeIndex):
        if time.tz is not None:
            time = time.tz_convert("UTC").tz_localize(None)
        return np.asarray(time.as_unit("ns").asi8, dtype=np.int64)
    arr = np.asarray(time)
    if not np.issubdtype(arr.dtype, np.datetime64):
        arr = pd.DatetimeIndex(arr).to_numpy()
    return np.asarray(arr.astype("datetime64[ns]").view(np.int64), dtype=np.int64)


def _interval_ns(ns: npt.NDArray[np.int64]) -> int:
    if ns.shape[0] < 2:
        raise DataError(f"need at least 2 timestamps to infer the bar interval, got {len(ns)}")
    step = int(np.median(np.diff(ns)))
    if step <= 0:
        raise DataError("timestamps are not strictly increasing; cannot infer the bar interval")
    return step


def infer_bar_interval(time: Any) -> pd.Timedelta:
    """The typical spacing of bars: the median difference between consecutive timestamps.

    The median ignores weekends, holidays and data holes as long as they are a minority of
    the gaps, so daily stock data gives one day and FX hourly data one hour.

    Args:
        time: Sorted timestamps (``datetime64`` array, `pandas.DatetimeIndex` or Series).

    Returns:
        The median spacing.

    Raises:
        DataError: Fewer than 2 timestamps, or they are not increasing.
    """
    return pd.Timedelta(_interval_ns(as_ns(time)), unit="ns")


@dataclass(frozen=True)
class Annualization:
    """Bars per year and the rule of docs/data.md "Bars per year" that chose it."""

    periods_per_year: float
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return {"periods_per_year": self.periods_per_year, "rule": self.rule}


def timeframe_label(step: pd.Timedelta) -> str:
    """`1d`, `4h`, `5m`, `30s`, `1w`: the shortest whole-unit spelling of a bar length."""
    seconds = int(step.total_seconds())
    for unit, size in (("w", 7 * 86_400), ("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def infer_periods_per_year(time: Any) -> float:
    """Bars per year, the factor that annualizes per-bar returns and volatilities.

    The number of `annualization` (which also says which rule chose it).
    """
    return annualization(time).periods_per_year


def annualization(time: Any) -> Annualization:
    """Bars per year, the factor that annualizes per-bar returns and volatilities, and the
    rule that chose it.

    The base is the observed density: ``(n - 1) / span``, the span in years of 365.25 days.
    Two calendar conventions are then snapped to so that results match what traders quote:

    * Daily bars (median spacing 20-28 h): **252** when no bar falls on a Saturday or
      Sunday (exchange-traded), **365** when all seven weekdays occur (crypto); otherwise
      (e.g. Sunday-Thursday markets, FX daily with Sunday bars) the observed density.
    * Intraday bars that fill at least 95 % of a 24/7 calendar (crypto, no session breaks):
      **365 x bars per day**, e.g. 525,600 for 1-minute and 105,120 for 5-minute bars, so
      they agree with the 365 used for daily crypto bars.
    * Everything else (intraday data with sessions or weekends, weekly or monthly bars):
      the observed density, e.g. ~6,200 for FX hourly, ~1,750 for US-equity hourly,
      ~52.2 for weekly bars.

    Short samples are fine for 24/7 and daily data. For intraday data with sessions, the
    edges of a sample shorter than a few weeks can bias the density by roughly
    (weekend length / span); pass ``periods_per_year`` explicitly there.

    Args:
        time: Sorted timestamps (``datetime64`` array, `pandas.DatetimeIndex` or Series).

    Returns:
        Bars per year (> 0) and the rule, e.g. ``"1h bars filling >= 95 % of a 24/7
        calendar: 365 days x 24 bars"``.

    Raises:
        DataError: Fewer than 2 timestamps, or they are not increasing.
    """
    ns = as_ns(time)
    step = _interval_ns(ns)
    span = int(ns[-1] - ns[0])
    if span <= 0:
        raise DataError("timestamps span no time; cannot infer bars per year")
    observed = (ns.shape[0] - 1) * _DAYS_PER_YEAR * _NS_PER_DAY / span
    label = timeframe_label(pd.Timedelta(step, unit="ns"))
    density = f"{label} bars (median spacing): observed density, (bars - 1) / span in years"
    hours = step / 3_600e9
    if 20.0 <= hours <= 28.0:
        weekdays = np.unique((ns // _NS_PER_DAY + 3) % 7)  # 1970-01-01 was a Thursday (3)
        if not np.any(weekdays >= 5):
            return Annualization(
                TRADING_DAYS_PER_YEAR, f"{label} bars, none on a weekend: 252 trading days"
            )
        if weekdays.shape[0] == 7:
            return Annualization(
                CALENDAR_DAYS_PER_YEAR, f"{label} bars on all seven weekdays: 365 days"
            )
        return Annualization(float(observed), f"{density} (daily bars on some weekend days)")
    if hours < 20.0:
        full = _DAYS_PER_YEAR * _NS_PER_DAY / step
        if observed >= _CONTINUOUS_SHARE * full:
            per_day = _NS_PER_DAY / step
            return Annualization(
                CALENDAR_DAYS_PER_YEAR * per_day,
                f"{label} bars filling >= 95 % of a 24/7 calendar: 365 days x {per_day:g} bars",
            )
    return Annualization(float(observed), density)

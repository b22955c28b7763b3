"""The span and holdout syntax of a study file: bars or durations, fractions or dates.

`validation.walk_forward` lengths and `validation.holdout` are checked with these when
the study file is read, and read with them again when the windows are cut.
"""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd

from stratopt.data import parse_time, parse_timeframe
from stratopt.errors import ConfigError

__all__ = ["Span", "parse_holdout", "parse_span"]

Span = int | pd.Timedelta
"""A length: a number of bars (int) or a duration."""

_DIGITS = re.compile(r"^\s*\d+\s*$")
_ZERO = re.compile(r"^\s*0+\s*[smhdw]\s*$", re.IGNORECASE)


def parse_span(value: object, *, field: str, allow_zero: bool = False) -> Span:
    """A number of bars (an int, or digits) or a duration (``365d``, ``12h``, ``4w``).

    Raises:
        ConfigError: anything else, naming `field` and the value.
    """
    least = 0 if allow_zero else 1
    if isinstance(value, bool):
        raise ConfigError(f"{field}: expected a number of bars or a duration, got {value!r}")
    if isinstance(value, int) or (isinstance(value, str) and _DIGITS.match(value)):
        bars = int(value)
        if bars < least:
            raise ConfigError(f"{field}: must be at least {least} bar(s), got {value!r}")
        return bars
    if isinstance(value, dt.timedelta):
        span = pd.Timedelta(value)
    elif isinstance(value, str) and allow_zero and _ZERO.match(value):
        span = pd.Timedelta(0)
    elif isinstance(value, str):
        try:
            span = parse_timeframe(value)
        except ConfigError:
            raise ConfigError(
                f"{field}: {value!r} is neither a number of bars nor a duration such as "
                "'365d', '30d', '12h' or '4w' (units s, m, h, d, w; months have no fixed length)"
            ) from None
    else:
        raise ConfigError(f"{field}: expected a number of bars or a duration, got {value!r}")
    if span <= pd.Timedelta(0) and not (allow_zero and span == pd.Timedelta(0)):
        raise ConfigError(f"{field}: must be positive, got {value!r}")
    return span


def parse_holdout(value: object, *, field: str = "validation.holdout") -> float | pd.Timestamp:
    """A fraction in (0, 1), or the first date/time of the holdout (naive UTC)."""
    if isinstance(value, bool):
        raise ConfigError(f"{field}: expected a date or a fraction in (0, 1), got {value!r}")
    if isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
        frac = float(value)
        if not 0.0 < frac < 1.0:
            raise ConfigError(
                f"{field}: a fraction must lie strictly between 0 and 1, got {value!r}"
            )
        return frac
    try:
        return parse_time(value, field=field)[0]
    except ConfigError:
        raise ConfigError(
            f"{field}: {value!r} is neither an ISO 8601 date (e.g. 2005-01-31; month or "
            "day first is never guessed) nor a fraction in (0, 1)"
        ) from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True

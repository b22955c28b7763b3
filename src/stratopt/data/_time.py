"""Dates and times a user writes (study files, `--set`, `load_bars` bounds): ISO 8601 only.

`01/02/2005` is January 2nd in New York and February 1st in London; pandas would pick
one silently (and not always the same one). Text is read only in ISO 8601 form, as data
files are (docs/data.md); date and datetime objects are taken as they are.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from stratopt.errors import ConfigError

__all__ = ["ISO_HINT", "is_iso_text", "parse_time"]

ISO_HINT = "write ISO 8601, e.g. 2005-01-31 or 2005-01-31T09:30:00Z"

_ISO = re.compile(
    r"^\d{4}-\d{2}-\d{2}"  # the date, year first
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?"  # a time of day
    r"(?:Z|[+-]\d{2}(?::?\d{2})?)?$"  # an offset
)
_BARE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def is_iso_text(text: str) -> bool:
    """Whether `text` is an ISO 8601 date or datetime (`2005-01-31`, `...T09:30Z`)."""
    return bool(_ISO.match(text.strip()))


def parse_time(value: object, *, field: str) -> tuple[pd.Timestamp, bool]:
    """`value` as a naive UTC timestamp, and whether it was a bare date (a whole day).

    Raises:
        ConfigError: text that is not ISO 8601, or not a real date, naming `field`.
    """
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return pd.Timestamp(value), True
    if isinstance(value, str):
        text = value.strip()
        if not _ISO.match(text):
            raise ConfigError(f"{field}: {value!r} is not an ISO 8601 date; {ISO_HINT}")
        bare = bool(_BARE_DATE.match(text))
    elif isinstance(value, dt.datetime | pd.Timestamp | np.datetime64):
        text, bare = value, False  # type: ignore[assignment]
    else:
        raise ConfigError(f"{field}: {value!r} is not a date or datetime; {ISO_HINT}")
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError):
        raise ConfigError(f"{field}: {value!r} is not a real date or time; {ISO_HINT}") from None
    if pd.isna(ts):
        raise ConfigError(f"{field}: {value!r} is not a date or datetime; {ISO_HINT}")
    if ts.tz is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts, bare

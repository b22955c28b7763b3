"""`load_funding_rates`: a perpetual's funding series (timestamp, rate) from a file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from stratopt.data._read import open_source, read_table, source_name
from stratopt.errors import DataError

__all__ = ["FundingRates", "load_funding_rates"]


@dataclass(frozen=True, eq=False)
class FundingRates:
    """Funding instants (naive UTC ``datetime64[ns]``, strictly increasing) and their
    rates (a fraction of position value per instant; negative: shorts pay longs)."""

    time: np.ndarray
    rate: np.ndarray
    source: str = ""

    def __len__(self) -> int:
        return int(self.rate.shape[0])


def load_funding_rates(path: str | os.PathLike[str]) -> FundingRates:
    """Read a funding file: columns ``timestamp`` and ``rate`` (any case), one row per
    funding instant, oldest first. Timestamps are ISO 8601 (milliseconds allowed, an
    offset is converted to UTC, none means UTC) or epoch seconds/milliseconds.

    Raises:
        DataError: the file is missing or unreadable, a column is missing, or a row has
            a bad timestamp, a rate that is not a finite number, or is not after the
            row before; the message names the file and the row (counted from 1).
    """
    name = source_name(path)
    with open_source(path) as file:
        raw = read_table(file, name)
    columns = {str(c).strip().lower(): c for c in raw.columns}
    missing = [c for c in ("timestamp", "rate") if c not in columns]
    if missing:
        found = ", ".join(repr(str(c)) for c in list(raw.columns)[:6]) or "none"
        raise DataError(f"{name}: missing column(s) {', '.join(missing)}; found {found}")
    if raw.empty:
        raise DataError(f"{name}: no funding rows")
    stamps = raw[columns["timestamp"]]
    if pd.api.types.is_numeric_dtype(stamps.dtype):
        values = np.asarray(stamps, dtype=np.float64)
        unit: Literal["ms", "s"] = "ms" if np.nanmax(np.abs(values)) >= 1e11 else "s"
        time = pd.DatetimeIndex(pd.to_datetime(values, unit=unit, errors="coerce"))
    else:
        text = pd.to_datetime(stamps, utc=True, format="ISO8601", errors="coerce")
        time = pd.DatetimeIndex(text).tz_localize(None)
    rate = pd.to_numeric(raw[columns["rate"]], errors="coerce").to_numpy(dtype=np.float64)
    ns = time.as_unit("ns").asi8
    for row in range(len(raw)):
        where = f"{name}: row {row + 1}"
        if pd.isna(time[row]):
            raise DataError(f"{where}: cannot parse timestamp {str(stamps.iloc[row])!r}")
        if not np.isfinite(rate[row]):
            value = raw[columns["rate"]].iloc[row]
            raise DataError(f"{where}: rate {str(value)!r} is not a finite number")
        if row and ns[row] <= ns[row - 1]:
            raise DataError(
                f"{where}: timestamp {time[row]} is not after row {row}'s {time[row - 1]} "
                "(rows must be sorted oldest first, without repeats)"
            )
    return FundingRates(time=time.as_unit("ns").to_numpy(), rate=rate, source=name)

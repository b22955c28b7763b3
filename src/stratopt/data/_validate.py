"""Turning a raw OHLCV table into the canonical frame, or one DataError naming the bad row."""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from stratopt.errors import DataError

__all__ = ["OHLCV", "NoBarColumns", "validate_frame"]

OHLCV = ("open", "high", "low", "close", "volume")
_PRICES = ("open", "high", "low", "close")
_TIME_NAMES = ("timestamp", "datetime", "date", "time")
# Epoch integers are told apart by magnitude: each band covers the years 1973-2286.
_EPOCH_UNITS: tuple[tuple[Literal["s", "ms", "us", "ns"], float, float], ...] = (
    ("s", 1e8, 1e10),
    ("ms", 1e11, 1e13),
    ("us", 1e14, 1e16),
    ("ns", 1e17, 1e19),
)
_ISO_HINT = "expected ISO 8601 such as 2020-01-31 or 2020-01-31T09:30:00Z, or epoch s/ms"


class NoBarColumns(DataError):
    """A table without any of the price columns: most likely not a table of bars at all.

    A file's loader replaces the message (which lists the columns found) with the path
    and its size: the "columns" of an arbitrary file are its first line, which may be a
    secret (`/proc/self/environ`, a `.pgpass` line) and must not reach a log.
    """


BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


def validate_frame(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Check an OHLCV table and return it in canonical form.

    Accepted input: columns ``open, high, low, close`` and optionally ``volume`` in any
    case, and the time either as a `pandas.DatetimeIndex` or as a column named
    ``timestamp``, ``datetime``, ``date`` or ``time`` (any case), separate ``date`` and
    ``time`` columns, or an unnamed first column. Timestamps may be ISO 8601 text (a zone
    offset is converted to UTC; text without one is taken as UTC), datetimes, or integer
    epoch seconds / milliseconds (told apart by magnitude). Other columns are ignored.

    Rules, checked for every row: the timestamp parses; every value is present, numeric
    and finite; prices are positive; ``high >= max(open, close)``;
    ``low <= min(open, close)``; ``volume >= 0``; timestamps strictly increase (sorted,
    no duplicates); at least 2 rows.

    Args:
        frame: The table as read from the file, rows in file order.
        source: The file name used in error messages.

    Returns:
        A new frame indexed by a naive UTC ``datetime64[ns]`` `DatetimeIndex` named
        ``timestamp``, with float64 columns ``open, high, low, close, volume`` (volume
        zeros when absent).

    Raises:
        DataError: One error for the first offending row, e.g.
            ``data/x.csv: row 17 (2020-01-17): high 10.2 < max(open, close) 10.5``.
            Rows are numbered from 1 in file order, the header not counted.
    """
    time_raw, columns = _locate_columns(frame, source)
    time = _parse_time(time_raw, source)
    raw = {name: columns[name] for name in OHLCV if name in columns}
    for name, col in raw.items():
        _check_dtype(name, col, source)
    values = {name: _to_float(col) for name, col in raw.items()}
    if "volume" not in values:
        values["volume"] = np.zeros(len(frame))
    _check_rows(time, time_raw, values, raw, source)
    if len(frame) < 2:
        raise DataError(f"{source}: needs at least 2 rows of bars, found {len(frame)}")
    return pd.DataFrame(
        {name: values[name] for name in OHLCV},
        index=pd.DatetimeIndex(time, name="timestamp"),
    )


def _locate_columns(frame: pd.DataFrame, source: str) -> tuple[pd.Index, dict[str, pd.Series]]:
    by_name: dict[str, Hashable] = {}
    for col in frame.columns:
        key = str(col).strip().lower()
        if key in by_name and (key in OHLCV or key in _TIME_NAMES):
            raise DataError(f"{source}: columns {by_name[key]!r} and {col!r} are both {key!r}")
        by_name.setdefault(key, col)
    missing = [name for name in _PRICES if name not in by_name]
    if missing:
        found = ", ".join(repr(str(c))[:30] for c in list(frame.columns)[:8])
        more = ", ..." if len(frame.columns) > 8 else ""
        none = len(missing) == len(_PRICES)
        hint = " (is the first line a header?)" if none else ""
        raise (NoBarColumns if none else DataError)(
            f"{source}: missing column(s) {', '.join(missing)}; found {found or 'none'}{more}"
            f"{hint}. Expected timestamp, open, high, low, close and optionally volume "
            "(any case)"
        )
    columns = {key: frame[col] for key, col in by_name.items() if key in OHLCV}
    if isinstance(frame.index, pd.DatetimeIndex):
        return frame.index, columns
    for name in _TIME_NAMES[:2]:
        if name in by_name:
            return pd.Index(frame[by_name[name]]), columns
    if "date" in by_name and "time" in by_name:
        joined = frame[by_name["date"]].astype(str) + " " + frame[by_name["time"]].astype(str)
        return pd.Index(joined), columns
    for name in _TIME_NAMES[2:]:
        if name in by_name:
            return pd.Index(frame[by_name[name]]), columns
    first = frame.columns[0]
    if first is None or str(first).strip() in ("", "index") or str(first).startswith("Unnamed:"):
        return pd.Index(frame[first]), columns
    raise DataError(
        f"{source}: no timestamp column; name it timestamp, datetime, date or time "
        "(any case), or leave the first column's header empty"
    )


def _parse_time(raw: pd.Index, source: str) -> pd.DatetimeIndex:
    """Naive UTC nanosecond timestamps; NaT where a value is missing or cannot be parsed."""
    if isinstance(raw, pd.DatetimeIndex) or pd.api.types.is_datetime64_any_dtype(raw.dtype):
        idx = pd.DatetimeIndex(raw)
        if idx.tz is not None:
            idx = idx.tz_convert("UTC").tz_localize(None)
        return idx.as_unit("ns")
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        nums = np.asarray(raw, dtype=np.float64)
        finite = nums[np.isfinite(nums)]
        unit = _epoch_unit(finite, source)
        if pd.api.types.is_integer_dtype(raw.dtype):
            # Integers stay integers: float64 would round nanosecond epochs.
            parsed = pd.to_datetime(np.asarray(raw, dtype=np.int64), unit=unit)
        else:
            parsed = pd.to_datetime(nums, unit=unit, errors="coerce")
        return pd.DatetimeIndex(parsed).as_unit("ns")
    parsed = pd.to_datetime(raw, utc=True, format="ISO8601", errors="coerce")
    return pd.DatetimeIndex(parsed).tz_localize(None).as_unit("ns")


def _epoch_unit(values: FloatArray, source: str) -> Literal["s", "ms", "us", "ns"]:
    if values.shape[0] == 0:
        return "s"
    lo, hi = float(np.min(values)), float(np.max(values))
    for unit, low, high in _EPOCH_UNITS:
        if low <= lo and hi < high:
            return unit
    raise DataError(
        f"{source}: numeric timestamps from {lo:.15g} to {hi:.15g} are not epoch seconds "
        f"(1e8 to 1e10) or milliseconds (1e11 to 1e13); {_ISO_HINT}"
    )


def _check_dtype(name: str, col: pd.Series, source: str) -> None:
    """Refuse a typed column that is not numbers (a Parquet file carries its dtypes).

    Numbers would come out of it (true is 1, a date its nanoseconds since 1970) and
    fail a later rule with a message that hides the real problem.
    """
    types = pd.api.types
    dtype = col.dtype
    if (
        types.is_bool_dtype(dtype)
        or types.is_datetime64_any_dtype(dtype)
        or types.is_timedelta64_dtype(dtype)
        or isinstance(dtype, pd.PeriodDtype)
    ):
        raise DataError(f"{source}: column {name!r} has dtype {dtype}, not numbers")


def _to_float(col: pd.Series) -> FloatArray:
    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        return np.ascontiguousarray(col.to_numpy(dtype=np.float64, na_value=np.nan))
    coerced = pd.to_numeric(col, errors="coerce")
    return np.ascontiguousarray(np.asarray(coerced, dtype=np.float64))


def _fmt_num(x: float) -> str:
    return f"{x:.15g}"


def _fmt_time(ts: pd.Timestamp) -> str:
    if ts == ts.normalize():
        return ts.date().isoformat()
    return ts.isoformat(sep=" ")


def _fmt_raw(value: object) -> str:
    return repr(str(value))[:40]


def _check_rows(
    time: pd.DatetimeIndex,
    time_raw: pd.Index,
    values: dict[str, FloatArray],
    raw: dict[str, pd.Series],
    source: str,
) -> None:
    """Raise a DataError for the first row breaking any rule; rules listed in check order."""
    o, h, lo, c, v = (values[name] for name in OHLCV)
    ns = np.asarray(time.asi8)
    bad_time = np.asarray(time.isna())
    # NaT compares as the minimum int64, so mask it out of the ordering checks.
    prev_ok = np.zeros(ns.shape[0], dtype=bool)
    prev_ok[1:] = ~bad_time[1:] & ~bad_time[:-1]
    step = np.diff(ns, prepend=ns[:1])
    rules: list[tuple[BoolArray, Callable[[int], str]]] = [
        (bad_time, lambda i: _time_problem(time_raw, i)),
    ]
    for name, arr in values.items():
        rules.append((~np.isfinite(arr), functools.partial(_value_problem, name, values, raw)))
    for name in _PRICES:
        rules.append((values[name] <= 0, functools.partial(_not_positive, name, values[name])))
    with np.errstate(invalid="ignore"):
        top, bottom = np.maximum(o, c), np.minimum(o, c)
    rules += [
        (h < top, lambda i: f"high {_fmt_num(h[i])} < max(open, close) {_fmt_num(top[i])}"),
        (lo > bottom, lambda i: f"low {_fmt_num(lo[i])} > min(open, close) {_fmt_num(bottom[i])}"),
        (v < 0, lambda i: f"volume {_fmt_num(v[i])} is negative"),
        (
            prev_ok & (step == 0),
            lambda i: f"timestamp repeats row {i} (timestamps must be unique)",
        ),
        (
            prev_ok & (step < 0),
            lambda i: (
                f"timestamp is before row {i}'s {_fmt_time(time[i - 1])} "
                "(rows must be sorted oldest first)"
            ),
        ),
    ]
    masks = np.vstack([mask for mask, _ in rules])
    any_bad = masks.any(axis=0)
    if not any_bad.any():
        return
    row = int(np.argmax(any_bad))
    rule = int(np.argmax(masks[:, row]))
    where = f"row {row + 1}" if bad_time[row] else f"row {row + 1} ({_fmt_time(time[row])})"
    raise DataError(f"{source}: {where}: {rules[rule][1](row)}")


def _time_problem(time_raw: pd.Index, i: int) -> str:
    value = time_raw[i]
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return "missing timestamp"
    if isinstance(value, str) and not value.strip():
        return "missing timestamp"
    return f"cannot parse timestamp {_fmt_raw(value)} ({_ISO_HINT})"


def _not_positive(name: str, arr: FloatArray, i: int) -> str:
    return f"{name} {_fmt_num(arr[i])} is not positive"


def _value_problem(
    name: str, values: dict[str, FloatArray], raw: dict[str, pd.Series], i: int
) -> str:
    x = values[name][i]
    if name not in raw or not np.isnan(x):
        return f"{name} {_fmt_num(x)} is not a finite number"
    original = raw[name].iloc[i]
    missing = pd.api.types.is_scalar(original) and pd.isna(original)
    if missing or (isinstance(original, str) and not original.strip()):
        return f"missing {name}"
    return f"{name} {_fmt_raw(original)} is not a number"

"""validate_frame and the loader's errors: one DataError naming the file, row and rule."""

from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stratopt.data import load_bars, validate_frame
from stratopt.errors import DataError, UserInputError

HEADER = "timestamp,open,high,low,close,volume\n"
GOOD = [
    "2020-01-01,10,11,9,10.5,100",
    "2020-01-02,10.5,11,10,10.8,100",
    "2020-01-03,10.8,11.5,10.6,11.2,100",
    "2020-01-04,11.2,11.4,10.9,11,100",
    "2020-01-05,11,11.1,10.2,10.4,100",
]


def _write(tmp_path: Path, rows: list[str], header: str = HEADER) -> Path:
    path = tmp_path / "bad.csv"
    path.write_text(header + "\n".join(rows) + "\n")
    return path


def _with_row(index: int, row: str) -> list[str]:
    rows = list(GOOD)
    rows[index] = row
    return rows


@pytest.mark.parametrize(
    ("row_index", "row", "message"),
    [
        (
            3,
            "2020-01-04,10.5,10.2,9.9,10,100",
            "row 4 (2020-01-04): high 10.2 < max(open, close) 10.5",
        ),
        (
            2,
            "2020-01-03,10.8,11.5,10.9,11.2,100",
            "row 3 (2020-01-03): low 10.9 > min(open, close) 10.8",
        ),
        (1, "2020-01-02,10.5,11,10,10.8,-5", "row 2 (2020-01-02): volume -5 is negative"),
        (4, "2020-01-05,0,11.1,0,10.4,100", "row 5 (2020-01-05): open 0 is not positive"),
        (4, "2020-01-05,11,11.1,-1,10.4,100", "row 5 (2020-01-05): low -1 is not positive"),
        (2, "2020-01-03,10.8,11.5,10.6,,100", "row 3 (2020-01-03): missing close"),
        (2, "2020-01-03,10.8,11.5,10.6,n/a,100", "row 3 (2020-01-03): missing close"),
        (
            2,
            "2020-01-03,10.8,11.5,10.6,11.2,lots",
            "row 3 (2020-01-03): volume 'lots' is not a number",
        ),
        (
            3,
            "2020-01-04,11.2,inf,10.9,11,100",
            "row 4 (2020-01-04): high inf is not a finite number",
        ),
        (3, ",11.2,11.4,10.9,11,100", "row 4: missing timestamp"),
        (3, "04/01/2020,11.2,11.4,10.9,11,100", "row 4: cannot parse timestamp '04/01/2020'"),
        (2, "2020-01-02,10.8,11.5,10.6,11.2,100", "row 3 (2020-01-02): timestamp repeats row 2"),
        (
            3,
            "2020-01-02T12:00:00,11.2,11.4,10.9,11,100",
            "row 4 (2020-01-02 12:00:00): timestamp is before row 3's 2020-01-03",
        ),
    ],
)
def test_each_rule_names_file_row_and_rule(
    tmp_path: Path, row_index: int, row: str, message: str
) -> None:
    path = _write(tmp_path, _with_row(row_index, row))
    with pytest.raises(DataError) as info:
        load_bars(path)
    assert str(info.value).startswith(f"{path}: {message}")


def test_first_offending_row_wins(tmp_path: Path) -> None:
    rows = _with_row(4, "2020-01-05,11,10,10.2,10.4,100")  # high < open on row 5
    rows[1] = "2020-01-02,10.5,11,10,10.8,-1"  # negative volume on row 2
    with pytest.raises(DataError, match=r"row 2 \(2020-01-02\): volume -1 is negative"):
        load_bars(_write(tmp_path, rows))


def test_same_row_reports_first_rule(tmp_path: Path) -> None:
    rows = _with_row(2, "2020-01-03,-1,0.5,10.6,11.2,-3")
    with pytest.raises(DataError, match=r"row 3 \(2020-01-03\): open -1 is not positive"):
        load_bars(_write(tmp_path, rows))


def test_row_numbers_count_data_rows_in_long_files(tmp_path: Path) -> None:
    days = pd.date_range("2020-01-01", periods=40, freq="D")
    rows = [f"{d.date()},10,11,9,10.5,100" for d in days]
    rows[16] = "2020-01-17,10.5,10.2,9,10,100"
    with pytest.raises(DataError) as info:
        load_bars(_write(tmp_path, rows))
    assert str(info.value) == (
        f"{tmp_path / 'bad.csv'}: row 17 (2020-01-17): high 10.2 < max(open, close) 10.5"
    )


def test_too_few_rows(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="needs at least 2 rows of bars, found 1"):
        load_bars(_write(tmp_path, GOOD[:1]))
    with pytest.raises(DataError, match="found 0"):
        load_bars(_write(tmp_path, []))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"\n\n", "no data"),
        (b"a,b,c\n1,2,3\n", r"not a CSV or Parquet file of bars \(12 bytes\): no open, high"),
        (b"timestamp,open,high,low\n2020-01-01,1,2,0.5\n", r"missing column\(s\) close"),
        (b"2020-01-01,1,2,0.5,1.5\n2020-01-02,1,2,0.5,1.5\n", "is the first line a header"),
        (b"open,high,low,close\n1,2,0.5,1.5\n1,2,0.5,1.5\n", "no timestamp column"),
        (b"timestamp,open,Open,high,low,close\n", "are both 'open'"),
        (bytes(range(256)) * 8, "cannot read as CSV"),
        (b"\x1f\x8b" + os.urandom(500), "cannot read as CSV"),
        (b"PAR1" + os.urandom(500), "cannot read as Parquet"),
    ],
)
def test_unusable_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "junk.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        load_bars(path)
    assert str(info.value).startswith(f"{path}: ")
    assert "\n" not in str(info.value)


def test_truncated_gzip(tmp_path: Path) -> None:
    path = tmp_path / "x.csv.gz"
    payload = gzip.compress((HEADER + "\n".join(GOOD * 200)).encode())
    path.write_bytes(payload[: len(payload) // 2])
    with pytest.raises(DataError, match="cannot read as CSV"):
        load_bars(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=re.escape(f"{tmp_path / 'nope.csv'}: file not found")):
        load_bars(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="not a file"):
        load_bars(tmp_path)


def test_data_error_is_user_input_error() -> None:
    assert issubclass(DataError, UserInputError)


def test_validate_frame_canonical_output() -> None:
    raw = pd.DataFrame(
        {
            "Date": ["2020-01-01T00:00:00+01:00", "2020-01-02T00:00:00+01:00"],
            "Open": [1, 2],
            "High": [2, 3],
            "Low": [0.5, 1.5],
            "Close": [1.5, 2.5],
            "Ticker": ["A", "A"],
        }
    )
    out = validate_frame(raw, "frame")
    assert list(out.columns) == ["open", "high", "low", "close", "volume"]
    assert out.index.name == "timestamp"
    assert out.index.dtype == np.dtype("datetime64[ns]")
    assert str(out.index[0]) == "2019-12-31 23:00:00"
    assert (out.dtypes == np.float64).all()
    np.testing.assert_array_equal(out["volume"], [0.0, 0.0])


def test_validate_frame_accepts_datetime_index() -> None:
    index = pd.date_range("2020-01-01", periods=3, freq="D", tz="US/Eastern")
    raw = pd.DataFrame(
        {"OPEN": 1.0, "HIGH": [2.0, 1.2, 2.0], "LOW": 0.5, "CLOSE": [1.5, 1.25, 1.5]},
        index=index,
    )
    with pytest.raises(DataError, match=r"^frame: row 2 \(2020-01-02 05:00:00\): high 1.2 <"):
        validate_frame(raw, "frame")
    out = validate_frame(raw.assign(HIGH=2.0), "frame")
    assert str(out.index[0]) == "2020-01-01 05:00:00"


def test_real_files_are_valid(shared_data: Path) -> None:
    for name in ("GOOG_1d.csv.gz", "BTCUSD_1h.csv.gz", "backtesting_py/EURUSD_1h.csv.gz"):
        bars = load_bars(shared_data / name)
        assert len(bars) > 2000
        assert np.all(bars.high >= np.maximum(bars.open, bars.close))
        assert np.all(np.diff(bars.time.view(np.int64)) > 0)

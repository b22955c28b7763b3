"""load_bars: formats, column names, timestamps, pkg:// paths and date ranges."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stratopt.data import Bars, load_bars
from stratopt.errors import ConfigError, DataError

ROWS = [
    ("2020-01-02", 10.0, 11.0, 9.5, 10.5, 100),
    ("2020-01-03", 10.5, 12.0, 10.0, 11.5, 200),
    ("2020-01-06", 11.5, 11.8, 10.9, 11.0, 150),
    ("2020-01-07", 11.0, 11.2, 10.1, 10.2, 300),
]


def _frame(
    header: tuple[str, ...] = ("timestamp", "open", "high", "low", "close", "volume"),
) -> pd.DataFrame:
    return pd.DataFrame(ROWS, columns=list(header))


def _check(bars: Bars) -> None:
    assert len(bars) == 4
    assert bars.time.dtype == np.dtype("datetime64[ns]")
    assert str(bars.time[0]) == "2020-01-02T00:00:00.000000000"
    np.testing.assert_array_equal(bars.close, [10.5, 11.5, 11.0, 10.2])
    np.testing.assert_array_equal(bars.volume, [100, 200, 150, 300])
    for name in ("open", "high", "low", "close", "volume"):
        arr = getattr(bars, name)
        assert arr.dtype == np.float64 and arr.flags.c_contiguous


def test_csv(tmp_path: Path) -> None:
    path = tmp_path / "ABC_1d.csv"
    _frame().to_csv(path, index=False)
    bars = load_bars(path)
    _check(bars)
    assert bars.symbol == "ABC"
    assert bars.source == str(path)
    assert bars.periods_per_year == 252.0


def test_gzip_csv(tmp_path: Path) -> None:
    path = tmp_path / "GOOG_1d.csv.gz"
    with gzip.open(path, "wt") as fh:
        _frame().to_csv(fh, index=False)
    bars = load_bars(path)
    _check(bars)
    assert bars.symbol == "GOOG"


def test_parquet(tmp_path: Path) -> None:
    path = tmp_path / "XYZ.parquet"
    frame = _frame()
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    frame.to_parquet(path, index=False)
    _check(load_bars(path))


def test_parquet_with_time_index(tmp_path: Path) -> None:
    path = tmp_path / "XYZ.parquet"
    frame = _frame().set_index("timestamp")
    frame.index = pd.to_datetime(frame.index).tz_localize("UTC")
    frame.to_parquet(path)
    _check(load_bars(path))


def test_format_is_sniffed_not_guessed_from_suffix(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    with gzip.open(path, "wt") as fh:
        _frame().to_csv(fh, index=False)
    _check(load_bars(path))


@pytest.mark.parametrize(
    "header",
    [
        ("Timestamp", "Open", "High", "Low", "Close", "Volume"),
        ("DATE", "OPEN", "HIGH", "LOW", "CLOSE", "VOLUME"),
        ("datetime", "open", "High", "LOW", "close", "Volume"),
        ("Time", " Open", "High ", "low", "close", "vOlUmE"),
    ],
)
def test_column_names_any_case(tmp_path: Path, header: tuple[str, ...]) -> None:
    path = tmp_path / "x.csv"
    _frame(header).to_csv(path, index=False)
    _check(load_bars(path))


def test_unnamed_first_column(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    _frame(("", "Open", "High", "Low", "Close", "Volume")).to_csv(path, index=False)
    assert path.read_text().startswith(",Open,High")
    _check(load_bars(path))


def test_header_without_a_name_for_the_time(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("Open,High,Low,Close\n2020-01-02,1,2,0.5,1.5\n2020-01-03,1,2,0.5,1.5\n")
    assert str(load_bars(path).index[1]) == "2020-01-03 00:00:00"


def test_separate_date_and_time_columns(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(
        "Date,Time,Open,High,Low,Close\n2020-01-02,09:00,1,2,0.5,1.5\n2020-01-02,10:00,1,2,0.5,1.5\n"
    )
    bars = load_bars(path)
    assert list(bars.index.strftime("%H:%M")) == ["09:00", "10:00"]
    np.testing.assert_array_equal(bars.volume, [0.0, 0.0])


def test_volume_optional(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    _frame().drop(columns="volume").to_csv(path, index=False)
    bars = load_bars(path)
    np.testing.assert_array_equal(bars.volume, np.zeros(4))


def test_extra_columns_ignored(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    frame = _frame()
    frame["Adj Close"] = frame["close"] * 0.5
    frame.to_csv(path, index=False)
    _check(load_bars(path))


def test_timezones_become_naive_utc(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(
        "timestamp,open,high,low,close\n"
        "2020-03-06T09:30:00-05:00,1,2,0.5,1.5\n"
        "2020-03-09T09:30:00-04:00,1,2,0.5,1.5\n"
        "2020-03-09T14:30:00Z,1,2,0.5,1.5\n"
        "2020-03-09 15:30:00,1,2,0.5,1.5\n"
    )
    bars = load_bars(path)
    assert [str(t) for t in bars.index] == [
        "2020-03-06 14:30:00",
        "2020-03-09 13:30:00",
        "2020-03-09 14:30:00",
        "2020-03-09 15:30:00",
    ]


@pytest.mark.parametrize("scale", [1, 1000])
def test_epoch_seconds_and_milliseconds(tmp_path: Path, scale: int) -> None:
    path = tmp_path / "x.csv"
    first = 1_577_836_800 * scale  # 2020-01-01T00:00:00Z
    step = 3600 * scale
    path.write_text(
        "time,open,high,low,close\n"
        + "".join(f"{first + i * step},1,2,0.5,1.5\n" for i in range(3))
    )
    bars = load_bars(path)
    assert str(bars.index[0]) == "2020-01-01 00:00:00"
    assert str(bars.index[2]) == "2020-01-01 02:00:00"


def test_integers_that_are_not_epochs_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("time,open,high,low,close\n20200101,1,2,0.5,1.5\n20200102,1,2,0.5,1.5\n")
    with pytest.raises(DataError, match="not epoch seconds"):
        load_bars(path)


def test_pkg_path_backtesting_goog() -> None:
    bars = load_bars("pkg://backtesting/test/GOOG.csv")
    assert bars.symbol == "GOOG"
    assert bars.source == "pkg://backtesting/test/GOOG.csv"
    assert len(bars) == 2148
    assert str(bars.index[0].date()) == "2004-08-19"
    assert bars.close[0] == pytest.approx(100.34)
    assert bars.periods_per_year == 252.0


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("pkg://no_such_package_xyz/data.csv", "not installed"),
        ("pkg://backtesting/test/NOPE.csv", "has no file"),
        ("pkg://backtesting", "expected pkg://"),
    ],
)
def test_pkg_path_errors(path: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        load_bars(path)


def test_symbol_override_and_default(tmp_path: Path) -> None:
    path = tmp_path / "EURUSD.x.csv"
    _frame().to_csv(path, index=False)
    assert load_bars(path).symbol == "EURUSD"
    assert load_bars(path, symbol="EUR/USD").symbol == "EUR/USD"


def test_periods_per_year_override(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    _frame().to_csv(path, index=False)
    assert load_bars(path, periods_per_year=260).periods_per_year == 260.0
    with pytest.raises(ConfigError, match="periods_per_year"):
        load_bars(path, periods_per_year=0)


def test_date_range_daily(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    _frame().to_csv(path, index=False)
    bars = load_bars(path, start="2020-01-03", end="2020-01-06")
    assert [str(t.date()) for t in bars.index] == ["2020-01-03", "2020-01-06"]
    bars = load_bars(path, start=dt.date(2020, 1, 3))
    assert len(bars) == 3
    bars = load_bars(path, end=pd.Timestamp("2020-01-03"))
    assert len(bars) == 2


def _hourly(tmp_path: Path) -> Path:
    path = tmp_path / "x_1h.csv"
    times = pd.date_range("2020-01-01", periods=240, freq="h")  # ten days, a weekend
    frame = pd.DataFrame(
        {"timestamp": times.strftime("%Y-%m-%dT%H:%M:%SZ"), "open": 1.0, "high": 2.0}
    )
    frame["low"], frame["close"] = 0.5, 1.5
    frame.to_csv(path, index=False)
    return path


def test_date_range_intraday_end_date_is_whole_day(tmp_path: Path) -> None:
    bars = load_bars(_hourly(tmp_path), start="2020-01-02", end="2020-01-02")
    assert len(bars) == 24
    assert str(bars.index[0]) == "2020-01-02 00:00:00"
    assert str(bars.index[-1]) == "2020-01-02 23:00:00"


def test_date_range_intraday_datetimes_are_exact(tmp_path: Path) -> None:
    path = _hourly(tmp_path)
    bars = load_bars(path, start="2020-01-02T05:00", end="2020-01-02 07:00:00")
    assert [t.hour for t in bars.index] == [5, 6, 7]
    aware = dt.datetime(2020, 1, 2, 7, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    bars = load_bars(path, start="2020-01-02T03:00:00Z", end=aware)
    assert [t.hour for t in bars.index] == [3, 4, 5]


def test_date_range_errors(tmp_path: Path) -> None:
    path = _hourly(tmp_path)
    with pytest.raises(ConfigError, match="after end"):
        load_bars(path, start="2020-01-03", end="2020-01-02")
    with pytest.raises(ConfigError, match="not an ISO 8601 date"):
        load_bars(path, start="yesterday-ish")
    with pytest.raises(DataError, match=r"0 bar\(s\) between .* covers 2020-01-01"):
        load_bars(path, start="2021-01-01")


def test_range_then_resample(tmp_path: Path) -> None:
    bars = load_bars(_hourly(tmp_path), start="2020-01-01T12:00", timeframe="1D")
    assert [t.day for t in bars.index] == list(range(1, 11))
    assert bars.open[0] == 1.0 and bars.high[0] == 2.0 and bars.low[0] == 0.5
    assert bars.periods_per_year == 365.0  # 24/7 data, all weekdays present


def test_real_file(shared_data: Path) -> None:
    bars = load_bars(shared_data / "ETHBTC_5m.csv.gz", end="2018-01-10")
    assert bars.symbol == "ETHBTC"
    assert str(bars.index[0]) == "2018-01-10 04:55:00"
    assert str(bars.index[-1]) == "2018-01-10 23:55:00"
    assert bars.close[0] == 0.0994766

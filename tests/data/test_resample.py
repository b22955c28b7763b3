"""resample: aggregation rules, bin labels, refusals, and a real-data cross-check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stratopt.data import Bars, load_bars, resample, validate_frame
from stratopt.errors import ConfigError, DataError


def _bars(times: list[str], rows: list[tuple[float, float, float, float, float]]) -> Bars:
    frame = pd.DataFrame(rows, columns=["open", "high", "low", "close", "volume"])
    frame.insert(0, "timestamp", times)
    return Bars.from_frame(validate_frame(frame, "hand"), symbol="H", source="hand")


HOURLY = _bars(
    [
        "2020-01-06T00:00",
        "2020-01-06T01:00",
        "2020-01-06T02:00",
        "2020-01-06T03:00",
        "2020-01-06T04:00",
        # 05:00-07:00 missing: the 04:00 bin has one bar, the next bin starts at 08:00
        "2020-01-06T08:00",
        "2020-01-06T09:00",
    ],
    [
        (10.0, 12.0, 9.0, 11.0, 1),
        (11.0, 11.5, 10.0, 10.5, 2),
        (10.5, 13.0, 10.4, 12.5, 3),
        (12.5, 12.6, 8.0, 9.0, 4),
        (9.0, 9.5, 8.5, 9.2, 5),
        (9.3, 10.0, 9.1, 9.9, 6),
        (9.9, 10.1, 9.7, 10.0, 7),
    ],
)


def test_four_hour_bins() -> None:
    out = resample(HOURLY, "4h")
    assert [str(t) for t in out.index] == [
        "2020-01-06 00:00:00",
        "2020-01-06 04:00:00",
        "2020-01-06 08:00:00",
    ]
    np.testing.assert_array_equal(out.open, [10.0, 9.0, 9.3])
    np.testing.assert_array_equal(out.high, [13.0, 9.5, 10.1])
    np.testing.assert_array_equal(out.low, [8.0, 8.5, 9.1])
    np.testing.assert_array_equal(out.close, [9.0, 9.2, 10.0])
    np.testing.assert_array_equal(out.volume, [10, 5, 13])
    assert out.symbol == "H" and out.source == "hand"
    validate_frame(out.to_frame(), "resampled")


def test_bins_are_fixed_in_utc_not_by_first_bar() -> None:
    out = resample(HOURLY.slice(1, 7), "4h")
    assert str(out.index[0]) == "2020-01-06 00:00:00"
    assert out.open[0] == 11.0 and out.volume[0] == 2 + 3 + 4


def test_daily_and_weekly_labels() -> None:
    days = pd.date_range("2020-01-01", "2020-01-21", freq="B")  # weekdays only
    rows = [(float(i + 1), i + 2.0, i + 0.5, i + 1.5, 1.0) for i in range(len(days))]
    bars = _bars([str(d.date()) for d in days], rows)
    weekly = resample(bars, "1W")
    # Weeks start on Monday; 2020-01-01 was a Wednesday, so its week is labelled 2019-12-30.
    assert [str(t.date()) for t in weekly.index] == [
        "2019-12-30",
        "2020-01-06",
        "2020-01-13",
        "2020-01-20",
    ]
    np.testing.assert_array_equal(weekly.volume, [3, 5, 5, 2])
    np.testing.assert_array_equal(weekly.open, [1, 4, 9, 14])
    np.testing.assert_array_equal(weekly.close, [3.5, 8.5, 13.5, 15.5])
    assert resample(bars, "1D") is bars


def test_refusals() -> None:
    with pytest.raises(DataError, match="finer timeframe '30m'"):
        resample(HOURLY, "30m")
    with pytest.raises(DataError, match="not a whole multiple"):
        resample(HOURLY, "90m")
    with pytest.raises(DataError, match="fewer than 2 bars"):
        resample(HOURLY, "1D")
    with pytest.raises(ConfigError, match="months are not supported"):
        resample(HOURLY, "1M")
    with pytest.raises(ConfigError, match="not understood"):
        resample(HOURLY, "fortnight")


def test_hourly_spy_resampled_to_daily_equals_daily_file(shared_data: Path) -> None:
    daily = load_bars(shared_data / "SPY_1d.csv.gz")
    from_hourly = load_bars(shared_data / "SPY_1h.csv.gz", timeframe="1D")
    np.testing.assert_array_equal(from_hourly.time, daily.time)
    for name in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(from_hourly, name), getattr(daily, name))
    assert from_hourly.periods_per_year == 252.0


def test_load_with_timeframe_finer_than_file(shared_data: Path) -> None:
    with pytest.raises(DataError, match="finer timeframe"):
        load_bars(shared_data / "GOOG_1d.csv.gz", timeframe="4h")

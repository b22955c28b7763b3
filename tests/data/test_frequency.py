"""Bar interval, timeframe strings and bars per year, on real and made-up timestamps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stratopt.data import (
    GIVEN_RULE,
    annualization,
    infer_bar_interval,
    infer_periods_per_year,
    load_bars,
    parse_timeframe,
    resample,
    synthetic_bars,
)
from stratopt.errors import ConfigError, DataError


@pytest.mark.parametrize(
    ("name", "interval", "low", "high"),
    [
        ("GOOG_1d.csv.gz", "1D", 252, 252),
        ("SPY_1d.csv.gz", "1D", 252, 252),
        ("SPY_1h.csv.gz", "1h", 1700, 1800),
        ("EURUSD_1h.csv.gz", "1h", 6100, 6300),
        ("backtesting_py/EURUSD_1h.csv.gz", "1h", 6000, 6400),
        ("BTCUSD_1h.csv.gz", "1h", 8760, 8760),
        ("BTCPERP_1m.csv.gz", "1min", 525_600, 525_600),
        ("ETHBTC_5m.csv.gz", "5min", 105_120, 105_120),
        ("ADABTC_5m.csv.gz", "5min", 105_120, 105_120),  # 40 missing bars of 5,760
    ],
)
def test_real_files(shared_data: Path, name: str, interval: str, low: float, high: float) -> None:
    bars = load_bars(shared_data / name)
    assert infer_bar_interval(bars.time) == pd.Timedelta(interval)
    assert low <= bars.periods_per_year <= high
    assert bars.periods_per_year == infer_periods_per_year(bars.index)


def _times(start: str, periods: int, freq: str) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=periods, freq=freq)


def test_short_samples() -> None:
    crypto_5m = _times("2018-01-10 04:55", 20 * 288, "5min")
    assert infer_periods_per_year(crypto_5m) == 105_120
    assert infer_periods_per_year(crypto_5m[:50]) == 105_120
    assert infer_periods_per_year(_times("2021-03-01", 20, "D")) == 365
    assert infer_periods_per_year(_times("2021-03-01", 20, "B")) == 252
    assert infer_periods_per_year(_times("2021-03-01", 2, "B")) == 252


def test_other_calendars_use_observed_density() -> None:
    sun_to_thu = pd.DatetimeIndex([d for d in _times("2021-01-03", 700, "D") if d.day_of_week != 4])
    sun_to_thu = sun_to_thu[sun_to_thu.day_of_week != 5]
    assert infer_periods_per_year(sun_to_thu) == pytest.approx(5 * 365.25 / 7, rel=0.01)
    weekly = _times("2000-01-03", 520, "W-MON")
    assert infer_periods_per_year(weekly) == pytest.approx(365.25 / 7, rel=0.01)
    session = pd.DatetimeIndex(
        [t for t in _times("2021-01-04", 24 * 7 * 52, "h") if t.day_of_week < 5 and t.hour < 8]
    )
    assert infer_periods_per_year(session) == pytest.approx(8 * 5 * 365.25 / 7, rel=0.01)


def test_accepts_arrays_series_and_aware_indexes() -> None:
    idx = _times("2021-03-01", 30, "h")
    for value in (idx, idx.to_numpy(), pd.Series(idx), idx.tz_localize("Europe/Paris")):
        assert infer_bar_interval(value) == pd.Timedelta("1h")
        assert infer_periods_per_year(value) == 8760


def test_too_few_or_unsorted() -> None:
    with pytest.raises(DataError, match="at least 2"):
        infer_bar_interval(_times("2021-03-01", 1, "D"))
    with pytest.raises(DataError, match="not strictly increasing"):
        infer_periods_per_year(np.array(["2021-01-02", "2021-01-01"], dtype="datetime64[ns]"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1m", "1min"),
        ("5m", "5min"),
        ("15min", "15min"),
        ("4h", "4h"),
        ("4H", "4h"),
        ("1D", "1D"),
        ("1d", "1D"),
        ("1W", "7D"),
        ("2w", "14D"),
        ("30s", "30s"),
    ],
)
def test_parse_timeframe(text: str, expected: str) -> None:
    assert parse_timeframe(text) == pd.Timedelta(expected)


@pytest.mark.parametrize("text", ["", "h", "0h", "-1h", "1M", "1y", "1.5h", "4 hours ago"])
def test_parse_timeframe_refuses(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_timeframe(text)


def test_the_rule_that_chose_the_number_is_stated() -> None:
    """Each rule of docs/data.md "Bars per year" names itself beside its number, and the
    bars carry it through slicing and resampling; a number the user gave says so."""
    cases = [
        (_times("2021-03-01", 40, "B"), 252, "1d bars, none on a weekend: 252 trading days"),
        (_times("2021-03-01", 40, "D"), 365, "1d bars on all seven weekdays: 365 days"),
        (_times("2021-03-01", 200, "h"), 8760,
         "1h bars filling >= 95 % of a 24/7 calendar: 365 days x 24 bars"),
        (_times("2000-01-03", 60, "W-MON"), 365.25 * 59 / (59 * 7),
         "1w bars (median spacing): observed density, (bars - 1) / span in years"),
    ]  # fmt: skip
    for time, number, rule in cases:
        got = annualization(time)
        assert got.periods_per_year == pytest.approx(number)
        assert got.rule == rule
        assert got.to_dict() == {"periods_per_year": got.periods_per_year, "rule": rule}
    bars = synthetic_bars(500, seed=1, interval="1h")
    assert bars.annualization == annualization(bars.time)
    assert bars.slice(10, 300).annualization == bars.annualization
    daily = resample(bars, "1D")
    assert daily.annualization_rule == "1d bars on all seven weekdays: 365 days"
    given = synthetic_bars(50, seed=1, periods_per_year=250)
    assert given.annualization.to_dict() == {"periods_per_year": 250.0, "rule": GIVEN_RULE}


def test_a_given_number_overrides_the_rule(shared_data: Path) -> None:
    bars = load_bars(shared_data / "GOOG_1d.csv.gz", periods_per_year=260)
    assert (bars.periods_per_year, bars.annualization_rule) == (260.0, GIVEN_RULE)

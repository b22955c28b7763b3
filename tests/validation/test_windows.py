"""Window arithmetic, checked exactly: holdout cut, walk-forward windows, CPCV splits."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from stratopt.config import parse_span
from stratopt.errors import ConfigError
from stratopt.validation import cpcv_plan, holdout_start, walk_forward_windows


def _days(n: int, start: str = "2020-01-01") -> np.ndarray:
    return pd.date_range(start, periods=n, freq="D").to_numpy()


def _bounds(ws: list) -> list[tuple[int, int, int, int]]:
    return [(w.train_start, w.train_stop, w.test_start, w.test_stop) for w in ws]


# ---- spans -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (250, 250),
        ("250", 250),
        ("365d", pd.Timedelta(days=365)),
        ("12h", pd.Timedelta(hours=12)),
        ("4w", pd.Timedelta(weeks=4)),
        ("30D", pd.Timedelta(days=30)),
    ],
)
def test_spans_are_bars_or_durations(value: object, expected: object) -> None:
    assert parse_span(value, field="f") == expected


@pytest.mark.parametrize("value", ["12x", "3M", "-5d", 0, "0d", True, 1.5, "d"])
def test_bad_spans_name_the_field_and_value(value: object) -> None:
    with pytest.raises(ConfigError, match=r"^wf\.train: .*") as err:
        parse_span(value, field="wf.train")
    assert repr(value) in str(err.value) or str(value) in str(err.value)


def test_zero_is_allowed_for_gaps_only() -> None:
    assert parse_span(0, field="p", allow_zero=True) == 0
    assert parse_span("0d", field="p", allow_zero=True) == pd.Timedelta(0)


# ---- holdout -----------------------------------------------------------------------------


def test_holdout_fraction_rounds_half_up() -> None:
    t = _days(1000)
    assert holdout_start(t, 0.2) == 800
    assert holdout_start(t, "0.25") == 750
    assert holdout_start(_days(10), 0.25) == 7  # 2.5 holdout bars round up to 3
    assert holdout_start(_days(10), 0.3) == 7  # 10 * 0.3 = 3.0000000000000004 -> 3


def test_holdout_date_is_the_first_holdout_bar() -> None:
    t = _days(100)  # 2020-01-01 ... 2020-04-09
    assert holdout_start(t, "2020-03-01") == 60
    assert t[60] == np.datetime64("2020-03-01")
    # A time between bars: the holdout starts at the next bar.
    assert holdout_start(t, "2020-02-29T12:00") == 60
    weekdays = pd.bdate_range("2021-01-01", periods=30).to_numpy()
    assert pd.Timestamp(weekdays[holdout_start(weekdays, "2021-01-09")]) == pd.Timestamp(
        "2021-01-11"
    )  # a Saturday: the holdout opens on Monday


@pytest.mark.parametrize("value", ["2019-01-01", "2030-01-01", 0.0, 1.0, 1.5, "soon", 0.999])
def test_holdout_that_leaves_a_side_empty_is_an_error(value: object) -> None:
    with pytest.raises(ConfigError, match=r"validation\.holdout"):
        holdout_start(_days(100), value)


# ---- walk-forward in bars ------------------------------------------------------------


def test_rolling_windows_in_bars_exactly() -> None:
    ws = walk_forward_windows(_days(100), train=40, test=20)
    assert _bounds(ws) == [(0, 40, 40, 60), (20, 60, 60, 80), (40, 80, 80, 100)]
    assert [w.index for w in ws] == [0, 1, 2]


def test_rolling_with_step_and_purge() -> None:
    ws = walk_forward_windows(_days(100), train=30, test=10, step=15, purge=3)
    assert _bounds(ws) == [(0, 30, 33, 43), (15, 45, 48, 58), (30, 60, 63, 73),
                           (45, 75, 78, 88)]  # fmt: skip
    # The last window would test [93, 103): past the 100 bars.
    for w in ws:
        assert w.test_start - w.train_stop == 3  # the purge gap
        assert w.train_bars == 30 and w.test_bars == 10


def test_anchored_windows_grow_from_the_first_bar() -> None:
    ws = walk_forward_windows(_days(100), train=40, test=20, mode="anchored")
    assert _bounds(ws) == [(0, 40, 40, 60), (0, 60, 60, 80), (0, 80, 80, 100)]


def test_count_formula_in_bars() -> None:
    # windows = floor((n - train - purge - test) / step) + 1
    for n, train, test, step, purge in [(1000, 250, 50, 50, 0), (997, 200, 60, 40, 5),
                                        (500, 100, 100, 30, 10), (302, 298, 2, 1, 0)]:  # fmt: skip
        ws = walk_forward_windows(_days(n), train=train, test=test, step=step, purge=purge)
        assert len(ws) == (n - train - purge - test) // step + 1
        assert ws[-1].test_stop <= n
        assert ws[-1].test_stop + step > n  # one more step would not fit


@pytest.mark.parametrize("mode", ["rolling", "anchored"])
def test_train_never_reaches_its_test_and_tests_tile(mode: str) -> None:
    ws = walk_forward_windows(_days(500), train=100, test=25, mode=mode, purge=2)
    for w in ws:
        assert w.train_start < w.train_stop <= w.test_start - 2 < w.test_stop
    # step defaults to test: test windows follow each other with no gap and no overlap
    for a, b in itertools.pairwise(ws):
        assert b.test_start == a.test_stop
    # earlier test windows are inside later train windows only as the mode says
    if mode == "anchored":
        assert all(w.train_start == 0 for w in ws)
    else:
        assert all(w.train_bars == 100 for w in ws)


# ---- walk-forward in durations -------------------------------------------------------


def test_durations_on_daily_bars_match_bars() -> None:
    t = _days(100)
    assert _bounds(walk_forward_windows(t, train="40d", test="20d")) == _bounds(
        walk_forward_windows(t, train=40, test=20)
    )


def test_durations_on_business_days_follow_the_calendar() -> None:
    t = pd.bdate_range("2021-01-04", "2021-03-31").to_numpy()  # Mondays to Fridays
    ws = walk_forward_windows(t, train="4w", test="1w")
    times = pd.DatetimeIndex(t)
    first = ws[0]
    assert times[first.train_start] == pd.Timestamp("2021-01-04")
    assert times[first.test_start] == pd.Timestamp("2021-02-01")  # 4 weeks later
    assert first.train_bars == 20 and first.test_bars == 5
    for w in ws:
        start = times[w.test_start]
        assert start.day_of_week == 0  # every test week starts on a Monday
        assert times[w.test_stop - 1] - start == pd.Timedelta(days=4)
    # the last test week ends within the data (last bar 2021-03-31, a Wednesday)
    assert times[ws[-1].test_stop - 1] <= pd.Timestamp("2021-03-31")
    # test weeks start Feb 1 ... Mar 22; [Mar 29, Apr 5) ends after the data (Apr 1)
    assert [str(times[w.test_start].date()) for w in ws][-1] == "2021-03-22"
    assert len(ws) == 8


def test_hourly_durations_and_a_purge_in_hours() -> None:
    t = pd.date_range("2022-01-01", periods=24 * 10, freq="h").to_numpy()
    ws = walk_forward_windows(t, train="2d", test="12h", purge="6h", mode="anchored")
    assert _bounds(ws)[:2] == [(0, 48, 54, 66), (0, 60, 66, 78)]
    # last: boundary 48 + 12k, test stop 48 + 12k + 18 <= 240 -> k <= 14
    assert len(ws) == 15


def test_bars_with_a_duration_purge() -> None:
    ws = walk_forward_windows(_days(100), train=40, test=20, purge="2d")
    assert _bounds(ws) == [(0, 40, 42, 62), (20, 60, 62, 82)]


def test_mixed_units_are_refused() -> None:
    with pytest.raises(ConfigError, match="all be bars or all durations"):
        walk_forward_windows(_days(100), train=40, test="20d")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"train": 90, "test": 20}, "does not fit"),
        ({"train": "200d", "test": "5d"}, "does not fit"),
        ({"train": 0, "test": 5}, r"walk_forward\.train"),
        ({"train": 10, "test": "x"}, r"walk_forward\.test: 'x'"),
        ({"train": 10, "test": 5, "mode": "expanding"}, r"walk_forward\.mode"),
        ({"train": 10, "test": 1}, r"walk_forward\.test: window 0 holds 1"),
    ],
)
def test_invalid_windows_name_the_field(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        walk_forward_windows(_days(100), **kwargs)


# ---- CPCV ------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "k"), [(6, 2), (10, 2), (8, 3), (5, 1), (7, 6), (12, 4)])
def test_cpcv_counts_follow_the_formulas(n: int, k: int) -> None:
    plan = cpcv_plan(1200, groups=n, test_groups=k)
    assert plan.n_splits == math.comb(n, k)
    assert plan.n_paths == math.comb(n - 1, k - 1) == k * math.comb(n, k) // n
    # every path covers every group exactly once, from a split that tests that group
    for path in plan.paths:
        assert len(path) == n
        for g, split in enumerate(path):
            assert g in plan.splits[split].test_groups
    # every (split, test group) pair is used by exactly one path
    used = sorted((split, g) for path in plan.paths for g, split in enumerate(path))
    expected = sorted((s.index, g) for s in plan.splits for g in s.test_groups)
    assert used == expected


def test_cpcv_groups_partition_the_bars() -> None:
    plan = cpcv_plan(103, groups=5, test_groups=2)
    assert plan.bounds == ((0, 20), (20, 41), (41, 61), (61, 82), (82, 103))
    for s in plan.splits:
        assert np.intersect1d(s.train, s.test).size == 0
        assert s.train.size + s.test.size == 103  # no purge, no embargo


def test_cpcv_purge_and_embargo_around_each_test_block() -> None:
    plan = cpcv_plan(60, groups=6, test_groups=2, purge=2, embargo=3)
    by_groups = {s.test_groups: s for s in plan.splits}
    # groups 1 and 4 tested: [10, 20) and [40, 50)
    s = by_groups[(1, 4)]
    assert s.test.tolist() == list(range(10, 20)) + list(range(40, 50))
    removed = sorted(set(range(60)) - set(s.train.tolist()) - set(s.test.tolist()))
    assert removed == [8, 9, 20, 21, 22, 38, 39, 50, 51, 52]
    # adjacent test groups 2 and 3 form one block [20, 40): gaps only at its edges
    s = by_groups[(2, 3)]
    removed = sorted(set(range(60)) - set(s.train.tolist()) - set(s.test.tolist()))
    assert removed == [18, 19, 40, 41, 42]
    # first and last groups: the gaps are clipped to the data
    s = by_groups[(0, 5)]
    removed = sorted(set(range(60)) - set(s.train.tolist()) - set(s.test.tolist()))
    assert removed == [10, 11, 12, 48, 49]
    for s in plan.splits:  # no train bar within 2 bars before or 3 after a test bar
        test = set(s.test.tolist())
        for b in s.train:
            assert not any(int(b) + d in test for d in (1, 2)), (s.test_groups, b)
            assert not any(int(b) - d in test for d in (1, 2, 3)), (s.test_groups, b)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"groups": 6, "test_groups": 6}, r"cpcv\.test_groups: must be less than groups=6"),
        ({"groups": 6, "test_groups": 7}, r"cpcv\.test_groups"),
        ({"groups": 1, "test_groups": 1}, r"cpcv\.groups"),
        ({"groups": 6, "test_groups": 0}, r"cpcv\.test_groups"),
        ({"groups": 6, "test_groups": 2, "purge": -1}, r"cpcv\.purge"),
        ({"groups": 40, "test_groups": 2}, r"cpcv\.groups: 40 groups of 60 bars"),
        ({"groups": 3, "test_groups": 2, "purge": 30, "embargo": 30}, "no train bar"),
    ],
)
def test_invalid_cpcv_specs(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        cpcv_plan(60, **kwargs)


def test_duration_windows_tile_when_a_boundary_falls_between_bars() -> None:
    t = pd.bdate_range("2021-01-04", periods=200).to_numpy()
    ws = walk_forward_windows(t, train="10d", test="9d")  # 2021-01-14 + 9d... weekends
    times = pd.DatetimeIndex(t)
    assert times[ws[0].test_start] == pd.Timestamp("2021-01-14")
    assert times[ws[1].test_start] == pd.Timestamp("2021-01-25")  # Jan 23 is a Saturday
    for a, b in itertools.pairwise(ws):
        assert b.test_start == a.test_stop
        assert b.train_stop == b.test_start

"""The grid engine's inputs: detail bars, funding placement, bad settings."""

from __future__ import annotations

import numpy as np
import pytest

from stratopt.data import Bars
from stratopt.engine.grid import Funding, GridExec, GridParams, build_market
from stratopt.errors import ConfigError, DataError

START = np.datetime64("2022-01-01T00:00", "ns")


def bars(n: int, minutes: int, *, start: np.datetime64 = START) -> Bars:
    time = start + np.arange(n) * np.timedelta64(minutes, "m")
    c = 100 + np.arange(n, dtype=np.float64) % 3
    return Bars(time=time, open=c, high=c + 1, low=c - 1, close=c, volume=np.zeros(n))


def test_detail_bars_are_placed_under_their_bar() -> None:
    main = bars(3, 60)
    fine = bars(3 * 4 + 2, 15, start=START - np.timedelta64(30, "m"))  # two before
    m = build_market(main, detail=fine)
    assert m.bar_end.tolist() == [4, 8, 12]
    assert m.psub.tolist() == list(range(2, 14))


def test_a_coarser_detail_series_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"grid\.detail: .* coarser than the strategy's bars"):
        build_market(bars(10, 15), detail=bars(5, 60))
    with pytest.raises(ConfigError, match=r"grid\.detail: .* do not divide"):
        build_market(bars(10, 60), detail=bars(30, 25))


def test_a_bar_without_detail_bars_is_refused() -> None:
    fine = bars(8, 15)  # covers the first two hours only
    with pytest.raises(DataError, match=r"grid\.detail: no bar of .* inside the bar at"):
        build_market(bars(3, 60), detail=fine)


def test_funding_instants_go_to_the_bar_that_contains_them() -> None:
    main = bars(10, 60)
    t = START + np.array([-3_600_000, 17, 3_600_000 * 2 + 5, 3_600_000 * 10], "timedelta64[ms]")
    m = build_market(main, funding=Funding.series(t, np.array([1.0, 2.0, 3.0, 4.0])))
    # before the first bar and at the end of the last are not charged
    assert m.f_pos.tolist() == [0, 2]
    assert m.f_rate.tolist() == [2.0, 3.0]
    assert m.f_mark.tolist() == [main.open[0], main.open[2]]
    # the guard of a decision: time to the next instant and the last rate before it
    assert m.g_gap[0] == 3_600_000 * 10**6 + 5 * 10**6  # 01:00 -> 02:00:00.005
    assert m.g_rate[0] == 2.0 and m.g_rate[2] == 3.0
    assert m.g_gap[-1] == 0.0  # the last close is 10:00, the instant at 10:00 is next
    later = build_market(bars(12, 60), funding=Funding.series(t, np.ones(4)))
    assert np.isinf(later.g_gap[10:]).all()


def test_a_constant_schedule_counts_from_the_epoch() -> None:
    m = build_market(bars(48, 60), funding=Funding.constant(0.01, "8h", "4h"))
    hours = (m.funding_time_ns - START.astype(np.int64)) // (3_600 * 10**9)
    assert hours.tolist() == [4, 12, 20, 28, 36, 44]
    assert (m.g_rate == 0.01).all()


def test_funding_series_must_be_sorted_and_marks_early_enough() -> None:
    t = START + np.array([2, 1], "timedelta64[h]")
    with pytest.raises(DataError, match="strictly increasing"):
        Funding.series(t, np.array([1.0, 2.0]))
    late = bars(2, 60, start=START + np.timedelta64(5, "h"))
    f = Funding.series(START + np.array([1], "timedelta64[h]"), np.array([1.0]), marks=late)
    with pytest.raises(DataError, match=r"funding\.mark: no mark price at or before"):
        build_market(bars(10, 60), funding=f)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"grid_step_bps": -1.0}, "grid_step_bps must be a finite number > 0, got -1.0"),
        ({"grid_levels_long": 0}, "grid_levels_long must be a whole number from 1"),
        ({"grid_levels_short": 2.5}, "grid_levels_short must be a whole number"),
        ({"base_qty": float("nan")}, "base_qty must be a finite number > 0"),
        ({"sl_steps": -1.0}, "sl_steps must be a finite number >= 0"),
    ],
)
def test_bad_ladders_name_the_field(kwargs: dict[str, object], message: str) -> None:
    base: dict[str, object] = {"grid_step_bps": 10.0, "grid_levels_long": 2,
                               "grid_levels_short": 2, "base_qty": 1.0}  # fmt: skip
    with pytest.raises(ConfigError, match=message):
        GridParams(**{**base, **kwargs})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path": "detail"}, "grid.path must be one of"),
        ({"position_mode": "oneway"}, "grid.position_mode must be one of"),
        ({"maker_fee": 1.5}, "grid.maker_fee must be < 1"),
        ({"max_lots": 0}, "grid.max_lots must be a whole number from 1"),
    ],
)
def test_bad_execution_settings_name_the_field(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        GridExec(**kwargs)  # type: ignore[arg-type]

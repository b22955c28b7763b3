"""Hand-worked scenarios that pin down the reference simulator (docs/engine.md).

Every expected number is derived by hand in the comments next to it. Unless a test
says otherwise: cash 10 000, no costs, ``sizing: units`` with 10 units.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.engine.reference import (
    END,
    EXIT,
    EXIT_LONG,
    EXIT_SHORT,
    LONG,
    MAX_BARS,
    SHORT,
    SIGNAL,
    STOP_LOSS,
    TAKE_PROFIT,
    TRAILING_STOP,
    RefResult,
    RefSettings,
    RefTrade,
    simulate_reference,
)

N = 0
L = LONG
S = SHORT
X = EXIT

Bar = tuple[float, float, float, float]  # open, high, low, close


def run(bars: list[Bar], signals: list[int], **settings: Any) -> RefResult:
    kw: dict[str, Any] = {"sizing": "units", "size": 10.0}
    kw.update(settings)
    o = [b[0] for b in bars]
    h = [b[1] for b in bars]
    lo = [b[2] for b in bars]
    c = [b[3] for b in bars]
    return simulate_reference(o, h, lo, c, signals, RefSettings(**kw))


def approx(x: Any) -> Any:
    return pytest.approx(x, rel=1e-12, abs=1e-9)


def only_trade(res: RefResult) -> RefTrade:
    assert len(res.trades) == 1, res.trades
    return res.trades[0]


def check_trade(t: RefTrade, **expected: float) -> None:
    for name, value in expected.items():
        assert getattr(t, name) == approx(value), name


def check_books(res: RefResult, cash: float = 10_000.0) -> None:
    """final = cash + sum(pnl - fees) = equity[-1]."""
    assert res.final_equity == approx(cash + sum(t.pnl - t.fees for t in res.trades))
    assert res.equity[-1] == approx(res.final_equity)


# A gentle up-trend: no stop or target is involved.
TREND: list[Bar] = [
    (100, 101, 99, 100),
    (102, 104, 101, 103),
    (105, 106, 104, 105),
    (104, 105, 103, 104),
]


# --------------------------------------------------------------------------- fills


def test_next_open_fill() -> None:
    # LONG at bar 0 fills at open[1] = 102; EXIT at bar 2 fills at open[3] = 104.
    res = run(TREND, [L, N, X, N], fill="next_open")
    t = only_trade(res)
    assert (t.entry_idx, t.exit_idx, t.side, t.exit_reason) == (1, 3, 1, SIGNAL)
    # pnl = 10 * (104 - 102) = 20; ret = 20 / (10 * 102)
    check_trade(t, units=10, entry_price=102, exit_price=104, pnl=20, fees=0, ret=20 / 1020)
    # cash after entry 10000 - 1020 = 8980; marks 8980 + 10 * close
    assert res.equity == approx([10_000, 10_010, 10_030, 10_020])
    assert res.returns == approx([0.0, 0.001, 20 / 10_010, -10 / 10_030])
    assert res.position == approx([0, 10, 10, 0])
    assert res.exposure == [0, 1, 1, 0]  # held from open[1] up to open[3]
    check_books(res)


def test_close_fill() -> None:
    # LONG at bar 0 fills at close[0] = 100; EXIT at bar 2 fills at close[2] = 105.
    res = run(TREND, [L, N, X, N], fill="close")
    t = only_trade(res)
    assert (t.entry_idx, t.exit_idx, t.side, t.exit_reason) == (0, 2, 1, SIGNAL)
    check_trade(t, entry_price=100, exit_price=105, pnl=50, ret=50 / 1000)
    # cash after entry 9000; marks 9000 + 10 * close, then flat at 10050
    assert res.equity == approx([10_000, 10_030, 10_050, 10_050])
    assert res.position == approx([10, 10, 0, 0])
    assert res.exposure == [0, 1, 1, 0]  # held from close[0] up to close[2]
    check_books(res)


def test_reversal_is_two_fills_with_two_fees() -> None:
    bars: list[Bar] = [
        (99, 100, 98, 99.5),
        (100, 101, 99, 100.5),
        (110, 111, 108, 109),
        (106, 107, 104, 105),
    ]
    res = run(bars, [L, S, N, N], commission=0.001, commission_fixed=1.0)
    long_, short = res.trades
    # Long at open[1] = 100: fee 10*100*0.001 + 1 = 2 -> cash 10000 - 1000 - 2 = 8998.
    # Exit at open[2] = 110: cash + 1100 - (1.1 + 1) = 10095.9; pnl 100, fees 4.1.
    assert (long_.entry_idx, long_.exit_idx, long_.side, long_.exit_reason) == (1, 2, 1, SIGNAL)
    check_trade(long_, entry_price=100, exit_price=110, pnl=100, fees=4.1, ret=95.9 / 1000)
    # Short at the same open[2] = 110: cash + 1100 - 2.1 = 11193.8.
    # END at close[3] = 105: cash - 1050 - (1.05 + 1) = 10141.75; pnl -10*(105-110) = 50.
    assert (short.entry_idx, short.exit_idx, short.side, short.exit_reason) == (2, 3, -1, END)
    check_trade(short, units=10, entry_price=110, exit_price=105, pnl=50, fees=4.15)
    check_trade(short, ret=45.85 / 1100)
    # equity[1] = 8998 + 10*100.5; equity[2] = 11193.8 - 10*109
    assert res.equity == approx([10_000, 10_003, 10_103.8, 10_141.75])
    assert res.position == approx([0, 10, -10, -10])
    assert res.final_equity == approx(10_141.75)
    check_books(res)


def test_reversal_with_close_fill() -> None:
    # LONG at close[0] = 100, SHORT at close[1] = 103 (exit long + enter short), END 104.
    res = run(TREND, [L, S, N, N], fill="close")
    long_, short = res.trades
    assert (long_.entry_idx, long_.exit_idx, long_.exit_reason) == (0, 1, SIGNAL)
    assert (short.entry_idx, short.exit_idx, short.side, short.exit_reason) == (1, 3, -1, END)
    check_trade(long_, pnl=30)
    check_trade(short, entry_price=103, exit_price=104, pnl=-10)
    assert res.position == approx([10, -10, -10, -10])


# -------------------------------------------------------------------------- sizing

FLAT: list[Bar] = [(100, 100, 100, 100)] * 3


def test_fraction_sizing() -> None:
    # units = (0.5 * 10000 - 5) / (100 * 1.001) = 4995 / 100.1; spends exactly 5000.
    res = run(
        FLAT,
        [L, N, N],
        fill="close",
        sizing="fraction",
        size=0.5,
        commission=0.001,
        commission_fixed=5.0,
    )
    t = only_trade(res)
    check_trade(t, units=4995 / 100.1)
    entry_fee = t.units * 100 * 0.001 + 5
    assert t.units * 100 + entry_fee == approx(5_000)
    assert res.equity[0] == approx(10_000 - entry_fee)


def test_fraction_sizing_whole_units() -> None:
    # 4995 / 100.1 = 49.90... -> 49 units.
    res = run(
        FLAT,
        [L, N, N],
        fill="close",
        sizing="fraction",
        size=0.5,
        commission=0.001,
        commission_fixed=5.0,
        whole_units=True,
    )
    check_trade(only_trade(res), units=49, fees=2 * (49 * 100 * 0.001 + 5))


def test_fraction_sizing_uses_fill_price_after_slippage() -> None:
    # next_open, slippage 100 bps: fill = 100 * 1.01 = 101 -> units = 10000 / 101.
    res = run(FLAT, [L, N, N], sizing="fraction", size=1.0, slippage_bps=100.0)
    check_trade(only_trade(res), units=10_000 / 101, entry_price=101)


def test_fraction_sizing_with_no_money_left_opens_nothing() -> None:
    # 0.5 * 10000 - 6000 < 0 -> units <= 0 -> no position.
    res = run(FLAT, [L, N, N], sizing="fraction", size=0.5, commission_fixed=6000.0)
    assert res.trades == []
    assert res.equity == approx([10_000] * 3)


def test_units_sizing_is_not_rounded() -> None:
    # Reading: whole_units applies to fraction and risk only.
    res = run(FLAT, [L, N, N], size=7.5, whole_units=True)
    check_trade(only_trade(res), units=7.5)


@pytest.mark.parametrize(
    ("size", "max_leverage", "units"),
    [
        (0.01, 1.0, 20.0),  # 0.01 * 10000 / (100 * 0.05) = 20; notional 2000 <= 10000
        (0.1, 1.0, 100.0),  # 200 units = notional 20000 > 1 * 10000 -> capped at 100
        (0.1, 1.5, 150.0),  # capped at 1.5 * 10000 / 100
        (0.1, 3.0, 200.0),  # cap 300 not binding
    ],
)
def test_risk_sizing(size: float, max_leverage: float, units: float) -> None:
    res = run(
        FLAT,
        [L, N, N],
        fill="close",
        sizing="risk",
        size=size,
        stop_loss=0.05,
        max_leverage=max_leverage,
    )
    check_trade(only_trade(res), units=units)


def test_risk_sizing_whole_units() -> None:
    # 0.01 * 10000 / (30 * 0.05) = 66.67 -> 66 (66.67 without rounding).
    bars: list[Bar] = [(30, 30, 30, 30)] * 3
    kw: dict[str, Any] = {"fill": "close", "sizing": "risk", "size": 0.01, "stop_loss": 0.05}
    check_trade(only_trade(run(bars, [L, N, N], **kw)), units=100 / 1.5)
    check_trade(only_trade(run(bars, [L, N, N], whole_units=True, **kw)), units=66)


def test_risk_sizing_uses_fill_price_after_slippage() -> None:
    # fill = 101 -> units = 100 / (101 * 0.05)
    res = run(FLAT, [L, N, N], sizing="risk", size=0.01, stop_loss=0.05, slippage_bps=100.0)
    check_trade(only_trade(res), units=100 / (101 * 0.05))


def test_no_entry_while_equity_is_not_positive() -> None:
    # Short 100 units at close[0] = 100 (cash 20000); EXIT at close[1] = 250: cash -5000.
    # LONG at bar 2: equity -5000 <= 0 -> nothing opens.
    bars: list[Bar] = [(100, 100, 100, 100), *[(250, 250, 250, 250)] * 3]
    res = run(bars, [S, X, L, N], fill="close", size=100.0)
    t = only_trade(res)
    check_trade(t, pnl=-15_000)
    assert res.final_equity == approx(-5_000)
    assert res.returns == approx([0.0, -1.5, 0.0, 0.0])


# ----------------------------------------------------------------- stops & targets


def stop_bars(bar2: Bar) -> list[Bar]:
    """Entry at open[1] = 100 (next_open, LONG/SHORT at bar 0); ``bar2`` decides."""
    return [(100, 100, 100, 100), (100, 101, 99, 100), bar2, (80, 81, 79, 80)]


def test_stop_loss_hit_intrabar() -> None:
    # stop = 100 * 0.75 = 75; bar 2 opens at 90 (above), low 70 touches -> exit at 75.
    res = run(stop_bars((90, 95, 70, 80)), [L, N, N, N], stop_loss=0.25)
    t = only_trade(res)
    assert (t.entry_idx, t.exit_idx, t.exit_reason) == (1, 2, STOP_LOSS)
    check_trade(t, exit_price=75, pnl=-250)
    assert res.position == approx([0, 10, 0, 0])
    assert res.exposure == [0, 1, 1, 0]


def test_stop_loss_fill_has_slippage() -> None:
    # entry 100 * 1.01 = 101; stop 101 * 0.75 = 75.75; exit 75.75 * 0.99 = 74.9925.
    res = run(stop_bars((90, 95, 70, 80)), [L, N, N, N], stop_loss=0.25, slippage_bps=100.0)
    check_trade(only_trade(res), entry_price=101, exit_price=74.9925, pnl=10 * (74.9925 - 101))


def test_gap_through_stop_fills_at_open() -> None:
    # bar 2 opens at 60 <= 75 -> exit at open 60 (not at 75).
    res = run(stop_bars((60, 65, 55, 62)), [L, N, N, N], stop_loss=0.25)
    t = only_trade(res)
    assert (t.exit_idx, t.exit_reason) == (2, STOP_LOSS)
    check_trade(t, exit_price=60, pnl=-400)
    # With slippage: entry 101, exit 60 * 0.99 = 59.4.
    res = run(stop_bars((60, 65, 55, 62)), [L, N, N, N], stop_loss=0.25, slippage_bps=100.0)
    check_trade(only_trade(res), exit_price=59.4)


def test_take_profit_hit_intrabar_without_slippage() -> None:
    # target 100 * 1.5 = 150, high 160 touches -> exit at 150.
    res = run(stop_bars((120, 160, 110, 130)), [L, N, N, N], take_profit=0.5)
    t = only_trade(res)
    assert (t.exit_idx, t.exit_reason) == (2, TAKE_PROFIT)
    check_trade(t, exit_price=150, pnl=500)
    # With slippage: entry 101 -> target 151.5, filled exactly there (limit order).
    res = run(stop_bars((120, 160, 110, 130)), [L, N, N, N], take_profit=0.5, slippage_bps=100.0)
    check_trade(only_trade(res), entry_price=101, exit_price=151.5)


def test_gap_through_take_profit_fills_at_open_without_slippage() -> None:
    res = run(stop_bars((155, 160, 150, 158)), [L, N, N, N], take_profit=0.5, slippage_bps=50.0)
    t = only_trade(res)
    assert (t.exit_idx, t.exit_reason) == (2, TAKE_PROFIT)
    check_trade(t, exit_price=155)


def test_stop_and_target_in_one_bar_stop_wins() -> None:
    # stop 75 and target 150 both inside [70, 160] -> stop first.
    res = run(stop_bars((100, 160, 70, 100)), [L, N, N, N], stop_loss=0.25, take_profit=0.5)
    t = only_trade(res)
    assert t.exit_reason == STOP_LOSS
    check_trade(t, exit_price=75)


def test_short_stop_and_target() -> None:
    # Short at 100: stop 125, target 50.
    res = run(stop_bars((110, 130, 105, 120)), [S, N, N, N], stop_loss=0.25, take_profit=0.5)
    t = only_trade(res)
    assert (t.side, t.exit_idx, t.exit_reason) == (-1, 2, STOP_LOSS)
    check_trade(t, exit_price=125, pnl=-250)
    res = run(stop_bars((60, 70, 40, 50)), [S, N, N, N], stop_loss=0.25, take_profit=0.5)
    t = only_trade(res)
    assert (t.exit_idx, t.exit_reason) == (2, TAKE_PROFIT)
    check_trade(t, exit_price=50, pnl=500)
    # Gap through the stop: open 140 >= 125 -> exit at open, +1% slippage: 141.4.
    res = run(stop_bars((140, 150, 135, 145)), [S, N, N, N], stop_loss=0.25, slippage_bps=100.0)
    check_trade(only_trade(res), entry_price=99, exit_price=141.4)


def test_position_opened_at_open_is_checked_in_the_same_bar() -> None:
    # Entry at open[1] = 100, stop 75, bar 1 low 70 -> out at 75 in bar 1; no holding cost.
    bars: list[Bar] = [(100, 100, 100, 100), (100, 101, 70, 90), (90, 91, 89, 90)]
    res = run(bars, [L, N, N], stop_loss=0.25, holding_cost=0.01)
    t = only_trade(res)
    assert (t.entry_idx, t.exit_idx, t.exit_reason) == (1, 1, STOP_LOSS)
    check_trade(t, exit_price=75, fees=0)
    assert res.position == approx([0, 0, 0])
    assert res.exposure == [0, 1, 0]


def test_position_opened_at_open_has_no_gap_rule() -> None:
    # Slippage 30% makes the entry 130 and the stop 130 * 0.9 = 117 > open 100. Without a
    # gap rule the touch check (low 99 <= 117) exits at the level: 117 * 0.7 = 81.9.
    bars: list[Bar] = [(100, 100, 100, 100), (100, 101, 99, 100), (100, 100, 100, 100)]
    res = run(bars, [L, N, N], stop_loss=0.1, slippage_bps=3000.0)
    t = only_trade(res)
    assert (t.entry_idx, t.exit_idx, t.exit_reason) == (1, 1, STOP_LOSS)
    check_trade(t, entry_price=130, exit_price=117 * 0.7)


def test_close_fill_stop_gap_next_bar() -> None:
    # fill close: entry at close[0] = 100, stop 75; bar 1 opens at 70 -> exit at 70.
    bars: list[Bar] = [(100, 100, 100, 100), (70, 72, 65, 71), (71, 72, 70, 71)]
    res = run(bars, [L, N, N], fill="close", stop_loss=0.25)
    t = only_trade(res)
    assert (t.entry_idx, t.exit_idx, t.exit_reason) == (0, 1, STOP_LOSS)
    check_trade(t, exit_price=70)


def test_close_fill_stopped_out_then_signal_reenters_at_close() -> None:
    # Stopped at 75 in bar 1, LONG of bar 1 re-enters at close[1] = 90, END at close[2].
    bars: list[Bar] = [(100, 100, 100, 100), (90, 95, 70, 90), (91, 92, 90, 91)]
    res = run(bars, [L, L, N], fill="close", stop_loss=0.25)
    first, second = res.trades
    assert (first.exit_idx, first.exit_reason) == (1, STOP_LOSS)
    assert (second.entry_idx, second.exit_idx, second.exit_reason) == (1, 2, END)
    check_trade(second, entry_price=90, exit_price=91)


# ------------------------------------------------------------------ trailing stop

TRAIL: list[Bar] = [
    (100, 100, 100, 100),
    (100, 120, 95, 110),  # level 100 * 0.75 = 75; then extreme 120
    (115, 140, 100, 130),  # level 120 * 0.75 = 90; then extreme 140
    (130, 132, 104, 110),  # level 140 * 0.75 = 105; low 104 touches
    (110, 111, 109, 110),
]


def test_trailing_stop() -> None:
    res = run(TRAIL, [L, N, N, N, N], trailing_stop=0.25)
    t = only_trade(res)
    assert (t.entry_idx, t.exit_idx, t.exit_reason) == (1, 3, TRAILING_STOP)
    check_trade(t, exit_price=105, pnl=50)


def test_trailing_tighter_than_stop_loss_is_the_reason() -> None:
    # stop-loss 87.5 is tighter in bar 1 (87.5 > 75) but not touched; bar 3 trail 105 wins.
    res = run(TRAIL, [L, N, N, N, N], trailing_stop=0.25, stop_loss=0.125)
    t = only_trade(res)
    assert (t.exit_idx, t.exit_reason) == (3, TRAILING_STOP)
    check_trade(t, exit_price=105)


def test_trailing_and_stop_loss_tie_counts_as_stop_loss() -> None:
    # Both levels are 75 in bar 1 (extreme = entry price 100); low 70 touches.
    bars = [TRAIL[0], (100, 120, 70, 110), *TRAIL[2:]]
    res = run(bars, [L, N, N, N, N], trailing_stop=0.25, stop_loss=0.25)
    t = only_trade(res)
    assert (t.entry_idx, t.exit_idx, t.exit_reason) == (1, 1, STOP_LOSS)
    check_trade(t, exit_price=75)


def test_trailing_stop_gap_fills_at_open() -> None:
    # Bar 3 opens at 100 <= 105 -> exit at 100.
    bars = [*TRAIL[:3], (100, 101, 95, 98), TRAIL[4]]
    res = run(bars, [L, N, N, N, N], trailing_stop=0.25)
    t = only_trade(res)
    assert (t.exit_idx, t.exit_reason) == (3, TRAILING_STOP)
    check_trade(t, exit_price=100)


def test_trailing_stop_short() -> None:
    bars: list[Bar] = [
        (100, 100, 100, 100),
        (100, 105, 80, 90),  # level 125; extreme 80
        (85, 88, 60, 70),  # level 100; extreme 60
        (72, 76, 70, 75),  # level 75; open 72 below, high 76 touches
        (75, 76, 74, 75),
    ]
    res = run(bars, [S, N, N, N, N], trailing_stop=0.25)
    t = only_trade(res)
    assert (t.side, t.exit_idx, t.exit_reason) == (-1, 3, TRAILING_STOP)
    check_trade(t, exit_price=75, pnl=250)


def test_trailing_extreme_starts_at_entry_price_for_close_fill() -> None:
    # fill close: entry at close[0] = 100. The high of bar 0 (150) happened before the
    # entry, so bar 1's level is 100 * 0.75 = 75 (not 112.5): low 80 does not touch.
    bars: list[Bar] = [(120, 150, 95, 100), (100, 101, 80, 90), (90, 91, 89, 90)]
    res = run(bars, [L, N, N], fill="close", trailing_stop=0.25)
    assert only_trade(res).exit_reason == END


# ----------------------------------------------------------------------- max_bars

STEPS: list[Bar] = [(100 + k, 101 + k, 99 + k, 100 + k) for k in range(5)]


def test_max_bars_next_open() -> None:
    # Entry open[1] = 101; held at closes 1 and 2 -> exit at open[3] = 103.
    res = run(STEPS, [L, N, N, N, N], max_bars=2)
    t = only_trade(res)
    assert (t.entry_idx, t.exit_idx, t.exit_reason) == (1, 3, MAX_BARS)
    check_trade(t, entry_price=101, exit_price=103, pnl=20)


def test_max_bars_close() -> None:
    # Entry close[0] = 100; held through bars 1 and 2 -> exit at close[2] = 102.
    res = run(STEPS, [L, N, N, N, N], fill="close", max_bars=2)
    t = only_trade(res)
    assert (t.entry_idx, t.exit_idx, t.exit_reason) == (0, 2, MAX_BARS)
    check_trade(t, exit_price=102, pnl=20)


def test_max_bars_then_same_bar_signal_reenters() -> None:
    # Reading: the max_bars exit executes first, then the signal sees a flat book.
    res = run(STEPS, [L, N, L, N, N], max_bars=2)
    first, second = res.trades
    assert (first.entry_idx, first.exit_idx, first.exit_reason) == (1, 3, MAX_BARS)
    # Re-entered at open[3]; its own max_bars exit would be at open[5] (none) -> END.
    assert (second.entry_idx, second.exit_idx, second.exit_reason) == (3, 4, END)
    check_trade(second, entry_price=103, exit_price=104)
    # fill close: exit at close[2] (MAX_BARS), re-enter at close[2]; its max_bars exit is
    # due at close[4], the last bar, and executes there as MAX_BARS.
    res = run(STEPS, [L, N, L, N, N], fill="close", max_bars=2)
    first, second = res.trades
    assert (first.exit_idx, first.exit_reason) == (2, MAX_BARS)
    assert (second.entry_idx, second.exit_idx, second.exit_reason) == (2, 4, MAX_BARS)


def test_max_bars_one() -> None:
    res = run(STEPS, [L, N, N, N, N], max_bars=1)
    t = only_trade(res)
    assert (t.entry_idx, t.exit_idx, t.exit_reason) == (1, 2, MAX_BARS)


# -------------------------------------------------------------------- holding cost

CARRY: list[Bar] = [
    (100, 100, 100, 100),
    (100, 111, 99, 110),
    (110, 121, 109, 120),
    (120, 121, 119, 120),
]


def test_holding_cost_next_open() -> None:
    # Entry open[1] = 100, exit open[3] = 120; charged at closes 1 and 2:
    # 10 * 110 * 0.001 = 1.1 and 10 * 120 * 0.001 = 1.2.
    res = run(CARRY, [L, N, X, N], holding_cost=0.001)
    t = only_trade(res)
    check_trade(t, pnl=200, fees=2.3, ret=197.7 / 1000)
    assert res.equity == approx([10_000, 10_098.9, 10_197.7, 10_197.7])
    check_books(res)


def test_holding_cost_is_a_cost_for_shorts_too() -> None:
    res = run(CARRY, [S, N, X, N], holding_cost=0.001)
    check_trade(only_trade(res), pnl=-200, fees=2.3)


def test_holding_cost_close_fill() -> None:
    # Entry close[0] = 100 (no charge in bar 0); charged at closes 1 and 2 before the
    # EXIT of bar 2 fills at close[2] = 120.
    res = run(CARRY, [L, N, X, N], fill="close", holding_cost=0.001)
    check_trade(only_trade(res), pnl=200, fees=2.3)


# ----------------------------------------------------------- slippage, END, last bar

SLIP: list[Bar] = [(100, 100, 100, 100), (100, 111, 99, 110), (110, 111, 109, 110)]


def test_slippage_moves_fills_against_the_trader() -> None:
    # Long: buy at 100 * 1.01 = 101, sell at 110 * 0.99 = 108.9.
    t = only_trade(run(SLIP, [L, X, N], slippage_bps=100.0))
    check_trade(t, entry_price=101, exit_price=108.9, pnl=79)
    # Short: sell at 100 * 0.99 = 99, buy back at 110 * 1.01 = 111.1.
    t = only_trade(run(SLIP, [S, X, N], slippage_bps=100.0))
    check_trade(t, entry_price=99, exit_price=111.1, pnl=-121)


def test_end_exit_at_last_close_with_slippage_and_fees() -> None:
    res = run(SLIP, [L, N, N], slippage_bps=100.0, commission=0.001)
    t = only_trade(res)
    assert (t.entry_idx, t.exit_idx, t.exit_reason) == (1, 2, END)
    # entry 101 (fee 1.01); exit 110 * 0.99 = 108.9 (fee 0.1089 * 10 = 1.089)
    check_trade(t, entry_price=101, exit_price=108.9, pnl=79, fees=2.099)
    assert res.position == approx([0, 10, 10])  # position before the END exit
    assert res.final_equity == approx(10_076.901)
    check_books(res)


def test_signal_on_last_bar_is_ignored() -> None:
    for fill in ("next_open", "close"):
        res = run(SLIP, [N, N, L], fill=fill)
        assert res.trades == []
        assert res.exposure == [0, 0, 0]
        assert res.equity == approx([10_000] * 3)


def test_close_fill_exit_signal_on_last_bar_executes() -> None:
    # Reading: with fill close only entries are suppressed on the last bar.
    res = run(SLIP, [L, N, X], fill="close")
    assert only_trade(res).exit_reason == SIGNAL
    res = run(SLIP, [L, N, S], fill="close")  # reversal: the exit half only
    assert [(t.side, t.exit_idx, t.exit_reason) for t in res.trades] == [(1, 2, SIGNAL)]
    assert only_trade(run(SLIP, [L, N, N], fill="close")).exit_reason == END


def test_next_open_entry_at_last_open_is_closed_at_end() -> None:
    res = run(SLIP, [N, L, N])
    t = only_trade(res)
    assert (t.entry_idx, t.exit_idx, t.exit_reason) == (2, 2, END)
    check_trade(t, entry_price=110, exit_price=110)


def test_exposure_counts_the_bars_a_position_is_held_through() -> None:
    # next_open: exits at the open (signal, max_bars) do not expose the exit bar ...
    assert run(STEPS, [L, N, X, N, N]).exposure == [0, 1, 1, 0, 0]
    assert run(STEPS, [L, N, N, N, N], max_bars=2).exposure == [0, 1, 1, 0, 0]
    # ... a stop at the gapped open, an intrabar stop and END do.
    assert run(stop_bars((60, 65, 55, 62)), [L, N, N, N], stop_loss=0.25).exposure == [0, 1, 1, 0]
    assert run(STEPS, [N, N, L, N, N]).exposure == [0, 0, 0, 1, 1]
    # fill close: the entry bar is not exposed, the exit bar is.
    assert run(STEPS, [L, N, X, N, N], fill="close").exposure == [0, 1, 1, 0, 0]
    assert run(STEPS, [N, N, N, L, N], fill="close").exposure == [0, 0, 0, 0, 1]


# ---------------------------------------------------------------- signals/direction


def test_repeated_long_is_ignored() -> None:
    res = run(STEPS, [L, L, L, N, N])
    t = only_trade(res)
    assert (t.entry_idx, t.exit_idx, t.exit_reason) == (1, 4, END)


def test_exit_long_and_exit_short_only_close_their_side() -> None:
    res = run(STEPS, [L, EXIT_SHORT, N, N, N])
    assert only_trade(res).exit_reason == END
    res = run(STEPS, [L, EXIT_LONG, N, N, N])
    assert (only_trade(res).exit_idx, only_trade(res).exit_reason) == (2, SIGNAL)
    res = run(STEPS, [S, EXIT_LONG, N, N, N])
    assert only_trade(res).exit_reason == END
    res = run(STEPS, [S, EXIT_SHORT, N, N, N])
    assert only_trade(res).exit_idx == 2


@pytest.mark.parametrize(
    ("direction", "signals", "expected"),
    [
        # both: long 1 -> 3 (reversed), short 3 -> 4 (END)
        ("both", [L, N, S, N, N], [(1, 1, 3, SIGNAL), (-1, 3, 4, END)]),
        # long: SHORT becomes EXIT_LONG
        ("long", [L, N, S, N, N], [(1, 1, 3, SIGNAL)]),
        # short: LONG becomes EXIT_SHORT (ignored while flat)
        ("short", [L, N, S, N, N], [(-1, 3, 4, END)]),
        ("short", [S, N, L, N, N], [(-1, 1, 3, SIGNAL)]),
        ("long", [S, N, L, N, N], [(1, 3, 4, END)]),
    ],
)
def test_direction_filter(
    direction: str, signals: list[int], expected: list[tuple[int, int, int, int]]
) -> None:
    res = run(STEPS, signals, direction=direction)
    got = [(t.side, t.entry_idx, t.exit_idx, t.exit_reason) for t in res.trades]
    assert got == expected

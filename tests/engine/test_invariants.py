"""Properties every backtest must have, checked on random runs.

They are checked on the compiled engine and, as a cross-check of the tests
themselves, on the reference simulator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from stratopt.engine import ExecSettings, simulate
from tests.engine import reference as ref
from tests.engine._random import (
    EXIT_RULES,
    SIZINGS,
    Bars,
    random_bars,
    random_settings_kwargs,
    random_signals,
)

RTOL = 1e-9
N_RUNS = 150


@dataclass(frozen=True)
class Run:
    """Outputs of one simulation in a common form."""

    equity: np.ndarray
    returns: np.ndarray
    position: np.ndarray
    exposure: np.ndarray
    trades: list[ref.RefTrade]
    final_equity: float


Simulator = Callable[[Bars, np.ndarray, dict[str, Any]], Run]


def _engine(bars: Bars, signals: np.ndarray, kw: dict[str, Any]) -> Run:
    res = simulate(bars.open, bars.high, bars.low, bars.close, signals, ExecSettings(**kw))
    trades = [
        ref.RefTrade(
            entry_idx=int(t["entry_idx"]),
            exit_idx=int(t["exit_idx"]),
            side=int(t["side"]),
            units=float(t["units"]),
            entry_price=float(t["entry_price"]),
            exit_price=float(t["exit_price"]),
            pnl=float(t["pnl"]),
            fees=float(t["fees"]),
            ret=float(t["ret"]),
            exit_reason=int(t["exit_reason"]),
        )
        for t in res.trades
    ]
    return Run(
        equity=np.asarray(res.equity, dtype=np.float64),
        returns=np.asarray(res.returns, dtype=np.float64),
        position=np.asarray(res.position, dtype=np.float64),
        exposure=np.asarray(res.exposure, dtype=np.float64),
        trades=trades,
        final_equity=float(res.final_equity),
    )


def _reference(bars: Bars, signals: np.ndarray, kw: dict[str, Any]) -> Run:
    res = ref.simulate_reference(
        bars.open, bars.high, bars.low, bars.close, signals, ref.RefSettings(**kw)
    )
    return Run(
        equity=np.array(res.equity),
        returns=np.array(res.returns),
        position=np.array(res.position),
        exposure=np.array(res.exposure, dtype=np.float64),
        trades=res.trades,
        final_equity=res.final_equity,
    )


@pytest.fixture(params=["engine", "reference"])
def sim(request: pytest.FixtureRequest) -> Simulator:
    return _engine if request.param == "engine" else _reference


def random_case(rng: np.random.Generator) -> tuple[Bars, np.ndarray, dict[str, Any]]:
    """One random run: any fill, direction, sizing and exit rules."""
    n = int(rng.integers(30, 250))
    grid = rng.random() < 0.25
    bars = random_bars(rng, n, grid=grid)
    signals = random_signals(rng, n)
    kw = random_settings_kwargs(
        rng,
        fill=str(rng.choice(["next_open", "close"])),
        direction=str(rng.choice(["both", "long", "short"])),
        sizing=str(rng.choice(SIZINGS)),
        exits=str(rng.choice(EXIT_RULES)),
        grid=grid,
    )
    return bars, signals, kw


def cases(seed: int, count: int) -> list[tuple[Bars, np.ndarray, dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    return [random_case(rng) for _ in range(count)]


def close(a: float, b: float, scale: float) -> bool:
    return math.isclose(a, b, rel_tol=RTOL, abs_tol=RTOL * scale)


def effective(code: int, direction: str) -> int:
    """A signal code after the ``direction`` filter."""
    if direction == "long" and code == ref.SHORT:
        return ref.EXIT_LONG
    if direction == "short" and code == ref.LONG:
        return ref.EXIT_SHORT
    return code


def slipped(price: float, buy: bool, bps: float) -> float:
    return price * (1 + bps / 1e4) if buy else price * (1 - bps / 1e4)


def held_bars(t: ref.RefTrade, n: int) -> range:
    """Bars whose close the trade's position is held at (``position`` output).

    ``entry_idx <= j < exit_idx``, plus the last bar for a trade closed by ``END``
    (``position`` is taken before the END exit).
    """
    stop = t.exit_idx + 1 if t.exit_reason == ref.END else t.exit_idx
    return range(t.entry_idx, min(stop, n))


# ------------------------------------------------------------------------ books


def test_books_balance(sim: Simulator) -> None:
    for k, (bars, signals, kw) in enumerate(cases(1, N_RUNS)):
        run = sim(bars, signals, kw)
        cash = kw["cash"]
        net = sum(t.pnl - t.fees for t in run.trades)
        assert close(run.final_equity, cash + net, cash), (k, kw)
        assert close(float(run.equity[-1]), run.final_equity, cash), (k, kw)
        prev = np.concatenate([[cash], run.equity[:-1]])
        ok = prev != 0
        assert np.allclose(run.returns[ok], run.equity[ok] / prev[ok] - 1, rtol=0, atol=1e-12)


def test_trade_records_are_consistent(sim: Simulator) -> None:
    for k, (bars, signals, kw) in enumerate(cases(2, N_RUNS)):
        run = sim(bars, signals, kw)
        n = len(bars)
        previous_exit = -1
        for t in run.trades:
            ctx = (k, t, kw)
            notional = t.units * t.entry_price
            assert t.side in (1, -1), ctx
            assert t.units > 0, ctx
            assert kw["sizing"] == "units" or not kw["whole_units"] or t.units == int(t.units)
            assert 0 <= t.entry_idx <= t.exit_idx < n, ctx
            assert t.entry_idx >= previous_exit, ctx  # one position at a time
            previous_exit = t.exit_idx
            assert close(t.pnl, t.side * t.units * (t.exit_price - t.entry_price), notional), ctx
            assert close(t.ret, (t.pnl - t.fees) / notional, 1.0), ctx
            fills = t.units * (t.entry_price + t.exit_price) * kw["commission"]
            fills += 2 * kw["commission_fixed"]
            assert t.fees >= fills * (1 - RTOL) - RTOL, ctx
            if kw["holding_cost"] == 0.0:
                assert close(t.fees, fills, notional), ctx
            assert t.exit_reason in range(6), ctx


def test_position_matches_trades(sim: Simulator) -> None:
    """position[j] is the open trade's signed units on exactly the bars it is held."""
    for k, (bars, signals, kw) in enumerate(cases(3, N_RUNS)):
        run = sim(bars, signals, kw)
        n = len(bars)
        expected = np.zeros(n)
        for t in run.trades:
            for j in held_bars(t, n):
                assert expected[j] == 0.0, (k, j, "two trades held at one close")
                expected[j] = t.side * t.units
        assert np.allclose(run.position, expected, rtol=RTOL, atol=0), (k, kw)
        assert set(np.unique(run.exposure).tolist()) <= {0.0, 1.0}
        if kw["fill"] == "close":  # exposed = held coming into the bar
            held_before = np.concatenate([[0.0], run.position[:-1]]) != 0
            assert np.array_equal(run.exposure == 1, held_before), (k, kw)
        else:  # nothing opens after the open fills
            assert np.all(run.exposure[run.position != 0] == 1), (k, kw)


def test_exposure_is_the_span_of_the_trades(sim: Simulator) -> None:
    """exposure[j] == 1 iff a position is held during bar j proper (see reference.py).

    next_open: ``entry_idx <= j < exit_idx``, and ``j == exit_idx`` if the exit came
    after the open's market fills (stop, target, END). close: ``entry_idx < j <= exit_idx``.
    """
    after_open = (ref.STOP_LOSS, ref.TAKE_PROFIT, ref.TRAILING_STOP, ref.END)
    for k, (bars, signals, kw) in enumerate(cases(4, N_RUNS)):
        run = sim(bars, signals, kw)
        expected = np.zeros(len(bars))
        for t in run.trades:
            if kw["fill"] == "next_open":
                expected[t.entry_idx : t.exit_idx] = 1.0
                if t.exit_reason in after_open:
                    expected[t.exit_idx] = 1.0
            else:
                expected[t.entry_idx + 1 : t.exit_idx + 1] = 1.0
        assert np.array_equal(run.exposure, expected), (k, kw)


def test_equity_marks_open_trades_to_market(sim: Simulator) -> None:
    """Without holding costs, equity[j] = cash + closed net pnl + open trade's mark."""
    for k, (bars, signals, kw) in enumerate(cases(5, N_RUNS)):
        kw = {**kw, "holding_cost": 0.0}
        run = sim(bars, signals, kw)
        n = len(bars)
        cash = kw["cash"]
        expected = np.full(n, cash)
        for t in run.trades:
            expected[t.exit_idx :] += t.pnl - t.fees
            for j in held_bars(t, n):
                if j == t.exit_idx:  # END: already closed at this close
                    continue
                entry_fee = t.units * t.entry_price * kw["commission"] + kw["commission_fixed"]
                expected[j] += t.side * t.units * (bars.close[j] - t.entry_price) - entry_fee
        assert np.allclose(run.equity, expected, rtol=RTOL, atol=RTOL * cash), (k, kw)


# --------------------------------------------------------------- causes of fills


def test_every_fill_has_a_cause(sim: Simulator) -> None:
    """Entries follow a signal of that side, exits the rule their reason names."""
    for k, (bars, signals, kw) in enumerate(cases(6, N_RUNS)):
        run = sim(bars, signals, kw)
        n = len(bars)
        lag = 1 if kw["fill"] == "next_open" else 0  # signal bar = fill bar - lag
        bps = kw["slippage_bps"]
        for t in run.trades:
            ctx = (k, t, kw)
            # Entry: a LONG/SHORT of this side at the signal bar, filled at its price.
            assert t.entry_idx - lag >= 0, ctx
            assert effective(int(signals[t.entry_idx - lag]), kw["direction"]) == t.side, ctx
            market = bars.open if lag else bars.close
            entry = slipped(float(market[t.entry_idx]), t.side == 1, bps)
            assert close(t.entry_price, entry, 0.0), ctx
            assert kw["fill"] == "next_open" or t.entry_idx < n - 1, ctx
            # Exit.
            sell = t.side == 1
            if t.exit_reason == ref.SIGNAL:
                code = effective(int(signals[t.exit_idx - lag]), kw["direction"])
                closing = (ref.EXIT, -t.side, ref.EXIT_LONG if sell else ref.EXIT_SHORT)
                assert code in closing, ctx
                assert close(t.exit_price, slipped(float(market[t.exit_idx]), not sell, bps), 0)
            elif t.exit_reason == ref.END:
                assert t.exit_idx == n - 1, ctx
                assert close(t.exit_price, slipped(float(bars.close[-1]), not sell, bps), 0)
            elif t.exit_reason == ref.MAX_BARS:
                assert t.exit_idx - t.entry_idx == kw["max_bars"], ctx
                assert close(t.exit_price, slipped(float(market[t.exit_idx]), not sell, bps), 0)
            elif t.exit_reason == ref.STOP_LOSS:
                level = t.entry_price * (1 - t.side * kw["stop_loss"])
                assert t.side * (t.exit_price - level) <= RTOL * level, ctx
            elif t.exit_reason == ref.TAKE_PROFIT:
                level = t.entry_price * (1 + t.side * kw["take_profit"])
                assert t.side * (t.exit_price - level) >= -RTOL * level, ctx
            elif t.exit_reason == ref.TRAILING_STOP:
                assert kw.get("trailing_stop") is not None, ctx
            if t.exit_reason in (ref.STOP_LOSS, ref.TAKE_PROFIT, ref.TRAILING_STOP):
                # Filled within the bar's range, or beyond it by the slippage only.
                j = t.exit_idx
                lo = slipped(float(bars.low[j]), False, bps)
                hi = slipped(float(bars.high[j]), True, bps)
                assert lo * (1 - RTOL) <= t.exit_price <= hi * (1 + RTOL), ctx


@pytest.mark.parametrize("fill", ["next_open", "close"])
@pytest.mark.parametrize("side", [1, -1])
def test_single_signal_fills_at_the_right_bar(sim: Simulator, fill: str, side: int) -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        n = int(rng.integers(5, 60))
        bars = random_bars(rng, n)
        k = int(rng.integers(0, n - 1))  # not the last bar
        signals = np.zeros(n, dtype=np.int8)
        signals[k] = side
        bps = float(rng.uniform(0, 20))
        kw = {"fill": fill, "slippage_bps": bps, "cash": 10_000.0}
        run = sim(bars, signals, kw)
        assert len(run.trades) == 1
        t = run.trades[0]
        if fill == "next_open":
            assert (t.entry_idx, t.side) == (k + 1, side)
            assert close(t.entry_price, slipped(float(bars.open[k + 1]), side == 1, bps), 0)
            assert np.all(run.position[: k + 1] == 0)
        else:
            assert (t.entry_idx, t.side) == (k, side)
            assert close(t.entry_price, slipped(float(bars.close[k]), side == 1, bps), 0)
            assert np.all(run.position[:k] == 0)
            assert run.position[k] != 0
        assert np.all(run.equity[:k] == kw["cash"])
        assert (t.exit_idx, t.exit_reason) == (n - 1, ref.END)


def test_no_look_ahead(sim: Simulator) -> None:
    """Changing prices and signals from bar k on never changes anything before bar k."""
    rng = np.random.default_rng(8)
    for case, (bars, signals, kw) in enumerate(cases(9, N_RUNS)):
        n = len(bars)
        k = int(rng.integers(1, n))
        other = random_bars(rng, n, grid=bool(rng.random() < 0.3))
        future = Bars(
            *(
                np.concatenate([getattr(bars, f)[:k], getattr(other, f)[k:]])
                for f in ("open", "high", "low", "close")
            )
        )
        future_signals = np.concatenate([signals[:k], random_signals(rng, n)[k:]])
        a = sim(bars, signals, kw)
        b = sim(future, future_signals, kw)
        ctx = (case, k, kw)
        for name in ("equity", "returns", "position", "exposure"):
            assert np.array_equal(getattr(a, name)[:k], getattr(b, name)[:k]), (name, *ctx)
        done_a = [t for t in a.trades if t.exit_idx < k]
        done_b = [t for t in b.trades if t.exit_idx < k]
        assert done_a == done_b, ctx
        started_a = [(t.entry_idx, t.side, t.units, t.entry_price) for t in a.trades]
        started_b = [(t.entry_idx, t.side, t.units, t.entry_price) for t in b.trades]
        assert [s for s in started_a if s[0] < k] == [s for s in started_b if s[0] < k], ctx

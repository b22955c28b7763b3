"""Peer parity with backtesting.py 0.6.6 (see docs/parity.md).

backtesting.py's README example (SmaCross 10/20 on GOOG daily, always in the market,
cash 10 000, commission 0.2% per side, market orders at the next open, whole units,
`exclusive_orders=True`) is run here with backtesting.py itself and with stratopt through
`examples/backtesting_py_parity.yaml`, on the README case and on other SMA windows, date
windows of GOOG and EURUSD hourly (both files ship with backtesting.py). For every case:

* the same trades: count, entry and exit bars, entry and exit prices, sizes and sides,
  commissions, net P&L and returns;
* the same equity curve at every bar's close, except the last bar;
* final equity within 0.5%, and the whole remaining difference reconciled to the cent:
  backtesting.py leaves the last trade open (marked at the last close, no exit
  commission) where stratopt closes it at the last close and pays the exit commission.

The SMA-window cases are chosen free of exact SMA ties (checked); what happens at a tie
is tested separately (`test_parity_up_to_the_first_sma_tie`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import backtesting
import backtesting.backtesting as bt_engine
import numpy as np
import pandas as pd
import pytest
from backtesting import Backtest, Strategy
from backtesting.lib import crossover
from backtesting.test import EURUSD, GOOG, SMA

from stratopt.backtest import BacktestResult, backtest, backtest_study
from stratopt.config import load_study
from stratopt.data import Bars

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "examples" / "backtesting_py_parity.yaml"
DATA = {"GOOG": GOOG, "EURUSD": EURUSD}
CASH, COMMISSION = 10_000.0, 0.002
REL = 1e-9  # prices, sizes, P&L: equal up to float rounding


class SmaCross(Strategy):
    """backtesting.py's README strategy, verbatim."""

    n1 = 10
    n2 = 20

    def init(self) -> None:
        close = self.data.Close
        self.sma1 = self.I(SMA, close, self.n1)
        self.sma2 = self.I(SMA, close, self.n2)

    def next(self) -> None:
        if crossover(self.sma1, self.sma2):
            self.position.close()
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()
            self.sell()


class ReadmeSmaCross(Strategy):
    """The README's own wording: no `position.close()`; `exclusive_orders` closes instead."""

    def init(self) -> None:
        price = self.data.Close
        self.ma1 = self.I(SMA, price, 10)
        self.ma2 = self.I(SMA, price, 20)

    def next(self) -> None:
        if crossover(self.ma1, self.ma2):
            self.buy()
        elif crossover(self.ma2, self.ma1):
            self.sell()


@dataclass(frozen=True)
class Case:
    symbol: str
    n1: int = 10
    n2: int = 20
    start: str | None = None
    end: str | None = None

    @property
    def id(self) -> str:
        window = f"-{self.start or 'first'}..{self.end or 'last'}" if self.start or self.end else ""
        return f"{self.symbol}-{self.n1}/{self.n2}{window}"

    def frame(self) -> pd.DataFrame:
        return DATA[self.symbol].loc[self.start : self.end]

    def overrides(self) -> list[str]:
        out = [
            f"data.path=pkg://backtesting/test/{self.symbol}.csv",
            f"params.fast={self.n1}",
            f"params.slow={self.n2}",
        ]
        out += [f"data.start={self.start}"] if self.start else []
        out += [f"data.end={self.end}"] if self.end else []
        return out


README = Case("GOOG")
CASES = [
    README,
    Case("GOOG", 5, 30),
    Case("GOOG", 3, 8),
    Case("GOOG", 20, 50),
    Case("GOOG", 2, 3),  # ends flat: equity falls below one share, both skip the order
    Case("GOOG", 10, 20, "2006-01-01", "2009-12-31"),
    Case("GOOG", 10, 20, "2010-01-01"),
    Case("GOOG", 8, 21, "2005-06-01", "2011-06-30"),
    Case("GOOG", 15, 40, None, "2008-12-31"),
    Case("EURUSD", 10, 20),
    Case("EURUSD", 20, 50),
    Case("EURUSD", 50, 200),
    Case("EURUSD", 8, 21, "2017-06-01", "2017-10-31"),
    Case("EURUSD", 10, 20, "2017-11-01", "2018-02-28"),
    Case("EURUSD", 15, 40, "2017-05-01"),
]
# Cases whose SMAs tie exactly at some bar (see docs/parity.md, "SMA ties").
TIE_CASES = [
    Case("GOOG", 1, 2),
    Case("EURUSD", 5, 30),
    Case("EURUSD", 3, 8),
    Case("EURUSD", 5, 15, "2017-09-01", "2017-12-31"),
]


@pytest.fixture(autouse=True)
def _quiet_backtesting(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No tqdm progress bar and no warnings from backtesting.py."""
    monkeypatch.setattr(bt_engine, "_tqdm", lambda seq, **_: seq)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@dataclass(frozen=True)
class Peer:
    """One backtesting.py run: closed trades, still-open trades, equity."""

    closed: pd.DataFrame
    open: list[Any]
    final_equity: float
    equity: np.ndarray


def run_peer(
    case: Case, *, finalize_trades: bool = False, strategy: type[Strategy] = SmaCross
) -> Peer:
    bt = Backtest(
        case.frame(),
        strategy,
        cash=CASH,
        commission=COMMISSION,
        exclusive_orders=True,
        finalize_trades=finalize_trades,
    )
    stats = bt.run(n1=case.n1, n2=case.n2) if strategy is SmaCross else bt.run()
    return Peer(
        closed=stats["_trades"],
        open=list(stats["_strategy"].trades),
        final_equity=float(stats["Equity Final [$]"]),
        equity=stats["_equity_curve"]["Equity"].to_numpy(),
    )


def run_stratopt(case: Case) -> BacktestResult:
    (result,) = backtest_study(load_study(STUDY, case.overrides()))
    return result


def sma_ties(case: Case) -> np.ndarray:
    """Bars where backtesting.py's SMAs are equal (to float rounding)."""
    close = case.frame()["Close"]
    a, b = SMA(close, case.n1).to_numpy(), SMA(close, case.n2).to_numpy()
    return np.flatnonzero(np.abs(a - b) <= 1e-12 * np.abs(b))


def assert_same_closed_trades(peer: pd.DataFrame, ours: pd.DataFrame) -> None:
    """Trade by trade, the closed trades of both are the same."""
    assert len(ours) == len(peer)
    assert (ours["exit_reason"] == "signal").all()
    np.testing.assert_array_equal(ours["entry_idx"], peer["EntryBar"])
    np.testing.assert_array_equal(ours["exit_idx"], peer["ExitBar"])
    np.testing.assert_array_equal(ours["side"] * ours["units"], peer["Size"])
    np.testing.assert_allclose(ours["entry_price"], peer["EntryPrice"], rtol=REL)
    np.testing.assert_allclose(ours["exit_price"], peer["ExitPrice"], rtol=REL)
    np.testing.assert_allclose(ours["fees"], peer["Commission"], rtol=REL)
    np.testing.assert_allclose(ours["pnl"] - ours["fees"], peer["PnL"], rtol=REL, atol=1e-6)
    np.testing.assert_allclose(ours["ret"], peer["ReturnPct"], rtol=REL, atol=1e-12)


def assert_parity(case: Case, peer: Peer, ours: BacktestResult) -> None:
    frame = case.frame()
    assert len(ours.bars) == len(frame)
    np.testing.assert_array_equal(ours.bars.index.to_numpy(), frame.index.to_numpy())
    last_close = float(frame["Close"].iloc[-1])
    trades = ours.trades

    # Every trade backtesting.py closed, stratopt closed the same way.
    assert_same_closed_trades(peer.closed, trades.iloc[: len(peer.closed)])

    # backtesting.py's still-open trade is stratopt's last trade, closed at the final close.
    assert len(peer.open) <= 1
    rest = trades.iloc[len(peer.closed) :]
    assert len(rest) == len(peer.open)
    exit_fee = 0.0
    if peer.open:
        (still_open,) = peer.open
        (last,) = rest.itertuples()
        assert last.exit_reason == "end"
        assert last.entry_idx == still_open.entry_bar
        assert last.side * last.units == still_open.size
        assert last.entry_price == pytest.approx(still_open.entry_price, rel=REL)
        assert last.exit_idx == len(frame) - 1
        assert last.exit_price == pytest.approx(last_close, rel=REL)
        exit_fee = COMMISSION * abs(still_open.size) * last_close

    # Equity marked at each close agrees; on the last bar it differs by the exit fee only.
    np.testing.assert_allclose(ours.equity.to_numpy()[:-1], peer.equity[:-1], rtol=REL)
    assert ours.final_equity == pytest.approx(peer.final_equity - exit_fee, rel=REL)
    assert abs(ours.final_equity / peer.final_equity - 1) <= 0.005


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_same_trades_and_equity_as_backtesting_py(case: Case) -> None:
    assert not sma_ties(case).size, "a tie case; it belongs in TIE_CASES"
    peer = run_peer(case)
    assert len(peer.closed) > 5
    assert_parity(case, peer, run_stratopt(case))


def test_the_study_file_is_the_readme_example() -> None:
    assert backtesting.__version__ == "0.6.6"
    study = load_study(STUDY)
    assert study.strategy == "sma_cross"
    assert study.params == {"fast": 10, "slow": 20, "mode": "reversal"}
    assert study.data.path == "pkg://backtesting/test/GOOG.csv"
    assert (study.data.start, study.data.end, study.data.timeframe) == (None, None, None)
    settings = study.backtest.model_dump()
    assert settings == {
        **settings,
        "cash": CASH,
        "commission": COMMISSION,
        "commission_fixed": 0,
        "slippage_bps": 0,
        "fill": "next_open",
        "direction": "both",
        "sizing": "fraction",
        "whole_units": True,
        "max_leverage": 1,
        "stop_loss": None,
        "take_profit": None,
        "trailing_stop": None,
        "max_bars": None,
        "holding_cost": 0,
    }
    # backtesting.py's default `buy()`/`sell()` size is `Strategy._FULL_EQUITY`.
    assert settings["size"] == 1 - sys.float_info.epsilon == float(Strategy._FULL_EQUITY)


def test_readme_wording_trades_the_same() -> None:
    """`buy()`/`sell()` alone (README) and with `position.close()` first (the brief's and
    the tutorial's wording) are the same under `exclusive_orders=True`."""
    verbatim, ours = run_peer(README, strategy=ReadmeSmaCross), run_peer(README)
    pd.testing.assert_frame_equal(
        verbatim.closed.iloc[:, :10].reset_index(drop=True),
        ours.closed.iloc[:, :10].reset_index(drop=True),
    )
    assert [(t.size, t.entry_bar) for t in verbatim.open] == [
        (t.size, t.entry_bar) for t in ours.open
    ]
    np.testing.assert_array_equal(verbatim.equity, ours.equity)


def test_cli_reproduces_the_readme_example(tmp_path: Path) -> None:
    """`stratopt backtest examples/backtesting_py_parity.yaml` as a user runs it."""
    trades_csv = tmp_path / "trades.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "stratopt.cli", "backtest", STUDY, "--json", "--trades", trades_csv],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    trades = pd.read_csv(trades_csv)
    peer = run_peer(README)
    assert report["n_trades"] == len(trades) == len(peer.closed) + 1 == 94
    assert_same_closed_trades(peer.closed, trades.iloc[:-1])
    last_close = float(GOOG["Close"].iloc[-1])
    exit_fee = COMMISSION * abs(peer.open[0].size) * last_close
    assert report["final_equity"] == pytest.approx(peer.final_equity - exit_fee, rel=REL)
    assert abs(report["final_equity"] / peer.final_equity - 1) <= 0.005


def test_finalize_trades_closes_at_the_last_open_not_the_last_close() -> None:
    """With `finalize_trades=True` backtesting.py closes the open trade at the last
    bar's open, so that option moves it away from stratopt's END exit at the last close."""
    peer = run_peer(README, finalize_trades=True)
    ours = run_stratopt(README)
    assert not peer.open
    assert_same_closed_trades(peer.closed.iloc[:-1], ours.trades.iloc[:-1])
    theirs, last = peer.closed.iloc[-1], ours.trades.iloc[-1]
    n = len(GOOG)
    last_open, last_close = float(GOOG["Open"].iloc[-1]), float(GOOG["Close"].iloc[-1])
    assert theirs["ExitBar"] == last["exit_idx"] == n - 1
    assert theirs["ExitPrice"] == last_open != last_close == last["exit_price"]
    assert (theirs["EntryBar"], theirs["Size"]) == (last["entry_idx"], last["side"] * last["units"])
    units = float(theirs["Size"])
    move = last_close - last_open
    expected = peer.final_equity + units * move - COMMISSION * abs(units) * move
    assert ours.final_equity == pytest.approx(expected, rel=REL)


@pytest.mark.parametrize("case", TIE_CASES, ids=lambda c: c.id)
def test_parity_up_to_the_first_sma_tie(case: Case) -> None:
    """Where the two SMAs tie exactly, both engines may part (docs/parity.md); every
    trade decided before the first tie is still identical."""
    ties = sma_ties(case)
    assert ties.size
    first_tie = int(ties[0])
    peer, ours = run_peer(case), run_stratopt(case)
    theirs = peer.closed
    before = int((theirs["ExitBar"] <= first_tie).sum())
    assert before > 0
    assert int((ours.trades["exit_idx"] <= first_tie).sum()) == before
    assert_same_closed_trades(theirs.iloc[:before], ours.trades.iloc[:before])
    # The engines part at a trade whose signal came at or after the tie.
    t = ours.trades
    n = min(len(theirs), len(t))
    same = (
        (t["entry_idx"].to_numpy()[:n] == theirs["EntryBar"].to_numpy()[:n])
        & (t["exit_idx"].to_numpy()[:n] == theirs["ExitBar"].to_numpy()[:n])
        & ((t["side"] * t["units"]).to_numpy()[:n] == theirs["Size"].to_numpy()[:n])
    )
    assert not same.all() or len(theirs) + len(peer.open) != len(t), "no longer diverges"
    k = int(np.argmin(same)) if not same.all() else n
    if k < n:
        signal_bar = min(t["exit_idx"].iloc[k], theirs["ExitBar"].iloc[k]) - 1
        assert signal_bar >= first_tie


def test_tie_then_same_direction_cross_minimal_reproduction() -> None:
    """docs/parity.md, mechanism (a): fast=1, slow=2, closes 10 9 11 11 10 12 12.5 13.
    Up-cross at bar 2; the tie at bar 3 hides the down-move; up-cross again at bar 5
    while long. backtesting.py closes and re-buys at bar 6; stratopt stays long."""
    close = np.array([10, 9, 11, 11, 10, 12, 12.5, 13.0])
    time = pd.date_range("2020-01-01", periods=len(close), freq="D")
    frame = pd.DataFrame({"Open": close, "High": close, "Low": close, "Close": close}, index=time)
    bt = Backtest(frame, SmaCross, cash=CASH, commission=COMMISSION, exclusive_orders=True)
    stats = bt.run(n1=1, n2=2)
    theirs = stats["_trades"]
    assert theirs[["Size", "EntryBar", "ExitBar"]].values.tolist() == [[907, 3, 6]]
    assert [(t.size, t.entry_bar) for t in stats["_strategy"].trades] == [(903, 6)]

    settings = load_study(STUDY).backtest.to_settings()
    bars = Bars(time.to_numpy(), close, close, close, close, np.zeros(len(close)))
    ours = backtest(bars, "sma_cross", {"fast": 1, "slow": 2}, settings).trades
    assert ours[["side", "units", "entry_idx", "exit_idx"]].values.tolist() == [[1, 907, 3, 7]]
    assert ours["exit_reason"].tolist() == ["end"]

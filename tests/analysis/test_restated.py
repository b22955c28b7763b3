"""The drawdown table, the distribution figures and Sharpe/Sortino/volatility of analyze
against tests/analysis/restated.py (docs/analysis.md in plain Python), on real data and on
the edge cases: no trades, one trade, never recovered, all losses, flat equity."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from stratopt.analysis import (
    Curve,
    analyze_results,
    distribution_section,
    drawdown_section,
    trade_section,
)
from stratopt.backtest import backtest
from stratopt.data import load_bars
from stratopt.engine import ExecSettings
from stratopt.metrics import compute_metrics

from . import restated

REL = 1e-9


def close(a: float, b: float, rel: float = REL) -> bool:
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


def check_curve(curve: Curve, section: dict[str, Any] | None = None) -> None:
    """Every restated figure equals analyze's for this curve."""
    eq = curve.equity.tolist()
    times = list(curve.index)
    dd = drawdown_section(curve, top=10**6)
    want = restated.top_drawdowns(eq, curve.cash, times, 10**6)
    assert len(dd["table"]) == len(want)
    for got, exp in zip(dd["table"], want, strict=True):
        for key, value in exp.items():
            assert got[key] == value if not isinstance(value, float) else close(got[key], value)
    assert close(dd["time_under_water"], restated.time_under_water(eq, curve.cash))
    r = restated.returns(eq, curve.cash)
    ssv = restated.sharpe_sortino_vol(r, curve.periods_per_year)
    dist = section or distribution_section(curve)
    for key in ("volatility", "sharpe", "sortino"):
        assert close(dist[key], ssv[key], 1e-7), key
    exp = restated.distribution(r, times, curve.cash, eq)
    for key in ("mean", "std", "skew", "kurtosis"):
        assert close(dist[key], exp[key], 1e-7), key
    for q, v in exp["quantiles"].items():
        assert close(dist["quantiles"][q], v), q
    for lv in ("95", "99"):
        assert close(dist["var"][lv], exp[f"var_{lv}"])
        assert close(dist["cvar"][lv], exp[f"cvar_{lv}"], 1e-7)
        assert close(dist["var_cornish_fisher"][lv], exp[f"var_cf_{lv}"], 1e-6)
        assert close(dist["cvar_cornish_fisher"][lv], exp[f"cvar_cf_{lv}"], 1e-6)
    if "jb" in exp:
        assert close(dist["jarque_bera"]["statistic"], exp["jb"][0], 1e-6)
        assert close(dist["jarque_bera"]["pvalue"], exp["jb"][1], 1e-6)
    else:
        assert dist["jarque_bera"] is None
    for key in ("best_bar", "worst_bar"):
        assert close(dist[key]["return"], exp[key][0]) and dist[key]["time"] == exp[key][1]
    for key in ("best_day", "worst_day", "best_month", "worst_month"):
        assert close(dist[key]["return"], exp[key][0]) and dist[key]["period"] == exp[key][1]
    for (year, month), v in exp["monthly"].items():
        assert close(dist["monthly"][str(year)][str(month)], v)
    for year, v in exp["yearly"].items():
        assert close(dist["monthly"][str(year)]["year"], v)
    assert sum(x is not None for row in dist["monthly"].values() for x in row.values()) == len(
        exp["monthly"]
    ) + len(exp["yearly"])


@pytest.mark.parametrize(
    ("file", "params", "window"),
    [
        ("GOOG_1d.csv.gz", {"fast": 10, "slow": 40, "mode": "reversal"}, (None, None)),
        ("EURUSD_1h.csv.gz", {"fast": 20, "slow": 80}, ("2015-01-01", "2015-12-31")),
    ],
)
def test_real_data_matches_the_restatement(
    shared_data: Path, file: str, params: dict[str, Any], window: tuple[Any, Any]
) -> None:
    bars = load_bars(shared_data / file, start=window[0], end=window[1])
    res = backtest(bars, "sma_cross", params, ExecSettings(commission=0.001))
    a = analyze_results([res]).to_dict()["candidates"][0]
    assert a["trades"]["count"] > 20
    assert len(a["drawdowns"]["table"]) == 5
    curve = Curve(
        "x", bars.time, res.sim.equity, 10_000.0, bars.periods_per_year, res.trades, res.metrics
    )
    check_curve(curve, a["distribution"])
    dd = a["drawdowns"]
    assert dd["table"][0]["depth"] == pytest.approx(res.metrics["max_drawdown"], rel=1e-12)
    longest = max(row["bars_under_water"] for row in drawdown_section(curve, top=999)["table"])
    assert longest == res.metrics["max_drawdown_duration"]
    # breakdown: each year's return and Sharpe as the whole backtest's, on that year alone
    eq, r = res.sim.equity.tolist(), restated.returns(res.sim.equity.tolist(), 10_000.0)
    years = pd.DatetimeIndex(bars.time).year
    for row in a["breakdown"]["years"]:
        pick = [i for i, y in enumerate(years) if y == int(row["period"])]
        growth = math.prod(1 + r[i] for i in pick) - 1
        before = 10_000.0 if pick[0] == 0 else eq[pick[0] - 1]
        year_r = restated.returns([eq[i] for i in pick], before)
        assert close(row["return"], growth, 1e-9)
        assert close(
            row["sharpe"],
            restated.sharpe_sortino_vol(year_r, bars.periods_per_year)["sharpe"],
            1e-7,
        )
    assert a["annualization"]["periods_per_year"] == bars.periods_per_year
    assert a["annualization"]["source"] == "inferred from the bars"


def make_curve(equity: list[float], trades: list[tuple[int, int, int, float]], cash=100.0) -> Curve:
    """trades: (entry_idx, exit_idx, side, net pnl) on daily bars from 2021-01-04."""
    times = pd.date_range("2021-01-04", periods=len(equity), freq="D").to_numpy()
    rows = [
        {"entry_idx": a, "exit_idx": b, "side": s, "pnl": p, "fees": 0.0, "ret": p / cash,
         "entry_time": times[a], "exit_time": times[b]}
        for a, b, s, p in trades
    ]  # fmt: skip
    columns = ["entry_idx", "exit_idx", "side", "pnl", "fees", "ret", "entry_time", "exit_time"]
    frame = pd.DataFrame(rows, columns=columns)
    eq = np.array(equity, dtype=np.float64)
    metrics = compute_metrics(
        eq, cash=cash, trades_net_pnl=frame["pnl"].to_numpy(float),
        trades_ret=frame["ret"].to_numpy(float),
        trades_bars=(frame["exit_idx"] - frame["entry_idx"]).to_numpy(float),
        periods_per_year=252,
    )  # fmt: skip
    return Curve("edge", times, eq, cash, 252.0, frame, metrics)


EDGE_CASES = {
    "flat equity, no trades": ([100.0] * 8, []),
    "one trade": ([100.0, 102.0, 101.0, 104.0, 104.0], [(0, 3, 1, 4.0)]),
    "never recovered": (
        [100.0, 110.0, 105.0, 108.0, 95.0, 99.0],
        [(0, 2, 1, 5.0), (2, 5, -1, -6.0)],
    ),
    "all losses": (
        [99.0, 97.0, 97.0, 94.0, 90.0],
        [(0, 1, 1, -3.0), (1, 3, -1, -3.0), (3, 4, 1, -4.0)],
    ),
}


@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_edge_cases_match_the_restatement(case: str) -> None:
    equity, trades = EDGE_CASES[case]
    curve = make_curve(equity, trades)
    check_curve(curve)
    t = trade_section(curve)
    assert t["count"] == len(trades)
    dd = drawdown_section(curve)
    if case == "flat equity, no trades":
        assert dd["table"] == [] and dd["current"] == {"depth": 0.0, "bars": 0}
        assert t["win_rate"] == 0 and t["current_streak"] == {"kind": "none", "length": 0}
        assert t["holding_bars"] == {} and t["by_weekday"] == {}
        assert distribution_section(curve)["jarque_bera"] is None
    if case == "one trade":
        assert t["wins"] == 1 and t["no_losses"] and t["profit_factor"] == math.inf
        assert t["holding_bars"]["q0.5"] == 3 and t["largest_win_pnl"] == 4.0
    if case == "never recovered":
        row = dd["table"][0]
        assert row["recovery"] == "not recovered" and row["bars_to_recovery"] is None
        assert row["peak_bar"] == 1 and dd["current"]["bars"] == 4
        assert t["current_streak"] == {"kind": "loss", "length": 1}
    if case == "all losses":
        row = dd["table"][0]
        assert row["peak_bar"] == -1 and row["peak"] == "2021-01-04 00:00:00"
        assert t["losses"] == 3 and t["max_loss_streak"] == 3 and t["payoff"] == 0.0
        assert t["largest_loss"] == pytest.approx(-0.04) and t["profit_factor"] == 0.0

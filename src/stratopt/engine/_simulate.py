"""Python side of one simulation: validate, call the kernel, wrap the outputs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stratopt.engine import _nb
from stratopt.engine._background import composite, wait_for_background
from stratopt.engine._types import TRADE_DTYPE, ExecSettings, pack_settings
from stratopt.metrics import METRICS

__all__ = ["SimResult", "eval_signals", "simulate", "simulate_rules"]


@dataclass(frozen=True, eq=False)
class SimResult:
    """Full outputs of one simulated candidate (positions are bar numbers)."""

    equity: np.ndarray
    returns: np.ndarray
    position: np.ndarray
    exposure: np.ndarray
    trades: np.ndarray
    metrics: dict[str, float]
    cash: float

    @property
    def final_equity(self) -> float:
        return float(self.equity[-1]) if self.equity.size else self.cash

    @property
    def n_trades(self) -> int:
        return int(self.trades.shape[0])


def _prices(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    out = tuple(np.ascontiguousarray(a, dtype=np.float64) for a in arrays)
    n = out[0].shape[0]
    if any(a.ndim != 1 or a.shape[0] != n for a in out):
        raise ValueError("open, high, low and close must be 1-D arrays of equal length")
    if n == 0:
        raise ValueError("at least one bar is needed")
    return out


def _trade_records(table: np.ndarray) -> np.ndarray:
    trades = np.zeros(table.shape[0], dtype=TRADE_DTYPE)
    columns = (
        ("entry_idx", _nb.T_ENTRY_IDX),
        ("exit_idx", _nb.T_EXIT_IDX),
        ("side", _nb.T_SIDE),
        ("units", _nb.T_UNITS),
        ("entry_price", _nb.T_ENTRY_PRICE),
        ("exit_price", _nb.T_EXIT_PRICE),
        ("pnl", _nb.T_PNL),
        ("fees", _nb.T_FEES),
        ("ret", _nb.T_RET),
        ("exit_reason", _nb.T_REASON),
    )
    for name, col in columns:
        trades[name] = table[:, col]
    return trades


def eval_signals(ind: np.ndarray, rules: np.ndarray, levels: np.ndarray, n: int) -> np.ndarray:
    """int8[n]: the signal code of every bar under compiled ``rules`` over ``ind``
    (`eval_signals_nb`, or its Python twin in a cold start)."""
    args = (ind, rules, levels, n)
    return np.asarray(composite(_nb.eval_signals_nb, args)(*args))


def simulate_rules(
    prices: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    ind: np.ndarray,
    rules: np.ndarray,
    levels: np.ndarray,
    settings: ExecSettings,
    *,
    periods_per_year: float,
) -> SimResult:
    """Simulate one candidate whose signals come from compiled rules over `ind`."""
    o, h, lo, c = prices
    ex = pack_settings(settings)
    wait_for_background()
    args = (o, h, lo, c, ind, rules, levels, ex, float(periods_per_year), True)
    equity, position, exposure, table, metrics = composite(_nb.run_one_nb, args)(*args)
    prev = np.empty_like(equity)
    prev[0] = settings.cash
    prev[1:] = equity[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = equity / prev - 1.0
    return SimResult(
        equity=equity,
        returns=returns,
        position=position,
        exposure=exposure,
        trades=_trade_records(table),
        metrics={m.id: float(v) for m, v in zip(METRICS, metrics, strict=True)},
        cash=settings.cash,
    )


def simulate(
    open: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    signals: np.ndarray,
    settings: ExecSettings,
    *,
    periods_per_year: float = 252.0,
) -> SimResult:
    """Simulate one candidate from an explicit signal array.

    Args:
        open, high, low, close: Prices of n bars (validated by the data layer).
        signals: int8[n] codes of `stratopt.engine.Signal`.
        settings: Execution settings.
        periods_per_year: Bars per year, for annualized metrics.

    Returns:
        Equity, returns, position, exposure, the trade records and all metrics.
    """
    prices = _prices(open, high, low, close)
    sig = np.asarray(signals)
    if sig.shape != prices[0].shape:
        raise ValueError(f"signals has shape {sig.shape}, expected {prices[0].shape}")
    codes = set(np.unique(sig).tolist())
    if not codes <= {-1, 0, 1, 2, 3, 4}:
        raise ValueError(f"unknown signal codes {sorted(codes - {-1, 0, 1, 2, 3, 4})}")
    ind = sig.astype(np.float64).reshape(1, -1)
    rules = np.zeros((1, 5), dtype=np.int64)
    rules[0, 0] = _nb.RULE_CODES
    levels = np.zeros(1)
    return simulate_rules(
        (prices[0], prices[1], prices[2], prices[3]),
        ind,
        rules,
        levels,
        settings,
        periods_per_year=periods_per_year,
    )

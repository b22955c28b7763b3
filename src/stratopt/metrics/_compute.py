"""`compute_metrics`: the metrics of an equity curve and a trade list from anywhere.

For adapters that bring their own backtester (backtesting.py, NautilusTrader, Jesse, a
plain function): validate and convert, then run the very kernels the engine runs.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import numpy.typing as npt

from stratopt.metrics._nb import (
    N_METRICS,
    N_TRADE_STATS,
    compute_metrics_nb,
    trade_stats_from_arrays_nb,
)
from stratopt.metrics._registry import metrics_to_dict

__all__ = ["compute_metrics"]


def _positive_number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"`{name}` must be a finite number > 0, but got {name}={value!r}.")
    number = float(value)
    if number <= 0.0:
        raise ValueError(f"`{name}` must be a finite number > 0, but got {name}={value!r}.")
    return number


def _vector(name: str, values: npt.ArrayLike, *, allow_nan: bool = False) -> np.ndarray:
    """``values`` as a contiguous 1-D float64 array, finite (NaN allowed if asked)."""
    try:
        arr = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"`{name}` must be a 1-D array of numbers: {exc}") from None
    if arr.ndim != 1:
        raise ValueError(f"`{name}` must be one-dimensional, but got shape {arr.shape}.")
    if not arr.flags.writeable:  # e.g. a pandas view; numba would compile anew for it
        arr = arr.copy()
    bad = np.isinf(arr) if allow_nan else ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        allowed = "finite or NaN" if allow_nan else "finite"
        raise ValueError(f"`{name}` must be {allowed}, but {name}[{i}]={float(arr[i])!r}.")
    return arr


def compute_metrics(
    equity: npt.ArrayLike,
    *,
    cash: float,
    trades_net_pnl: npt.ArrayLike,
    trades_ret: npt.ArrayLike,
    trades_bars: npt.ArrayLike,
    trades_ret_on_risk: npt.ArrayLike | None = None,
    exposure_bars: int = 0,
    periods_per_year: float = 252.0,
) -> dict[str, float]:
    """Every metric of one backtest, as ``{metric id: value}`` in registry order.

    Args:
        equity: equity marked at each bar close, shape (n,), finite (n may be 0).
        cash: initial equity, the value before the first bar; finite and > 0.
        trades_net_pnl: net pnl of each closed trade (after all fees), shape (m,).
        trades_ret: net pnl over entry notional of each trade, shape (m,).
        trades_bars: bars each trade was held (exit index minus entry index), >= 0.
        trades_ret_on_risk: net pnl over capital at risk of each trade; NaN marks a
            trade whose risk is unknown (left out of ``return_on_risk``). ``None``
            uses ``trades_ret``, i.e. the whole entry notional is the capital at risk.
        exposure_bars: number of bars with a position, ``0 <= exposure_bars <= n``.
        periods_per_year: bars per year, for annualization (252 for daily bars).

    Returns:
        ``{id: float}`` for every id of `stratopt.metrics.METRICS`. Formulas and
        edge-case values are in docs/metrics.md; ratios with a zero denominator are
        ``+inf``/``-inf``/``0``, never NaN.

    Raises:
        ValueError: an argument has the wrong shape, a non-finite value or is out of
            range; the message names it.
    """
    eq = _vector("equity", equity)
    cash_f = _positive_number("cash", cash)
    ppy = _positive_number("periods_per_year", periods_per_year)
    pnl = _vector("trades_net_pnl", trades_net_pnl)
    ret = _vector("trades_ret", trades_ret)
    bars = _vector("trades_bars", trades_bars)
    ror = (
        ret
        if trades_ret_on_risk is None
        else _vector("trades_ret_on_risk", trades_ret_on_risk, allow_nan=True)
    )
    for name, arr in (("trades_ret", ret), ("trades_bars", bars), ("trades_ret_on_risk", ror)):
        if arr.shape != pnl.shape:
            raise ValueError(
                f"`{name}` must have the length of `trades_net_pnl` ({pnl.shape[0]}), "
                f"but got {arr.shape[0]}."
            )
    if (bars < 0).any():
        i = int(np.flatnonzero(bars < 0)[0])
        raise ValueError(f"`trades_bars` must be >= 0, but trades_bars[{i}]={float(bars[i])!r}.")
    n = eq.shape[0]
    if (
        isinstance(exposure_bars, bool)
        or not isinstance(exposure_bars, Integral)
        or not 0 <= exposure_bars <= n
    ):
        raise ValueError(
            f"`exposure_bars` must be an integer in [0, len(equity)={n}], "
            f"but got exposure_bars={exposure_bars!r}."
        )

    ts = np.empty(N_TRADE_STATS)
    trade_stats_from_arrays_nb(pnl, ret, bars, ror, ts)
    out = np.empty(N_METRICS)
    compute_metrics_nb(eq, cash_f, int(exposure_bars), ts, ppy, np.empty(n), out)
    return metrics_to_dict(out)

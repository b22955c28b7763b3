"""Helpers shared by the metrics tests: the kernels driven like the engine, the oracle check."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stratopt.metrics import METRIC_IDS, metrics_to_dict
from stratopt.metrics._nb import (
    N_METRICS,
    N_TRADE_STATS,
    compute_metrics_nb,
    trade_stats_init_nb,
    trade_stats_update_nb,
)

from .reference import reference_metrics

# metric ids compared with a looser tolerance (third and fourth moments)
_MOMENTS = {"skew", "kurtosis"}
# metric ids that must match NumPy exactly (selection, not summation)
_EXACT = {"var_95", "tail_ratio"}


def kernel_metrics(
    equity: np.ndarray,
    *,
    cash: float,
    pnl: np.ndarray,
    ret: np.ndarray,
    bars: np.ndarray,
    ror: np.ndarray | None = None,
    exposure_bars: int = 0,
    ppy: float = 252.0,
) -> dict[str, float]:
    """The kernels driven the way the engine drives them (one update per trade)."""
    ror = ret if ror is None else ror
    ts = np.empty(N_TRADE_STATS)
    trade_stats_init_nb(ts)
    for i in range(len(pnl)):
        trade_stats_update_nb(ts, float(pnl[i]), float(ret[i]), float(bars[i]), float(ror[i]))
    equity = np.ascontiguousarray(equity, dtype=np.float64)
    out = np.full(N_METRICS, np.nan)
    scratch = np.full(len(equity), np.nan)
    compute_metrics_nb(equity, float(cash), int(exposure_bars), ts, float(ppy), scratch, out)
    return metrics_to_dict(out)


def assert_metrics_match(got: dict[str, float], want: dict[str, float]) -> None:
    """Every metric equal to the oracle (exact for quantiles, tight elsewhere)."""
    assert list(got) == list(METRIC_IDS)
    for key in METRIC_IDS:
        g, w = got[key], want[key]
        assert not math.isnan(g), f"{key} is NaN"
        if key in _EXACT:
            assert g == w, f"{key}: {g!r} != {w!r}"
        elif key in _MOMENTS:
            assert g == pytest.approx(w, rel=1e-7, abs=1e-9), key
        else:
            assert g == pytest.approx(w, rel=1e-9, abs=1e-12), key


def check_case(equity: np.ndarray, **kw: object) -> dict[str, float]:
    """Kernel vs oracle on one case; returns the kernel's metrics."""
    got = kernel_metrics(equity, **kw)  # type: ignore[arg-type]
    want = reference_metrics(equity, **kw)  # type: ignore[arg-type]
    assert_metrics_match(got, want)
    return got


def random_trades(
    rng: np.random.Generator, m: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``m`` trades: net pnl, return, bars held, return on risk (some NaN)."""
    pnl = rng.normal(5.0, 100.0, m)
    notional = rng.uniform(1e3, 2e4, m)
    bars = rng.integers(0, 60, m).astype(np.float64)
    ror = pnl / rng.uniform(50.0, 500.0, m)
    ror[rng.random(m) < 0.2] = np.nan
    return pnl, pnl / notional, bars, ror


def random_equity(rng: np.random.Generator, n: int, cash: float) -> np.ndarray:
    """A compounding equity curve with fat tails, drift and flat (zero-return) spells."""
    vol = rng.uniform(1e-4, 2e-2)
    r = rng.standard_t(4, n) * vol + rng.normal(0.0, vol / 20)
    r[rng.random(n) < rng.uniform(0.0, 0.7)] = 0.0
    return cash * np.cumprod(1.0 + r)

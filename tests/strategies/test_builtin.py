from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from stratopt.data import Bars
from stratopt.engine import Signal
from stratopt.errors import StrategyError
from stratopt.strategies import BUILTIN_STRATEGIES, GridStrategy, IndicatorCache, get_strategy

# the built-ins that emit signals (grid strategies are tested in test_grid.py)
SIGNAL_BUILTINS = sorted(
    n for n, cls in BUILTIN_STRATEGIES.items() if not issubclass(cls, GridStrategy)
)


def _random_bars(n: int = 1500, seed: int = 5) -> Bars:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.012, n)))
    open_ = np.r_[100.0, close[:-1]] * np.exp(rng.normal(0, 0.002, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n))
    time = (np.datetime64("2020-01-01") + np.arange(n)).astype("datetime64[ns]")
    return Bars(time, open_, high, low, close, np.ones(n))


SMALL_PARAMS: dict[str, dict[str, Any]] = {
    "sma_cross": {"fast": 5, "slow": 20},
    "ema_cross": {"fast": 5, "slow": 20},
    "rsi_reversion": {"period": 10, "lower": 35, "upper": 65},
    "bollinger_reversion": {"window": 15, "k": 1.5},
    "donchian_breakout": {"window": 15, "exit_window": 5},
    "macd": {"fast": 6, "slow": 13, "signal": 5},
}


def test_every_builtin_has_test_params() -> None:
    assert set(SMALL_PARAMS) == set(SIGNAL_BUILTINS)
    assert set(BUILTIN_STRATEGIES) - set(SIGNAL_BUILTINS) == {"hedge_grid"}


@pytest.mark.parametrize("name", SIGNAL_BUILTINS)
@pytest.mark.parametrize("mode", ["reversal", "long_only"])
def test_builtin_signals_are_valid_and_never_look_ahead(name: str, mode: str) -> None:
    bars = _random_bars()
    strat = get_strategy(name)
    p = strat.resolve({**SMALL_PARAMS[name], "mode": mode})
    full = strat.signals(bars, p, IndicatorCache(bars))
    assert full.dtype == np.int8 and full.shape == (len(bars),)
    assert (full != 0).sum() >= 5, "the strategy should trade on 1,500 random bars"
    if mode == "long_only":
        assert not (full == Signal.SHORT).any()
    for cut in (60, 333, 900, 1499):
        part = bars.slice(0, cut)
        truncated = strat.signals(part, p, IndicatorCache(part))
        np.testing.assert_array_equal(truncated, full[:cut])


def test_sma_cross_signals_on_crossings() -> None:
    bars = _random_bars()
    strat = get_strategy("sma_cross")
    p = strat.resolve({"fast": 5, "slow": 20})
    sig = strat.signals(bars, p, IndicatorCache(bars))
    c = bars.close
    fast = np.convolve(c, np.ones(5) / 5, mode="full")[: c.size]
    slow = np.convolve(c, np.ones(20) / 20, mode="full")[: c.size]
    fast[:4] = np.nan
    slow[:19] = np.nan
    up = (fast[:-1] < slow[:-1]) & (fast[1:] > slow[1:])
    down = (fast[:-1] > slow[:-1]) & (fast[1:] < slow[1:])
    np.testing.assert_array_equal(np.flatnonzero(sig == 1), np.flatnonzero(up) + 1)
    np.testing.assert_array_equal(np.flatnonzero(sig == -1), np.flatnonzero(down) + 1)


@pytest.mark.parametrize(
    ("name", "params", "fragment"),
    [
        ("sma_cross", {"fast": 20, "slow": 10}, "'fast' (20) must be < 'slow' (10)"),
        ("sma_cross", {"fast": 2.5}, "'fast' must be a whole number"),
        ("sma_cross", {"fats": 5}, "did you mean 'fast'"),
        ("sma_cross", {"mode": "sideways"}, "'mode' must be one of"),
        ("rsi_reversion", {"lower": 60, "exit": 50}, "lower <= exit <= upper"),
        ("macd", {"fast": 0}, "'fast' must be >= 1"),
    ],
)
def test_bad_params_are_named(name: str, params: dict[str, Any], fragment: str) -> None:
    with pytest.raises(StrategyError, match=None) as info:
        get_strategy(name).resolve(params)
    assert fragment in str(info.value)

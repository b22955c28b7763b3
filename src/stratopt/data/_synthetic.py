"""Deterministic synthetic OHLCV series for tests, benchmarks and demos."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from stratopt.data._bars import Bars
from stratopt.data._edge import PlantedEdge
from stratopt.data._frequency import GIVEN_RULE, Annualization, annualization, parse_timeframe
from stratopt.data._time import parse_time
from stratopt.errors import ConfigError

__all__ = ["synthetic_bars"]

FloatArray = npt.NDArray[np.float64]
Regime = tuple[int, float, float]
# Scale of the intrabar features relative to one bar's volatility: the open's gap from the
# previous close, and how far high and low reach beyond the body.
_GAP_SCALE = 0.1
_WICK_SCALE = 0.5
_BASE_VOLUME = 1e6


def synthetic_bars(  # noqa: PLR0913 (the released keyword-only signature, each a knob)
    n: int,
    *,
    seed: int,
    interval: str | dt.timedelta = "1D",
    start: str | dt.datetime | pd.Timestamp = "2000-01-03",
    regimes: Sequence[Regime] | None = None,
    edge: PlantedEdge | None = None,
    start_price: float = 100.0,
    volatility: float = 0.01,
    symbol: str = "SYN",
    periods_per_year: float | None = None,
) -> Bars:
    """A geometric random walk with realistic, always-valid OHLC bars.

    The log close moves by ``drift + volatility * N(0, 1)`` per bar. Each bar opens near
    the previous close (a gap of 0.1 x volatility), its high and low reach beyond the
    body by half-normal wicks (0.5 x volatility), and volume is lognormal around 1e6,
    higher on large moves. Timestamps are evenly spaced, with no weekends or sessions.
    The same arguments give bit-identical arrays (for a given NumPy version): all draws
    come from one ``numpy.random.default_rng(seed)`` in a fixed order.

    Example:
        >>> edge = PlantedEdge(period=120, strength=0.5)
        >>> bars = synthetic_bars(5_000, seed=7, edge=edge)
        >>> edge.best_fast, edge.best_slow
        (2, 28)

    Args:
        n: Number of bars (>= 2).
        seed: Seed of the random generator.
        interval: Bar length, e.g. ``"1m"``, ``"1h"``, ``"1D"`` (see `parse_timeframe`).
        start: Timestamp of the first bar (UTC).
        regimes: ``(length, drift, volatility)`` segments, cycled over the series: bars
            ``0 .. length-1`` use the first segment's per-bar log drift and volatility, and
            so on, restarting at the first segment after the last. By default one regime
            with drift 0 and ``volatility``.
        edge: A known pattern to plant on top of the walk; see `PlantedEdge`. Its
            amplitude is scaled by ``volatility``, whatever the regimes.
        start_price: Close before the first bar (> 0).
        volatility: Per-bar standard deviation of log returns (>= 0).
        symbol: Symbol of the result.
        periods_per_year: Bars per year; by default `infer_periods_per_year` of the
            (continuous) timestamps, e.g. 365 for ``"1D"`` and 525,600 for ``"1m"``.

    Returns:
        Bars passing every `validate_frame` rule.

    Raises:
        ConfigError: An argument is out of range, or the drift makes prices overflow.
    """
    if n < 2:
        raise ConfigError(f"n must be at least 2, got {n}")
    if not (math.isfinite(start_price) and start_price > 0):
        raise ConfigError(f"start_price must be positive, got {start_price!r}")
    if not (math.isfinite(volatility) and volatility >= 0):
        raise ConfigError(f"volatility must be >= 0, got {volatility!r}")
    time = _timestamps(n, interval, start)
    drift, sigma = _regime_arrays(n, regimes, volatility)
    rng = np.random.default_rng(seed)
    z_close, z_gap, z_high, z_low, z_volume = rng.standard_normal((5, n))

    steps = drift + sigma * z_close
    log_close = math.log(start_price) + np.cumsum(steps)
    if edge is not None:
        log_close += edge.log_component(n, volatility)
    log_prev = np.concatenate(([math.log(start_price)], log_close[:-1]))
    log_open = log_prev + _GAP_SCALE * sigma * z_gap
    with np.errstate(over="ignore", under="ignore"):  # checked just below
        close, open_ = np.exp(log_close), np.exp(log_open)
        high = np.maximum(open_, close) * np.exp(_WICK_SCALE * sigma * np.abs(z_high))
        low = np.minimum(open_, close) * np.exp(-_WICK_SCALE * sigma * np.abs(z_low))
    if not (np.all(np.isfinite(high)) and np.all(low > 0)):
        raise ConfigError("drift and volatility make prices overflow; use smaller values")
    volume = np.round(_BASE_VOLUME * np.exp(0.3 * z_volume + 0.3 * np.abs(z_close)))

    ppy = (
        annualization(time)
        if periods_per_year is None
        else Annualization(float(periods_per_year), GIVEN_RULE)
    )
    return Bars(
        time=time,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
        symbol=symbol,
        source=f"synthetic(n={n}, seed={seed}, interval={interval!s})",
        periods_per_year=ppy.periods_per_year,
        annualization_rule=ppy.rule,
    )


def _timestamps(
    n: int, interval: str | dt.timedelta, start: str | dt.datetime | pd.Timestamp
) -> npt.NDArray[np.datetime64]:
    """`n` evenly spaced bar times from `start` (UTC, datetime64[ns])."""
    step = parse_timeframe(interval)
    first, _ = parse_time(start, field="start")
    last_ns = first.as_unit("ns").value + (n - 1) * step.value
    if last_ns >= pd.Timestamp.max.value:
        raise ConfigError(
            f"{n} bars of {interval!s} from {first} end after {pd.Timestamp.max.date()}, "
            "the last date datetime64[ns] can hold; use fewer bars or a shorter interval"
        )
    time = first.as_unit("ns").to_datetime64() + np.arange(n) * step.to_timedelta64()
    return time.astype("datetime64[ns]")


def _regime_arrays(
    n: int, regimes: Sequence[Regime] | None, volatility: float
) -> tuple[FloatArray, FloatArray]:
    """Per-bar drift and volatility, cycling the regimes."""
    if regimes is None:
        return np.zeros(n), np.full(n, volatility)
    if len(regimes) == 0:
        raise ConfigError("regimes must hold at least one (length, drift, volatility) segment")
    for i, (length, mu, vol) in enumerate(regimes):
        if int(length) != length or length < 1:
            raise ConfigError(f"regimes[{i}]: length must be a whole number >= 1, got {length!r}")
        if not (math.isfinite(mu) and math.isfinite(vol) and vol >= 0):
            raise ConfigError(
                f"regimes[{i}]: need a finite drift and volatility >= 0, got ({mu!r}, {vol!r})"
            )
    lengths = np.array([int(r[0]) for r in regimes])
    drift = np.resize(np.repeat([float(r[1]) for r in regimes], lengths), n)
    sigma = np.resize(np.repeat([float(r[2]) for r in regimes], lengths), n)
    return drift.astype(np.float64), sigma.astype(np.float64)

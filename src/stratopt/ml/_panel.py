"""The assets of a two-stage study as one panel: bars x assets, on a common time axis."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from stratopt.data import Bars, infer_periods_per_year, load_bars, parse_timeframe
from stratopt.errors import ConfigError, DataError

__all__ = ["Panel", "PanelSpec", "load_panel", "synthetic_panel"]

_FIELDS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True, eq=False)
class Panel:
    """OHLCV of `N` assets over `T` common bars, oldest first, each field a (T, N) array.

    Attributes:
        time: ``datetime64[ns]`` of each bar (UTC, no zone).
        symbols: One name per column.
        open, high, low, close, volume: float64 (T, N); volume all zero when absent.
        columns: Extra per-bar, per-asset data (e.g. a synthetic panel's features).
        periods_per_year: Bars per year, for annualized metrics.
    """

    time: np.ndarray
    symbols: tuple[str, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    columns: Mapping[str, np.ndarray] = field(default_factory=dict)
    periods_per_year: float = 252.0

    @property
    def n_bars(self) -> int:
        return int(self.close.shape[0])

    @property
    def n_assets(self) -> int:
        return int(self.close.shape[1])

    @property
    def has_volume(self) -> bool:
        return bool(np.any(self.volume > 0))

    @property
    def index(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.time, name="timestamp")

    def bars(self, asset: int, start: int = 0, stop: int | None = None) -> Bars:
        """One asset's bars ``[start, stop)`` as `stratopt.data.Bars`."""
        s = slice(start, stop)
        return Bars(
            time=self.time[s],
            symbol=self.symbols[asset],
            periods_per_year=self.periods_per_year,
            open=np.ascontiguousarray(self.open[s, asset]),
            high=np.ascontiguousarray(self.high[s, asset]),
            low=np.ascontiguousarray(self.low[s, asset]),
            close=np.ascontiguousarray(self.close[s, asset]),
            volume=np.ascontiguousarray(self.volume[s, asset]),
        )

    def truncated(self, stop: int) -> Panel:
        """The first `stop` bars (for the look-ahead check of features)."""
        return Panel(
            time=self.time[:stop],
            symbols=self.symbols,
            columns={k: v[:stop] for k, v in self.columns.items()},
            periods_per_year=self.periods_per_year,
            open=self.open[:stop],
            high=self.high[:stop],
            low=self.low[:stop],
            close=self.close[:stop],
            volume=self.volume[:stop],
        )

    def fingerprint(self) -> str:
        """SHA-256 of every value, the time axis and the symbols (the cache key's data)."""
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.time).view(np.int64).tobytes())
        h.update("\x00".join(self.symbols).encode())
        for f in _FIELDS:
            h.update(np.ascontiguousarray(getattr(self, f), dtype=np.float64).tobytes())
        for name in sorted(self.columns):
            h.update(name.encode())
            h.update(np.ascontiguousarray(self.columns[name], dtype=np.float64).tobytes())
        h.update(repr(float(self.periods_per_year)).encode())
        return h.hexdigest()


def panel_from_bars(series: Sequence[Bars], *, periods_per_year: float | None = None) -> Panel:
    """The bars common to every series (inner join on time), one column per symbol.

    Raises:
        DataError: two series of one symbol, or no bar common to all.
    """
    seen: dict[str, str] = {}
    for bars in series:
        if bars.symbol in seen:
            raise DataError(
                f"data.path: {seen[bars.symbol]} and {bars.source} are both symbol "
                f"{bars.symbol!r}; rename one"
            )
        seen[bars.symbol] = bars.source
    common = series[0].time
    for bars in series[1:]:
        common = np.intersect1d(common, bars.time)
    if common.size < 2:
        raise DataError("data.path: the files have fewer than 2 bars in common")
    arrays: dict[str, list[np.ndarray]] = {f: [] for f in _FIELDS}
    for bars in series:
        pos = np.searchsorted(bars.time, common)
        for f in _FIELDS:
            arrays[f].append(getattr(bars, f)[pos])
    return Panel(
        time=common,
        symbols=tuple(b.symbol for b in series),
        periods_per_year=periods_per_year or series[0].periods_per_year,
        **_stacked(arrays),
    )


def _stacked(arrays: dict[str, list[np.ndarray]]) -> dict[str, Any]:
    return {f: np.ascontiguousarray(np.column_stack(v)) for f, v in arrays.items()}


def load_panel(
    paths: Sequence[str],
    *,
    start: str | None = None,
    end: str | None = None,
    timeframe: str | None = None,
    periods_per_year: float | None = None,
) -> Panel:
    """Load one file per symbol (see `stratopt.data.load_bars`) into a `Panel`."""
    series = [
        load_bars(p, start=start, end=end, timeframe=timeframe, periods_per_year=periods_per_year)
        for p in paths
    ]
    return panel_from_bars(series, periods_per_year=periods_per_year)


def planted_signal(x: np.ndarray) -> np.ndarray:
    """The nonlinear function of the first five features a synthetic panel plants.

    Scaled to unit variance for standard normal features; the other features are noise.
    """
    raw = (
        np.sin(2.0 * x[..., 0])
        + x[..., 1] * x[..., 2]
        + 0.5 * (x[..., 3] ** 2 - 1.0)
        - np.abs(x[..., 4])
        + np.sqrt(2.0 / np.pi)
    )
    return np.asarray(raw / 1.6)


@dataclass(frozen=True)
class PanelSpec:
    """What `synthetic_panel` generates (see there)."""

    assets: int
    bars: int
    features: int = 10
    strength: float = 0.15
    noise: float = 0.01
    lead: int = 2
    seed: int = 0
    interval: str = "1D"
    start: str = "2000-01-03"


def synthetic_panel(spec: PanelSpec) -> Panel:
    """A panel whose returns depend nonlinearly on known features (`planted_signal`).

    Features ``f0 .. f{features-1}`` are independent standard normals per bar and asset,
    stored in `Panel.columns`. The log return of bar ``t + lead`` is
    ``noise * (strength * planted_signal(x[t]) + e)`` with ``e`` standard normal, so with
    ``lead = lag + 1`` a label of any horizon has ``E[label | x[t]] ∝ planted_signal(x[t])``:
    the oracle prediction. Bars open at the previous close; highs and lows add half-normal
    wicks; volume is lognormal. The same spec gives the same arrays.
    """
    assets, bars, features, lead = spec.assets, spec.bars, spec.features, spec.lead
    strength, noise = spec.strength, spec.noise
    if assets < 1 or bars < lead + 2 or features < 5:
        raise ConfigError(
            f"data.synthetic: need assets >= 1, bars >= lead + 2 and features >= 5, got "
            f"assets={assets}, bars={bars}, features={features}"
        )
    rng = np.random.default_rng(spec.seed)
    x = rng.standard_normal((bars, assets, features))
    eps = rng.standard_normal((bars, assets))
    logret = noise * eps
    logret[lead:] += noise * strength * planted_signal(x[:-lead])
    close = 100.0 * np.exp(np.cumsum(logret, axis=0))
    prev = np.vstack([np.full((1, assets), 100.0), close[:-1]])
    wick = noise * 0.5 * np.abs(rng.standard_normal((2, bars, assets)))
    high = np.maximum(prev, close) * (1.0 + wick[0])
    low = np.minimum(prev, close) * (1.0 - wick[1])
    volume = np.exp(13.8 + 0.3 * rng.standard_normal((bars, assets)))
    step = pd.Timedelta(parse_timeframe(spec.interval))
    time = pd.date_range(pd.Timestamp(spec.start), periods=bars, freq=step).to_numpy(
        "datetime64[ns]"
    )
    return Panel(
        time=time,
        symbols=tuple(f"A{i:03d}" for i in range(assets)),
        open=prev,
        high=high,
        low=low,
        close=close,
        volume=volume,
        columns={f"f{k}": np.ascontiguousarray(x[:, :, k]) for k in range(features)},
        periods_per_year=infer_periods_per_year(pd.DatetimeIndex(time)),
    )

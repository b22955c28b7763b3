"""The arrays a grid run shares across candidates: path bars, decisions and funding.

`build_market` turns the strategy's bars, an optional finer detail series and a
funding schedule into the flat arrays `stratopt.engine._grid_nb` reads
(docs/grid.md §1 and §7). Everything here is candidate-independent and computed once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from stratopt.data import Bars, infer_bar_interval, parse_timeframe
from stratopt.errors import ConfigError, DataError

__all__ = ["Funding", "GridMarket", "build_market"]


def _ns(time: np.ndarray) -> np.ndarray:
    return np.asarray(time, dtype="datetime64[ns]").view(np.int64)


@dataclass(frozen=True, eq=False)
class Funding:
    """Funding instants: a constant rate on a schedule, or a series of (time, rate).

    Build one with `Funding.constant` or `Funding.series`. ``mark_time`` and
    ``mark_open`` (optional) give the mark price: the open of the last mark row at or
    before an instant; without them it is the open of the path bar that pays.
    """

    rate: float | None = None
    interval_ns: int | None = None
    phase_ns: int = 0
    times_ns: np.ndarray | None = None
    rates: np.ndarray | None = None
    mark_time_ns: np.ndarray | None = None
    mark_open: np.ndarray | None = None

    @classmethod
    def constant(
        cls,
        rate: float,
        interval: str | dt.timedelta,
        phase: str | dt.timedelta = dt.timedelta(0),
        *,
        marks: Bars | None = None,
    ) -> Funding:
        """`rate` at ``phase + k * interval`` from 1970-01-01T00:00Z (both durations)."""
        step = int(parse_timeframe(interval).value)
        off = int(pd.Timedelta(phase).value) if not isinstance(phase, str) else _phase(phase)
        return cls(rate=float(rate), interval_ns=step, phase_ns=off, **_marks(marks))

    @classmethod
    def series(cls, times: np.ndarray, rates: np.ndarray, *, marks: Bars | None = None) -> Funding:
        """One instant per row: `times` (datetime64, strictly increasing) and `rates`."""
        t = _ns(times)
        r = np.ascontiguousarray(rates, dtype=np.float64)
        if t.shape != r.shape or t.ndim != 1:
            raise ValueError("funding times and rates must be 1-D arrays of equal length")
        if t.size > 1 and not (np.diff(t) > 0).all():
            raise DataError("funding: timestamps must be strictly increasing")
        return cls(times_ns=t, rates=r, **_marks(marks))

    def instants(self, first: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """(times, rates) of the instants in ``[first, end)`` (ns)."""
        if self.times_ns is not None and self.rates is not None:
            keep = (self.times_ns >= first) & (self.times_ns < end)
            return self.times_ns[keep], self.rates[keep]
        assert self.interval_ns is not None and self.rate is not None
        k0 = -((self.phase_ns - first) // self.interval_ns)
        k1 = -((self.phase_ns - end) // self.interval_ns)
        times = self.phase_ns + np.arange(k0, k1, dtype=np.int64) * self.interval_ns
        return times, np.full(times.shape, self.rate)

    def guard(self, close_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per decision time: ns to the first instant at or after it (inf: none), and the
        forecast rate (the last rate before it; the constant rate; 0 before the first)."""
        t = close_ns.astype(np.int64)
        if self.times_ns is not None and self.rates is not None:
            nxt = np.searchsorted(self.times_ns, t, side="left")
            gap = np.full(t.shape, np.inf)
            has = nxt < self.times_ns.size
            gap[has] = (self.times_ns[nxt[has]] - t[has]).astype(np.float64)
            rate = np.where(nxt > 0, self.rates[np.maximum(nxt - 1, 0)], 0.0)
            return gap, np.ascontiguousarray(rate, dtype=np.float64)
        assert self.interval_ns is not None and self.rate is not None
        k = -((self.phase_ns - t) // self.interval_ns)
        gap = (self.phase_ns + k * self.interval_ns - t).astype(np.float64)
        return gap, np.full(t.shape, self.rate)

    def marks_at(self, times: np.ndarray, fallback: np.ndarray) -> np.ndarray:
        """The mark price of each instant (the path bar's open without a mark series)."""
        if self.mark_time_ns is None or self.mark_open is None:
            return fallback
        at = np.searchsorted(self.mark_time_ns, times, side="right") - 1
        if times.size and at.min() < 0:
            first = pd.Timestamp(int(times[int(np.argmin(at))]))
            raise DataError(f"funding.mark: no mark price at or before {first}")
        return np.ascontiguousarray(self.mark_open[at])


def _phase(text: str) -> int:
    stripped = text.strip()
    if stripped in ("0", "0h", "0m", "0s", "0d"):
        return 0
    return int(parse_timeframe(stripped).value)


def _marks(marks: Bars | None) -> dict[str, Any]:
    if marks is None:
        return {"mark_time_ns": None, "mark_open": None}
    return {"mark_time_ns": _ns(marks.time), "mark_open": np.asarray(marks.open, np.float64)}


@dataclass(frozen=True, eq=False)
class GridMarket:
    """Candidate-independent inputs of a grid run (see `stratopt.engine._grid_nb`)."""

    po: np.ndarray
    ph: np.ndarray
    pl: np.ndarray
    pc: np.ndarray
    psub: np.ndarray
    bar_end: np.ndarray
    decide: np.ndarray
    f_pos: np.ndarray
    f_rate: np.ndarray
    f_mark: np.ndarray
    g_gap: np.ndarray
    g_rate: np.ndarray
    funding_time_ns: np.ndarray

    @property
    def n_bars(self) -> int:
        return int(self.bar_end.shape[0])

    @property
    def price(self) -> np.ndarray:
        """The price of each bar: the close of its last path bar."""
        return np.asarray(self.pc[self.bar_end - 1])

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The kernel's market arguments, in order."""
        return (
            self.po,
            self.ph,
            self.pl,
            self.pc,
            self.psub,
            self.bar_end,
            self.decide,
            self.f_pos,
            self.f_rate,
            self.f_mark,
            self.g_gap,
            self.g_rate,
        )


def _f64(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64)


def _detail_ends(bars: Bars, detail: Bars, step: int) -> tuple[np.ndarray, np.ndarray]:
    """The kept detail bars (positions) and each bar's end among them (docs/grid.md §1)."""
    name = detail.source or detail.symbol or "detail"
    d_step = int(infer_bar_interval(detail.time).value)
    if d_step > step:
        raise ConfigError(
            f"grid.detail: {name} has bars of {pd.Timedelta(d_step)}, coarser than the "
            f"strategy's bars of {pd.Timedelta(step)}"
        )
    if step % d_step:
        raise ConfigError(
            f"grid.detail: bars of {pd.Timedelta(d_step)} ({name}) do not divide the "
            f"strategy's bars of {pd.Timedelta(step)}"
        )
    t = _ns(bars.time)
    dt_ns = _ns(detail.time)
    owner = np.searchsorted(t, dt_ns, side="right") - 1
    inside = (owner >= 0) & (dt_ns < t[np.maximum(owner, 0)] + step)
    kept = np.flatnonzero(inside)
    counts = np.bincount(owner[kept], minlength=t.size)
    if (counts == 0).any():
        j = int(np.argmax(counts == 0))
        raise DataError(
            f"grid.detail: no bar of {name} inside the bar at {pd.Timestamp(int(t[j]))}"
        )
    return kept, np.cumsum(counts).astype(np.int64)


def build_market(
    bars: Bars,
    *,
    detail: Bars | None = None,
    funding: Funding | None = None,
    decide: np.ndarray | None = None,
) -> GridMarket:
    """The path bars, decision flags and funding charges of a grid run on `bars`.

    Args:
        bars: The strategy's bars (validated).
        detail: A finer series walked in place of each bar's own path (``path: detail``).
        funding: The funding schedule, or None for none.
        decide: bool[n], the bars whose close is a decision (default: every bar).

    Raises:
        ConfigError, DataError: the detail series is coarser than the bars, does not
            divide them or leaves a bar empty; a mark series does not reach back far enough.
    """
    n = len(bars)
    step = int(infer_bar_interval(bars.time).value)
    t = _ns(bars.time)
    if detail is None:
        path_t = t
        path = (bars.open, bars.high, bars.low, bars.close)
        psub = np.arange(n, dtype=np.int64)
        bar_end = np.arange(1, n + 1, dtype=np.int64)
        path_step = step
    else:
        kept, bar_end = _detail_ends(bars, detail, step)
        path_t = _ns(detail.time)[kept]
        path = tuple(np.asarray(getattr(detail, c))[kept] for c in ("open", "high", "low", "close"))
        psub = kept.astype(np.int64)
        path_step = int(infer_bar_interval(detail.time).value)
    if decide is None:
        flags = np.ones(n, dtype=np.int8)
    else:
        flags = np.ascontiguousarray(decide, dtype=np.int8)
        if flags.shape != (n,):
            raise ValueError(f"decide has shape {flags.shape}, expected ({n},)")
    po, ph, pl, pc = (_f64(a) for a in path)
    close_ns = t + step
    if funding is None:
        empty_i = np.zeros(0, dtype=np.int64)
        empty_f = np.zeros(0, dtype=np.float64)
        return GridMarket(
            po, ph, pl, pc, psub, bar_end, flags, empty_i, empty_f, empty_f,
            np.full(n, np.inf), np.zeros(n), empty_i,
        )  # fmt: skip
    times, rates = funding.instants(int(path_t[0]), int(path_t[-1]) + path_step)
    # the first path bar whose close time is after the instant pays it, at its start
    pos = np.searchsorted(path_t + path_step, times, side="right").astype(np.int64)
    marks = funding.marks_at(times, po[pos] if pos.size else np.zeros(0))
    gap, forecast = funding.guard(close_ns)
    return GridMarket(
        po, ph, pl, pc, psub, bar_end, flags, pos, _f64(rates), _f64(marks),
        _f64(gap), _f64(forecast), times.astype(np.int64),
    )  # fmt: skip

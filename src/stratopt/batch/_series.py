"""The series of a batch: each data file loaded once, each timeframe resampled once.

A file that cannot be read or validated becomes error rows, never an abort; a
timeframe that cannot be made from a file's bars (finer than them, or not a whole
multiple) is bad input and raises `ConfigError`.
"""

from __future__ import annotations

import dataclasses
import glob
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from stratopt.data import (
    GIVEN_RULE,
    Bars,
    infer_bar_interval,
    load_bars,
    parse_timeframe,
    resample,
    timeframe_label,
)
from stratopt.errors import ConfigError, DataError

__all__ = ["Series", "SeriesOptions", "expand_symbols", "load_series", "timeframe_label"]


@dataclass(frozen=True, eq=False)
class Series:
    """One symbol at one timeframe: its bars, or why there are none."""

    symbol: str
    timeframe: str
    source: str
    bars: Bars | None
    error: str | None = None

    @property
    def label(self) -> str:
        return f"{self.symbol}/{self.timeframe}"


@dataclass(frozen=True)
class SeriesOptions:
    """How files become bars: date range and annualization, as in a study's `data:`."""

    start: str | None = None
    end: str | None = None
    periods_per_year: float | None = None


def expand_symbols(patterns: Sequence[str], base: Path | None = None) -> list[str]:
    """Files named by `patterns` (paths or globs), in the given order, each once.

    Raises:
        ConfigError: a pattern that names no file.
    """
    out: list[str] = []
    for pattern in patterns:
        path = Path(pattern)
        if base is not None and not path.is_absolute() and not pattern.startswith("pkg://"):
            path = base / path
        if pattern.startswith("pkg://"):
            found = [pattern]
        elif glob.has_magic(str(path)):
            found = sorted(glob.glob(str(path)))
        else:
            found = [str(path)] if path.exists() else []
        if not found:
            raise ConfigError(f"--symbols: {pattern!r} matches no file")
        out.extend(f for f in found if f not in out)
    return out


def _parse(timeframes: Sequence[str]) -> list[tuple[str, pd.Timedelta]]:
    steps = []
    for tf in timeframes:
        try:
            steps.append((tf, parse_timeframe(tf)))
        except ConfigError as exc:
            raise ConfigError(f"--timeframes: {exc}") from None
    return steps


def _at(bars: Bars, tf: str, step: pd.Timedelta, ppy: float | None) -> Bars:
    interval = infer_bar_interval(bars.time)
    if step < interval or int(step.value) % int(interval.value):
        why = "finer than" if step < interval else "not a whole multiple of"
        raise ConfigError(
            f"--timeframes: {tf!r} is {why} the {timeframe_label(interval)} bars of {bars.source}"
        )
    out = resample(bars, tf)
    if not ppy:
        return out
    return dataclasses.replace(out, periods_per_year=ppy, annualization_rule=GIVEN_RULE)


def load_series(
    paths: Sequence[str],
    timeframes: Sequence[str] | None,
    options: SeriesOptions | None = None,
) -> list[Series]:
    """Every (file, timeframe), files outer: one load per file, one resample per timeframe.

    `timeframes=None` keeps each file's bars as they are (labelled by their interval).

    Raises:
        ConfigError: a timeframe that is not understood or cannot be made from a file's
            bars, or two files of the same symbol.
    """
    opts = options or SeriesOptions()
    steps = _parse(timeframes) if timeframes else None
    out: list[Series] = []
    owner: dict[str, str] = {}
    for path in paths:
        try:
            bars = load_bars(path, start=opts.start, end=opts.end,
                             periods_per_year=opts.periods_per_year)  # fmt: skip
        except DataError as exc:
            symbol = Path(path).name.split("_")[0].split(".")[0]
            for tf in [tf for tf, _ in steps] if steps else ["?"]:
                out.append(Series(symbol, tf, path, None, str(exc)))
            continue
        if bars.symbol in owner:
            raise ConfigError(
                f"--symbols: {owner[bars.symbol]} and {path} are both symbol {bars.symbol!r}"
            )
        owner[bars.symbol] = path
        if steps is None:
            label = timeframe_label(infer_bar_interval(bars.time))
            out.append(Series(bars.symbol, label, path, bars))
            continue
        for tf, step in steps:
            try:
                out.append(
                    Series(bars.symbol, tf, path, _at(bars, tf, step, opts.periods_per_year))
                )
            except DataError as exc:  # e.g. fewer than 2 bars at this timeframe
                out.append(Series(bars.symbol, tf, path, None, str(exc)))
    return out

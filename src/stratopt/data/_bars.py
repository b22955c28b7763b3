"""The in-memory form of one symbol's OHLCV series."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from stratopt.data._frequency import MADE_RULE, Annualization

__all__ = ["Bars"]

_COLUMNS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True, eq=False)
class Bars:
    """OHLCV bars of one symbol, oldest first.

    Arrays are float64, C-contiguous and of equal length; `time` is
    ``datetime64[ns]`` in UTC without a zone. Instances are validated by the loaders
    (`stratopt.data.load_bars`, `stratopt.data.synthetic_bars`); construct them
    directly only from data you have checked.
    """

    time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    symbol: str = ""
    source: str = ""
    periods_per_year: float = field(default=252.0)
    # which rule of docs/data.md "Bars per year" chose `periods_per_year`
    annualization_rule: str = MADE_RULE

    @property
    def annualization(self) -> Annualization:
        """`periods_per_year` and the rule that chose it."""
        return Annualization(float(self.periods_per_year), self.annualization_rule)

    def __len__(self) -> int:
        return int(self.close.shape[0])

    @property
    def index(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.time, name="timestamp")

    def to_frame(self) -> pd.DataFrame:
        """The bars as a DataFrame with lower-case OHLCV columns and a time index."""
        return pd.DataFrame({c: getattr(self, c) for c in _COLUMNS}, index=self.index)

    def slice(self, start: int, stop: int) -> Bars:
        """Bars ``start:stop`` (positions), sharing memory with this object."""
        kw = {c: getattr(self, c)[start:stop] for c in _COLUMNS}
        return Bars(
            time=self.time[start:stop],
            symbol=self.symbol,
            source=self.source,
            periods_per_year=self.periods_per_year,
            annualization_rule=self.annualization_rule,
            **kw,
        )

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        symbol: str = "",
        source: str = "",
        periods_per_year: float = 252.0,
        annualization_rule: str = MADE_RULE,
    ) -> Bars:
        """Bars from a DataFrame with a DatetimeIndex and lower-case OHLCV columns.

        No validation happens here; use `stratopt.data.validate_frame` first.
        """
        idx = pd.DatetimeIndex(frame.index)
        if idx.tz is not None:
            idx = idx.tz_convert("UTC").tz_localize(None)
        arrays = {
            c: np.ascontiguousarray(frame[c].to_numpy(dtype=np.float64))
            if c in frame
            else np.zeros(len(frame))
            for c in _COLUMNS
        }
        return cls(
            time=idx.to_numpy(dtype="datetime64[ns]"),
            symbol=symbol,
            source=source,
            periods_per_year=periods_per_year,
            annualization_rule=annualization_rule,
            **arrays,
        )

"""Market data: loading, validation, resampling and synthetic series."""

from __future__ import annotations

from stratopt.data._bars import Bars
from stratopt.data._edge import PlantedEdge
from stratopt.data._frequency import (
    GIVEN_RULE,
    MADE_RULE,
    Annualization,
    annualization,
    as_ns,
    infer_bar_interval,
    infer_periods_per_year,
    parse_timeframe,
    timeframe_label,
)
from stratopt.data._funding import FundingRates, load_funding_rates
from stratopt.data._load import load_bars, select_range
from stratopt.data._resample import resample
from stratopt.data._synthetic import synthetic_bars
from stratopt.data._time import ISO_HINT, is_iso_text, parse_time
from stratopt.data._validate import validate_frame

__all__ = [
    "GIVEN_RULE",
    "ISO_HINT",
    "MADE_RULE",
    "Annualization",
    "Bars",
    "FundingRates",
    "PlantedEdge",
    "annualization",
    "as_ns",
    "infer_bar_interval",
    "infer_periods_per_year",
    "is_iso_text",
    "load_bars",
    "load_funding_rates",
    "parse_time",
    "parse_timeframe",
    "resample",
    "select_range",
    "synthetic_bars",
    "timeframe_label",
    "validate_frame",
]

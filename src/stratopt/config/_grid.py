"""The `grid:` section of a study file (docs/grid.md §10), validated once.

Every problem is reported by `stratopt.config` as one line naming the field
(``study.yaml: grid.path: ...``), exit code 2.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from stratopt.data import parse_timeframe
from stratopt.engine.grid import MAX_LOTS
from stratopt.errors import ConfigError

__all__ = ["FundingConfig", "GridConfig", "is_timeframe"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def is_timeframe(text: str) -> bool:
    """Whether `text` reads as a bar length (``1m``, ``4h``) rather than a file path."""
    try:
        parse_timeframe(text)
    except ConfigError:
        return False
    return True


def _duration(value: Any, *, zero: bool) -> Any:
    if value is None:
        return None
    text = str(value).strip()
    if zero and text.rstrip("smhdwSMHDW") in ("0", ""):
        return text
    if not is_timeframe(text):
        raise ValueError(f"not a duration such as '8h' or '30m', got {value!r}")
    return text


class FundingConfig(_Section):
    """A constant `rate` every `interval` (offset by `phase`), or a rate `file`."""

    rate: float | None = Field(default=None, allow_inf_nan=False)
    interval: str | None = None
    phase: str = "0h"
    file: str | None = None
    mark: str | None = None

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, value: Any) -> Any:
        return _duration(value, zero=False)

    @field_validator("phase", mode="before")
    @classmethod
    def _phase(cls, value: Any) -> Any:
        return _duration(value, zero=True)

    @model_validator(mode="after")
    def _one_source(self) -> FundingConfig:
        if self.rate is None and self.file is None:
            raise ValueError("grid.funding.rate: give a rate (with interval) or a file")
        if self.rate is not None and self.file is not None:
            raise ValueError("grid.funding.file: give a rate or a file, not both")
        if self.rate is not None and self.interval is None:
            raise ValueError(
                f"grid.funding.interval: a constant rate ({self.rate}) needs the interval "
                "between funding instants, e.g. 8h (there is no default)"
            )
        if self.file is not None and self.interval is not None:
            raise ValueError("grid.funding.interval: a rate file gives its own instants")
        return self


Path_ = Literal["ohlc", "olhc", "adaptive", "detail"]


class GridConfig(_Section):
    """How a grid strategy's orders fill: the bar path, detail data, fees, funding."""

    path: Path_ = "adaptive"
    detail: str | None = None
    detail_path: Literal["ohlc", "olhc", "adaptive"] = "adaptive"
    position_mode: Literal["hedge", "netting"] = "hedge"
    maker_fee: float | None = Field(default=None, ge=0, lt=1)
    taker_fee: float | None = Field(default=None, ge=0, lt=1)
    max_lots: int = Field(default=512, ge=1, le=MAX_LOTS)
    funding: FundingConfig | None = None

    @model_validator(mode="after")
    def _detail(self) -> GridConfig:
        if self.path == "detail" and not self.detail:
            raise ValueError(
                "grid.detail: path 'detail' needs the finer bars, a timeframe of the same "
                "data (e.g. 1m) or a file"
            )
        if self.detail and self.path != "detail":
            raise ValueError(
                f"grid.detail: given while grid.path is {self.path!r}; set path: detail"
            )
        return self

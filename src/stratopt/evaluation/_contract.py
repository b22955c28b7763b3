"""What an external evaluator returns, turned into stratopt's own metrics.

An evaluator (a Python function, a command's JSON, the backtesting.py adapter) returns
metrics, and optionally an equity curve and a trade list. The equity curve is put on the
study's bar times inside the measured period (the last reported value at or before each
bar) and every equity metric is computed from it by `stratopt.metrics.compute_metrics`;
the trade list gives the trade metrics; a returned metric of the same id is then kept only
as returned (`ExternalRun.returned`). Ids neither computed nor stratopt's are kept as they
came. The contract is docs/external.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stratopt.errors import StratoptError
from stratopt.metrics import METRICS, compute_metrics

__all__ = [
    "EQUITY_METRICS",
    "TRADE_METRICS",
    "ExternalFailure",
    "ExternalRun",
    "Period",
    "parse_result",
]

# Which metrics an equity curve determines, and which a trade list (docs/metrics.md).
EQUITY_METRICS = frozenset(
    (
        "total_return",
        "cagr",
        "volatility",
        "sharpe",
        "sortino",
        "calmar",
        "max_drawdown",
        "max_drawdown_duration",
        "skew",
        "kurtosis",
        "var_95",
        "cvar_95",
        "ulcer_index",
        "omega",
        "tail_ratio",
        "final_equity",
    )
)
TRADE_METRICS = frozenset(m.id for m in METRICS) - EQUITY_METRICS
_TRADE_FIELDS = ("entry_time", "exit_time", "pnl", "return", "risk")
_KEYS = ("metrics", "equity", "cash", "trades")


class ExternalFailure(StratoptError):
    """One run of an external evaluator failed (its candidate fails, nothing else)."""


@dataclass(frozen=True)
class Period:
    """What one run measures: bars with ``start <= time <= end``; the evaluator may read
    bars from `data_start` on (indicators warm up there, positions may be carried in)."""

    data_start: pd.Timestamp
    start: pd.Timestamp
    end: pd.Timestamp

    def to_dict(self) -> dict[str, str]:
        return {k: _iso(getattr(self, k)) for k in ("data_start", "start", "end")}


def _iso(ts: pd.Timestamp) -> str:
    return ts.isoformat()


@dataclass(frozen=True, eq=False)
class ExternalRun:
    """One candidate over one period, in stratopt's terms.

    Attributes:
        metrics: stratopt's metrics (computed from the curve and trades where given),
            then the returned ids it did not compute.
        returned: the metrics as the evaluator returned them.
        time: the study's bar times in the period (datetime64[ns]).
        equity: the equity at each of them (None: no curve returned).
        cash: the equity before the period's first bar.
        trades: trades opened in the period: entry_time, exit_time, net_pnl, ret,
            bars, ror (None: no trade list returned).
        exposed: per bar of `time`, whether a returned trade was open.
        folder: where the run's files are kept (None: not kept).
    """

    metrics: dict[str, float]
    returned: dict[str, float]
    time: np.ndarray
    equity: np.ndarray | None
    cash: float
    trades: pd.DataFrame | None
    exposed: np.ndarray
    folder: Path | None = None

    @property
    def returns(self) -> np.ndarray | None:
        """Per-bar returns ``E_j / E_{j-1} - 1`` (``E_{-1}`` = cash; 0 once ruined)."""
        if self.equity is None:
            return None
        prev = np.concatenate(([self.cash], self.equity[:-1]))
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(prev > 0, self.equity / prev - 1.0, 0.0)
        return np.where(np.isfinite(r), r, 0.0)


def parse_result(raw: Any, *, period: Period, axis: np.ndarray, ppy: float) -> ExternalRun:
    """Check what an evaluator returned and compute stratopt's metrics from it.

    Args:
        raw: a mapping with any of ``metrics``, ``equity``, ``cash``, ``trades``; or,
            from Python, an equity Series or a trade DataFrame alone.
        period: the measured period.
        axis: the study's sorted bar times (datetime64[ns]); those in the period are
            the curve's times.
        ppy: bars per year.

    Raises:
        ExternalFailure: the result breaks the contract; the message says where.
    """
    parts = _parts(raw)
    returned = _metrics(parts.get("metrics"))
    time = axis[(axis >= period.start.to_datetime64()) & (axis <= period.end.to_datetime64())]
    if time.size == 0:
        raise ExternalFailure(f"no bar of the study between {period.start} and {period.end}")
    curve = None if parts.get("equity") is None else _equity(parts["equity"])
    cash, equity = _on_bars(curve, parts.get("cash"), time, period)
    trades = None
    if parts.get("trades") is not None:
        trades = _trades(parts["trades"], time, period, equity, cash)
    exposed = _exposed(trades, time)
    metrics = _stratopt_metrics(returned, equity, cash, trades, exposed, ppy)
    return ExternalRun(metrics, returned, time, equity, cash, trades, exposed)


def _parts(raw: Any) -> dict[str, Any]:
    if isinstance(raw, pd.Series):
        return {"equity": raw}
    if isinstance(raw, pd.DataFrame):
        return {"trades": raw}
    if not isinstance(raw, Mapping):
        raise ExternalFailure(
            f"expected an object with 'metrics', 'equity', 'cash' or 'trades', got "
            f"{type(raw).__name__}"
        )
    unknown = [k for k in raw if k not in _KEYS]
    if unknown:
        raise ExternalFailure(f"unknown key {unknown[0]!r} (expected: {', '.join(_KEYS)})")
    if not any(raw.get(k) is not None for k in ("metrics", "equity", "trades")):
        raise ExternalFailure("the result holds none of 'metrics', 'equity' and 'trades'")
    return dict(raw)


def _number(value: Any, where: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ExternalFailure(f"{where}: expected a number, got {value!r:.60}")
    return float(value)


def _metrics(raw: Any) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ExternalFailure(f"metrics: expected an object of numbers, got {raw!r:.60}")
    return {str(k): _number(v, f"metrics.{k}") for k, v in raw.items()}


def _times(values: Any, where: str) -> np.ndarray:
    try:
        index = pd.DatetimeIndex(pd.to_datetime(list(values), utc=True))
    except (ValueError, TypeError, OverflowError) as exc:
        raise ExternalFailure(f"{where}: not timestamps ({exc})") from None
    return np.asarray(index.tz_convert("UTC").tz_localize(None).values, dtype="datetime64[ns]")


def _equity(raw: Any) -> pd.Series:
    """The returned curve as a Series on naive UTC times, sorted, finite."""
    if isinstance(raw, pd.Series):
        if not isinstance(raw.index, pd.DatetimeIndex):
            raise ExternalFailure("equity: a Series needs a DatetimeIndex")
        times, values = _times(raw.index, "equity"), raw.to_numpy(dtype=np.float64)
    elif isinstance(raw, Mapping) and set(raw) == {"time", "value"}:
        times = _times(raw["time"], "equity.time")
        values = np.array([_number(v, "equity.value") for v in raw["value"]], dtype=np.float64)
    elif isinstance(raw, Sequence) and not isinstance(raw, str):
        pairs = [p for p in raw if isinstance(p, Sequence) and len(p) == 2]
        if len(pairs) != len(raw):
            raise ExternalFailure(
                "equity: expected [[time, value], ...] or {time: [...], value: [...]}"
            )
        times = _times([p[0] for p in pairs], "equity")
        values = np.array([_number(p[1], "equity") for p in pairs], dtype=np.float64)
    else:
        raise ExternalFailure(
            "equity: expected {time: [...], value: [...]} or [[time, value], ...]"
        )
    if len(times) != len(values):
        raise ExternalFailure(f"equity: {len(times)} times but {len(values)} values")
    if not np.isfinite(values).all():
        raise ExternalFailure("equity: every value must be a finite number")
    curve = pd.Series(values, index=pd.DatetimeIndex(times))
    if curve.index.has_duplicates:
        raise ExternalFailure(
            f"equity: time {curve.index[curve.index.duplicated()][0]} given twice"
        )
    return curve.sort_index()


def _on_bars(
    curve: pd.Series | None, cash_given: Any, time: np.ndarray, period: Period
) -> tuple[float, np.ndarray | None]:
    """The period's starting equity and the curve at each bar of the period.

    Starting equity: the last point before the period, else `cash`, else the first
    point in it. A bar before the curve's first point holds the starting equity.
    """
    cash = None if cash_given is None else _number(cash_given, "cash")
    if curve is None:
        if cash is not None and not cash > 0:
            raise ExternalFailure(f"cash: must be > 0, got {cash_given!r}")
        return (cash if cash is not None else math.nan), None
    before = curve[curve.index < period.start]
    inside = curve[(curve.index >= period.start) & (curve.index <= period.end)]
    if inside.empty:
        raise ExternalFailure(
            f"equity: no point between {period.start} and {period.end} (the measured period)"
        )
    start = (
        float(before.iloc[-1])
        if len(before)
        else cash
        if cash is not None
        else float(inside.iloc[0])
    )
    if not start > 0:
        raise ExternalFailure(f"the equity before the period is {start!r}; it must be > 0")
    on_bars = inside.reindex(pd.DatetimeIndex(time), method="ffill").fillna(start)
    return start, on_bars.to_numpy(dtype=np.float64)


def _trades(
    raw: Any, time: np.ndarray, period: Period, equity: np.ndarray | None, cash: float
) -> pd.DataFrame:
    frame = _trade_frame(raw)
    entry = _times(frame["entry_time"], "trades.entry_time")
    keep = (entry >= period.start.to_datetime64()) & (entry <= period.end.to_datetime64())
    frame, entry = frame[keep].reset_index(drop=True), entry[keep]
    exit_ = (
        entry
        if "exit_time" not in frame
        else _times(frame["exit_time"].fillna(period.end), "trades.exit_time")
    )
    if (exit_ < entry).any():
        raise ExternalFailure("trades: a trade exits before it enters")
    pnl = np.array([_number(v, "trades.pnl") for v in frame["pnl"]], dtype=np.float64)
    a, b = np.searchsorted(time, entry), np.searchsorted(time, exit_)
    if "return" in frame:
        ret = np.array([_number(v, "trades.return") for v in frame["return"]], dtype=np.float64)
    else:  # the trade's pnl over the equity before it opened
        if equity is None and not math.isfinite(cash):
            raise ExternalFailure(
                "trades: give each trade's 'return', or 'cash' or an equity curve to compute it"
            )
        marks = (
            np.concatenate(([cash], equity)) if equity is not None else np.full(len(time) + 1, cash)
        )
        ret = pnl / marks[np.minimum(a, len(time))]
    ror = ret
    if "risk" in frame:
        risk = np.array([_number(v, "trades.risk") for v in frame["risk"]], dtype=np.float64)
        ror = np.where(risk > 0, pnl / np.where(risk > 0, risk, 1.0), np.nan)
    if not (np.isfinite(pnl).all() and np.isfinite(ret).all()):
        raise ExternalFailure("trades: pnl and return must be finite numbers")
    return pd.DataFrame(
        {
            "entry_time": pd.DatetimeIndex(entry),
            "exit_time": pd.DatetimeIndex(exit_),
            "net_pnl": pnl,
            "ret": ret,
            "bars": (b - a).astype(np.float64),
            "ror": ror,
        }
    )


def _trade_frame(raw: Any) -> pd.DataFrame:
    if isinstance(raw, pd.DataFrame):
        frame = raw.reset_index(drop=True)
    elif (
        isinstance(raw, Sequence)
        and not isinstance(raw, str)
        and all(isinstance(t, Mapping) for t in raw)
    ):
        frame = pd.DataFrame(list(raw))
    else:
        raise ExternalFailure("trades: expected a list of objects (entry_time, pnl, ...)")
    unknown = [c for c in frame.columns if c not in _TRADE_FIELDS]
    if unknown:
        raise ExternalFailure(
            f"trades: unknown field {unknown[0]!r} (expected: {', '.join(_TRADE_FIELDS)})"
        )
    if len(frame) and not {"entry_time", "pnl"} <= set(frame.columns):
        raise ExternalFailure("trades: each trade needs 'entry_time' and 'pnl'")
    if not len(frame):
        return pd.DataFrame({"entry_time": [], "pnl": []})
    return frame


def _exposed(trades: pd.DataFrame | None, time: np.ndarray) -> np.ndarray:
    """Bars at which a trade was open: from its entry bar up to, not including, its exit."""
    out = np.zeros(len(time), dtype=bool)
    if trades is None or trades.empty:
        return out
    a = np.searchsorted(time, trades["entry_time"].to_numpy(dtype="datetime64[ns]"))
    b = np.searchsorted(time, trades["exit_time"].to_numpy(dtype="datetime64[ns]"))
    delta = np.zeros(len(time) + 1, dtype=np.int64)
    np.add.at(delta, a, 1)
    np.add.at(delta, np.maximum(a, b), -1)
    out[:] = np.cumsum(delta[:-1]) > 0
    return out


def _stratopt_metrics(
    returned: dict[str, float],
    equity: np.ndarray | None,
    cash: float,
    trades: pd.DataFrame | None,
    exposed: np.ndarray,
    ppy: float,
) -> dict[str, float]:
    computed: dict[str, float] = {}
    if equity is not None or trades is not None:
        t = (
            trades
            if trades is not None
            else pd.DataFrame({c: [] for c in ("net_pnl", "ret", "bars", "ror")})
        )
        start = cash if math.isfinite(cash) else 1.0
        curve = equity if equity is not None else np.full(len(exposed), start)
        all_metrics = compute_metrics(
            curve,
            cash=start,
            trades_net_pnl=t["net_pnl"].to_numpy(dtype=np.float64),
            trades_ret=t["ret"].to_numpy(dtype=np.float64),
            trades_bars=t["bars"].to_numpy(dtype=np.float64),
            trades_ret_on_risk=t["ror"].to_numpy(dtype=np.float64),
            exposure_bars=int(exposed.sum()),
            periods_per_year=ppy,
        )
        wanted = (EQUITY_METRICS if equity is not None else frozenset()) | (
            TRADE_METRICS if trades is not None else frozenset()
        )
        computed = {k: v for k, v in all_metrics.items() if k in wanted}
    return {**computed, **{k: v for k, v in returned.items() if k not in computed}}

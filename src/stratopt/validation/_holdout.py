"""The holdout: the tail of the data kept out of the search, then used to re-test the best.

`prepare_holdout` finds the cut and returns the study the search may see (its data end
set to just before the first holdout bar); `evaluate_holdout` re-runs the top candidates
on the holdout (see `stratopt.validation._segments` for how a segment is measured) and
puts in- and out-of-sample metrics side by side.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from stratopt.config import StudyConfig
from stratopt.errors import ConfigError
from stratopt.evaluation import Router, SegmentRunner, time_axis
from stratopt.metrics import METRICS
from stratopt.validation._windows import holdout_start

__all__ = [
    "Holdout",
    "HoldoutReport",
    "degradation",
    "evaluate_holdout",
    "prepare_holdout",
]

_HIGHER = {m.id: m.higher_is_better for m in METRICS}
# Metrics shown in summaries and tables; holdout.csv holds every metric. Degradation is
# summarized only for metrics that do not grow with the number of bars (total_return and
# trades do: the holdout is shorter than the in-sample period).
KEY_METRICS = ("sharpe", "cagr", "total_return", "max_drawdown", "profit_factor", "trades")
RATE_METRICS = ("sharpe", "sortino", "cagr", "max_drawdown", "profit_factor", "win_rate")


@dataclass(frozen=True)
class Holdout:
    """Where the holdout starts, and the study restricted to the bars before it."""

    start: pd.Timestamp
    last_in_sample: pd.Timestamp
    end: pd.Timestamp
    in_sample_bars: int
    holdout_bars: int
    in_sample: StudyConfig
    runner: SegmentRunner


@dataclass(frozen=True)
class HoldoutReport:
    """The top candidates re-run on the holdout."""

    frame: pd.DataFrame
    summary: dict[str, Any]


def prepare_holdout(study: StudyConfig, router: Router) -> Holdout | None:
    """The holdout of `study` (None without `validation.holdout`).

    The cut is taken on the union of the symbols' bar times (so every symbol is cut at
    the same time); the search study's `data.end` becomes one nanosecond before the
    first holdout bar, so no holdout bar (nor a raw bar inside it, when resampling)
    reaches the search.

    Raises:
        ConfigError: a bad holdout, or `data.start`/`data.end` searched in the space.
    """
    spec = study.validation.holdout
    if spec is None:
        return None
    for name in router.names:
        if name in ("data.start", "data.end"):
            raise ConfigError(
                f"space.{name}: cannot be searched together with validation.holdout "
                "(the holdout fixes where the searched data ends)"
            )
    runner = SegmentRunner(study, router)
    axis = time_axis(runner.bars())
    cut = holdout_start(axis, spec)
    start = pd.Timestamp(axis[cut])
    end_text = (start - pd.Timedelta(1, unit="ns")).isoformat()
    data = study.data.model_copy(update={"end": end_text})
    return Holdout(
        start=start,
        last_in_sample=pd.Timestamp(axis[cut - 1]),
        end=pd.Timestamp(axis[-1]),
        in_sample_bars=cut,
        holdout_bars=len(axis) - cut,
        in_sample=study.model_copy(update={"data": data}),
        runner=runner,
    )


def degradation(metric: str, in_sample: float, out_of_sample: float) -> float:
    """How much worse the metric got out of sample, as a fraction of ``|in-sample|``.

    Positive means worse (lower for a higher-is-better metric, higher for a
    lower-is-better one); NaN when the in-sample value is 0 or either is not finite.
    """
    if not (math.isfinite(in_sample) and math.isfinite(out_of_sample)) or in_sample == 0:
        return math.nan
    worse = in_sample - out_of_sample if _HIGHER.get(metric, True) else out_of_sample - in_sample
    return worse / abs(in_sample)


def evaluate_holdout(
    holdout: Holdout,
    ranked: pd.DataFrame,
    params: Mapping[int, Mapping[str, Any]],
    *,
    top: int,
    objective: Any,
) -> HoldoutReport:
    """Re-run the `top` best completed candidates of `ranked` on the holdout.

    Args:
        holdout: from `prepare_holdout`.
        ranked: the study's ranking (`stratopt.storage.ranked_frame`), best first.
        params: each trial number's parameters, as the search gave them.
        top: how many completed candidates to re-run.
        objective: the study's objective; its value is computed out of sample too.
    """
    done = ranked[ranked["state"] == "complete"].head(top) if not ranked.empty else ranked
    param_cols = [c for c in ranked.columns if c.startswith("params.")]
    value_cols = [c for c in ranked.columns if c == "value" or c.startswith("value_")]
    rows: list[dict[str, Any]] = []
    for _, row in done.iterrows():
        seg = holdout.runner.run(params[int(row["trial"])], holdout.start, None)
        out: dict[str, Any] = {"rank": int(row["rank"]), "trial": int(row["trial"])}
        out.update({c: row[c] for c in param_cols})
        oos_values = _objective_values(objective, seg.metrics)
        for i, c in enumerate(value_cols):
            out[f"is.{c}"] = float(row[c])
            out[f"oos.{c}"] = oos_values[i] if oos_values else math.nan
        for m in METRICS:
            is_v = float(row.get(f"metrics.{m.id}", math.nan))
            oos_v = seg.metrics[m.id] if seg.metrics else math.nan
            out[f"is.{m.id}"] = is_v
            out[f"oos.{m.id}"] = oos_v
            out[f"degradation.{m.id}"] = degradation(m.id, is_v, oos_v)
        out["error"] = seg.error or ""
        rows.append(out)
    frame = pd.DataFrame(rows)
    return HoldoutReport(frame, _summary(holdout, frame, top, value_cols))


def _objective_values(objective: Any, metrics: dict[str, float] | None) -> list[float] | None:
    if metrics is None:
        return None
    values = objective.values(metrics).values
    return None if values is None else [float(v) for v in values]


def _summary(
    holdout: Holdout, frame: pd.DataFrame, top: int, value_cols: Sequence[str]
) -> dict[str, Any]:
    keys = [*value_cols, *KEY_METRICS]
    candidates = []
    for _, r in frame.iterrows():
        entry: dict[str, Any] = {"rank": int(r["rank"]), "trial": int(r["trial"])}
        entry["params"] = {c.removeprefix("params."): _plain(r[c]) for c in frame.columns
                           if c.startswith("params.") and not _missing(r[c])}  # fmt: skip
        entry["in_sample"] = {k: _num(r[f"is.{k}"]) for k in keys}
        entry["out_of_sample"] = {k: _num(r[f"oos.{k}"]) for k in keys}
        entry["degradation"] = {k: _num(r[f"degradation.{k}"]) for k in RATE_METRICS}
        if r["error"]:
            entry["error"] = r["error"]
        candidates.append(entry)
    median = {}
    for k in RATE_METRICS:
        col = f"degradation.{k}"
        vals = frame[col].dropna() if col in frame else pd.Series(dtype=float)
        median[k] = _num(float(vals.median())) if len(vals) else None
    return {
        "start": str(holdout.start),
        "end": str(holdout.end),
        "last_in_sample": str(holdout.last_in_sample),
        "in_sample_bars": holdout.in_sample_bars,
        "holdout_bars": holdout.holdout_bars,
        "top": top,
        "evaluated": len(frame),
        "median_degradation": median,
        "candidates": candidates,
        "file": "holdout.csv",
    }


def _num(value: Any) -> float | None:
    v = float(value)
    return v if math.isfinite(v) else None


def _missing(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value

"""The walk-forward run folder: walk_forward.csv, walk_forward.json, walk_forward_equity.csv."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from stratopt.config import StudyConfig
from stratopt.storage import write_json
from stratopt.validation import WindowResult, drift, efficiency, window_efficiency

__all__ = ["summarize", "window_rows", "write_walk_forward"]


def summarize(
    study: StudyConfig,
    results: Sequence[WindowResult],
    stitched: dict[str, float],
    names: Sequence[str],
    *,
    url: str,
) -> dict[str, Any]:
    """What walk_forward.json holds (timings are added by the caller under "run")."""
    spec = study.validation.walk_forward
    windows = []
    for r in results:
        w = r.window
        windows.append(
            {
                "window": w.index,
                "study": r.study_name,
                "train": {"start": str(r.train[0]), "end": _end(r.train[1]), "bars": w.train_bars},
                "test": {"start": str(r.test[0]), "end": _end(r.test[1]), "bars": w.test_bars},
                "trial": r.trial,
                "params": r.params,
                "in_sample": {"values": r.values_in, "metrics": r.in_sample},
                "out_of_sample": {"values": r.values_out, "metrics": r.out_of_sample},
                "efficiency": window_efficiency(r),
                "counts": r.counts,
                "error": r.error,
            }
        )
    return {
        "study": study.name,
        "storage": url,
        "walk_forward": spec.model_dump() if spec is not None else None,
        "objective": study.objective,
        "n_windows": len(results),
        "windows": windows,
        "stitched": {"bars": 0, "metrics": stitched},  # bars/range set when written
        "efficiency": efficiency(results, stitched),
        "drift": drift(results, names),
    }


def _end(ts: pd.Timestamp | None) -> str | None:
    return None if ts is None else str(ts)


def window_rows(results: Sequence[WindowResult], metric_ids: Sequence[str]) -> pd.DataFrame:
    """walk_forward.csv: one row per window."""
    rows = []
    for r in results:
        w = r.window
        row: dict[str, Any] = {
            "window": w.index,
            "study": r.study_name,
            "train_start": r.train[0],
            "train_end": r.train[1],
            "test_start": r.test[0],
            "test_end": r.test[1],
            "train_bars": w.train_bars,
            "test_bars": w.test_bars,
            "trial": r.trial,
        }
        for i, v in enumerate(r.values_in or []):
            row[f"is.value_{i}" if len(r.values_in or []) > 1 else "is.value"] = v
        for i, v in enumerate(r.values_out or []):
            row[f"oos.value_{i}" if len(r.values_out or []) > 1 else "oos.value"] = v
        row.update({f"params.{k}": v for k, v in (r.params or {}).items()})
        for m in metric_ids:
            row[f"is.{m}"] = (r.in_sample or {}).get(m, math.nan)
            row[f"oos.{m}"] = (r.out_of_sample or {}).get(m, math.nan)
        eff = window_efficiency(r)
        row["wfe_return"] = eff["return"]
        row["wfe_sharpe"] = eff["sharpe"]
        row["error"] = r.error or ""
        rows.append(row)
    return pd.DataFrame(rows)


def write_walk_forward(
    run_dir: Path,
    results: Sequence[WindowResult],
    equity: pd.DataFrame,
    report: dict[str, Any],
    metric_ids: Sequence[str],
) -> None:
    """walk_forward.csv, walk_forward.json and walk_forward_equity.csv in `run_dir`."""
    window_rows(results, metric_ids).to_csv(
        run_dir / "walk_forward.csv", index=False, date_format="%Y-%m-%dT%H:%M:%S"
    )
    curve = equity.rename_axis("timestamp")
    curve.to_csv(run_dir / "walk_forward_equity.csv", date_format="%Y-%m-%dT%H:%M:%S")
    if len(curve):
        report["stitched"]["bars"] = len(curve)
        report["stitched"]["start"] = str(curve.index[0])
        report["stitched"]["end"] = str(curve.index[-1])
    else:
        report["stitched"]["bars"] = 0
    report["files"] = ["walk_forward.csv", "walk_forward.json", "walk_forward_equity.csv"]
    write_json(run_dir / "walk_forward.json", report)

"""What the optimize and walk-forward jobs run, and their compact outcomes.

A job calls the operation the CLI calls (`optimize_study`, `walk_forward`) with the
study it was given, so its results are the CLI's; the outcome keeps the key numbers
and names the run folder for the rest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from stratopt._jsonable import dumps
from stratopt.config import StudyConfig
from stratopt.mcp_server._jobs import Tracker, Work
from stratopt.mcp_server._models import (
    Candidate,
    OptimizeOutcome,
    Overfitting,
    WalkForwardOutcome,
    WindowOutcome,
)
from stratopt.mcp_server._workspace import Workspace
from stratopt.operations import OptimizeResult, WalkForwardResult, optimize_study, walk_forward
from stratopt.search import Progress
from stratopt.validation import WindowResult

__all__ = ["KEY_METRICS", "candidate", "key_metrics", "optimize_work", "overfitting",
           "walk_forward_work"]  # fmt: skip

# The metrics results carry inline; every metric is in the run folder.
KEY_METRICS = ("sharpe", "sortino", "cagr", "total_return", "max_drawdown", "volatility",
               "trades", "win_rate", "profit_factor", "exposure")  # fmt: skip


def key_metrics(metrics: Mapping[str, Any] | None, extra: tuple[str, ...] = ()) -> dict[str, float]:
    """The key metrics (and `extra`, the objective's) of a full metrics mapping."""
    if not metrics:
        return {}
    return {k: float(metrics[k]) for k in (*KEY_METRICS, *extra) if k in metrics}


def candidate(row: Mapping[str, Any] | None) -> Candidate | None:
    """A robustness report's candidate (`best`/`robust` of summary.json's `robustness`)."""
    if not row or row.get("trial") is None:
        return None
    return Candidate(
        trial=int(row["trial"]), params=dict(row.get("params") or {}), value=row.get("value"),
        neighbour_mean=row.get("neighbour_mean"), worst_neighbour=row.get("worst"),
    )  # fmt: skip


def overfitting(stats: Mapping[str, Any] | None) -> Overfitting | None:
    """DSR, PBO, SPA and the verdict of a `study_statistics` dict."""
    if not stats or not stats.get("verdict"):
        return None
    return Overfitting(
        verdict=str(stats["verdict"]),
        dsr=stats.get("dsr", {}).get("value"),
        pbo=stats.get("pbo", {}).get("pbo"),
        spa_pvalue=stats.get("spa", {}).get("pvalue_consistent"),
    )


def optimize_work(cfg: StudyConfig, url: str, target: int, ws: Workspace, *,
                  options: Mapping[str, bool]) -> Work:  # fmt: skip
    """The optimize job of `cfg` in `url`; `options`: optimize_study's `analyze` and
    `report`."""

    def run(tracker: Tracker) -> OptimizeOutcome:
        def report(p: Progress) -> None:
            tracker.update(complete=min(p.complete, p.target), target=p.target)

        result = optimize_study(cfg, storage=url, on_progress=report,
                                analyze=options["analyze"], report=options["report"])  # fmt: skip
        return optimize_outcome(result, ws)

    return Work("optimize", cfg.name, url, target, run)


def optimize_outcome(result: OptimizeResult, ws: Workspace) -> OptimizeOutcome:
    best = None
    if result.best_trial is not None and result.best_params is not None:
        values = result.best_values or []
        best = Candidate(
            trial=result.best_trial, params=result.best_params,
            value=values[0] if len(values) == 1 else None,
        )  # fmt: skip
    report = result.robustness.report if result.robustness is not None else None
    robustness = report.to_dict() if report is not None else {}
    folder = result.run_folder
    written = result.report_file
    return OptimizeOutcome(
        best=best,
        best_metrics=key_metrics(result.best_metrics),
        robust=candidate(robustness.get("robust")),
        stability=(robustness.get("stability") or {}).get("verdict"),
        overfitting=overfitting(result.statistics),
        lookahead_clean=result.lookahead.clean if result.lookahead is not None else None,
        counts=result.counts,
        stopped_by=result.stopped_by,
        run_folder=ws.show(folder.path),
        summary_path=ws.show(folder.summary),
        ranked_path=ws.show(folder.ranked),
        report_path=ws.show(written.path) if written and written.path else None,
        report_problem=written.problem if written else None,
    )


def walk_forward_work(cfg: StudyConfig, url: str, target: int, ws: Workspace) -> Work:
    """The walk-forward job of `cfg`: its window studies in `url`, windows in turn."""

    def run(tracker: Tracker) -> WalkForwardOutcome:
        done: dict[int, int] = {}

        def report(window: int, windows: int, p: Progress) -> None:
            done[window] = min(p.complete, p.target)
            finished = sum(1 for k in done if k < window)  # windows run in turn
            tracker.update(complete=sum(done.values()), target=windows * p.target,
                           windows=windows, windows_done=finished)  # fmt: skip

        result = walk_forward(cfg, storage=url, jobs=1, on_progress=report)
        return walk_forward_outcome(result, ws)

    return Work("walk_forward", cfg.name, url, target, run)


def _window(w: WindowResult) -> WindowOutcome:
    def span(pair: tuple[Any, Any]) -> tuple[str, str | None]:
        return str(pair[0]), None if pair[1] is None else str(pair[1])

    return WindowOutcome(
        index=w.window.index, train=span(w.train), test=span(w.test), trial=w.trial,
        params=w.params, values_in=w.values_in, values_out=w.values_out,
        out_of_sample=key_metrics(w.out_of_sample) or None, error=w.error,
    )  # fmt: skip


def walk_forward_outcome(result: WalkForwardResult, ws: Workspace) -> WalkForwardOutcome:
    return WalkForwardOutcome(
        windows=[_window(w) for w in result.windows],
        stitched=key_metrics(result.stitched),
        efficiency=json.loads(dumps(result.efficiency, indent=None)),
        run_folder=ws.show(result.run_folder),
        report_path=ws.show(result.run_folder / "walk_forward.json"),
    )

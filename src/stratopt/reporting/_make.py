"""Making a report: run folders or study files in, one report.html out.

A run folder (`optimize`, `walk-forward`, `validate`) is read as written; its study
(the exact config summary.json keeps) is loaded to re-run the best and robust
candidates. A study file is reported from its newest run folder, or, without one, from
the trials in its storage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import optuna

from stratopt.config import StudyConfig, load_study
from stratopt.errors import ConfigError
from stratopt.reporting._compute import StudyContext, compute_extras
from stratopt.reporting._html import missing_extra
from stratopt.reporting._inputs import ReportInput, StoredRun, StudyReport
from stratopt.reporting._page import PlotlyJs, ReportOptions
from stratopt.reporting._read import SUMMARY, folder_kind, read_run_folder, sibling_optimize_run
from stratopt.reporting._write import write_report
from stratopt.storage import load_study_from, ranked_frame, resolve_storage_url

# Public in the operations layer (issue 12); imported from their modules until it lands.
from stratopt.validation import study_from_run_folder
from stratopt.validation._holdout import prepare_holdout

__all__ = ["REPORT_FILE", "ReportExtraMissing", "Target", "load_target", "report"]

REPORT_FILE = "report.html"
COMPARISON_FILE = "report-comparison.html"


class ReportExtraMissing(ConfigError):
    """plotly or jinja2 is not installed (the `report` extra)."""


@dataclass(frozen=True)
class Target:
    """One study to report: what its run stored, its study file, where its report goes."""

    run: StoredRun
    study: StudyConfig | None
    folder: Path


def _study_of(folder: Path) -> StudyConfig | None:
    """The study an optimization run folder was made from; None when it has none
    (a run of `stratopt.optimize` on a Python function)."""
    try:
        return study_from_run_folder(folder)
    except ConfigError:
        return None


def _newest_run(study: StudyConfig) -> Path | None:
    root = study.output_dir / study.name
    if not root.is_dir():
        return None
    runs = [p for p in root.iterdir() if p.is_dir() and (p / SUMMARY).is_file()]
    return max(runs, key=lambda p: p.name) if runs else None


def _from_storage(study: StudyConfig, storage: str | None) -> StoredRun:
    url = resolve_storage_url(storage, study.storage, study.output_dir)
    stored = load_study_from(study.name, url)
    directions = [d.name.lower() for d in stored.directions]
    counts: dict[str, int] = {}
    for t in stored.get_trials(deepcopy=False):
        counts[t.state.name.lower()] = counts.get(t.state.name.lower(), 0) + 1
    summary: dict[str, Any] = {
        "study": study.name,
        "directions": directions,
        "counts": counts,
        "config": json.loads(study.model_dump_json()),
        "strategy": study.strategy,
    }
    robustness = stored.user_attrs.get("stratopt:robustness")
    if isinstance(robustness, Mapping):
        summary["robustness"] = dict(robustness)
    ranked = ranked_frame(stored, directions)
    return StoredRun(kind="optimize", folder=None, summary=summary, ranked=ranked)


def load_target(path: Path, *, storage: str | None = None) -> Target:
    """A run folder or a study file, ready to report.

    Raises:
        ConfigError: neither a run folder nor a readable study file, or the study has
            neither a run folder nor trials in its storage.
    """
    if path.is_dir():
        kind = folder_kind(path)
        if kind is None:
            raise ConfigError(
                f"{path}: not a run folder (no summary.json, walk_forward.json "
                "or validation.json) and not a study file"
            )
        run = read_run_folder(path)
        base = path if kind == "optimize" else sibling_optimize_run(path)
        return Target(run, _study_of(base) if base is not None else None, path)
    study = load_study(path)
    newest = _newest_run(study)
    if newest is not None:
        return Target(read_run_folder(newest), study, newest)
    try:
        run = _from_storage(study, storage)
    except (ConfigError, optuna.exceptions.OptunaError) as exc:
        raise ConfigError(f"{path}: no run folder and no stored trials to report ({exc})") from None
    return Target(run, study, study.output_dir / study.name)


def _context(study: StudyConfig) -> StudyContext:
    ctx = StudyContext.from_study(study)
    holdout = prepare_holdout(study, ctx.router)
    return replace(ctx, in_sample=holdout.in_sample) if holdout is not None else ctx


def _config_summary(study: StudyConfig) -> dict[str, Any]:
    """What a manifest shows of a study file, for a run that stored no summary."""
    return {
        "study": study.name,
        "config": json.loads(study.model_dump_json()),
        "strategy": study.strategy,
    }


def study_report(target: Target) -> StudyReport:
    """The target's stored run with what stratopt's functions add (curves, PBO, fan)."""
    run = target.run
    if target.study is not None and not run.summary:
        run = replace(run, summary=_config_summary(target.study))
    if target.study is None or run.ranked.empty:
        return StudyReport(run)
    return StudyReport(run, compute_extras(_context(target.study), run))


def report(
    *targets: str | Path,
    out: str | Path | None = None,
    plotlyjs: PlotlyJs = "gzip",
    max_trials: int = 5000,
    top: int = 200,
    storage: str | None = None,
) -> Path:
    """Write one report of the run folders or study files `targets`; return its path.

    The first target is shown in full; with several, a section compares them all.
    Default `out`: `report.html` in the first target's run folder (with several
    targets, `report-comparison.html` there).

    Raises:
        ReportExtraMissing: plotly or jinja2 is not installed.
        ConfigError: a target is neither a run folder nor a study with trials.
    """
    missing = missing_extra()
    if missing is not None:
        raise ReportExtraMissing(missing)
    if not targets:
        raise ConfigError("report: give at least one run folder or study file")
    options = ReportOptions(plotlyjs=plotlyjs, max_trials=max_trials, top=top)
    loaded = [load_target(Path(t), storage=storage) for t in targets]
    return write_targets(loaded, out=Path(out) if out is not None else None, options=options)


def write_targets(targets: Sequence[Target], *, out: Path | None, options: ReportOptions) -> Path:
    """Write the report of already loaded targets (the commands that just made a run)."""
    from_first = targets[0].folder / (REPORT_FILE if len(targets) == 1 else COMPARISON_FILE)
    path = out if out is not None else from_first
    studies = [study_report(t) for t in targets[:1]] + [StudyReport(t.run) for t in targets[1:]]
    return write_report(ReportInput(studies), path, options)

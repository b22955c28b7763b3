"""The study report: run folders or study files in, one offline report.html out.

A run folder (`optimize`, `walk-forward`, `validate`; `ml` and `batch` ones are drawn
from their files alone) is read as written; its study
(the exact config summary.json keeps) is prepared (`PreparedStudy`) to re-run the best
and robust candidates (`_report_extras`). A study file is reported from its newest run
folder, or, without one, from the trials in its storage. `stratopt.reporting` draws the
page. `optimize_study`, `walk_forward` and `validate_study` call `run_report` when
given `report=True`, with the study they already prepared.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import optuna

from stratopt.config import StudyConfig, load_study, read_study_mapping
from stratopt.errors import ConfigError
from stratopt.operations._prepared import PreparedStudy, study_from_run_folder
from stratopt.operations._report_extras import compute_extras
from stratopt.operations._results import ReportFile
from stratopt.reporting import (
    SUMMARY,
    PlotlyJs,
    ReportInput,
    ReportOptions,
    StoredRun,
    StudyReport,
    folder_kind,
    missing_extra,
    read_run_folder,
    sibling_optimize_run,
    write_report,
)
from stratopt.storage import ATTR_ROBUSTNESS, load_study_from, ranked_frame, trial_counts

__all__ = ["REPORT_FILE", "ReportExtraMissing", "ReportTarget", "load_target", "report"]

_log = logging.getLogger(__name__)

REPORT_FILE = "report.html"
COMPARISON_FILE = "report-comparison.html"


class ReportExtraMissing(ConfigError):
    """plotly or jinja2 is not installed (the `report` extra)."""


@dataclass(frozen=True)
class ReportTarget:
    """One study to report: what its run stored, its prepared study (None: it cannot be
    re-run, e.g. `optimize()` on a Python function), where its report goes."""

    run: StoredRun
    study: PreparedStudy | None
    folder: Path


def _study_of(folder: Path, storage: str | None) -> PreparedStudy | None:
    """The study an optimization run folder was made from, prepared; None when it has
    none (`optimize()` on a function) or it no longer prepares (a strategy file moved)."""
    try:
        return PreparedStudy.from_config(study_from_run_folder(folder), storage=storage)
    except ConfigError:
        return None


def _newest_run(study: StudyConfig) -> Path | None:
    return _newest_in(study.output_dir / study.name)


def _newest_in(root: Path) -> Path | None:
    if not root.is_dir():
        return None
    runs = [p for p in root.iterdir() if p.is_dir() and (p / SUMMARY).is_file()]
    return max(runs, key=lambda p: p.name) if runs else None


def _from_storage(prepared: PreparedStudy) -> StoredRun:
    stored = load_study_from(prepared.name, prepared.url)
    directions = [d.name.lower() for d in stored.directions]
    summary: dict[str, Any] = {
        **_config_summary(prepared),
        "directions": directions,
        "counts": trial_counts(stored),
    }
    robustness = stored.user_attrs.get(ATTR_ROBUSTNESS)
    if isinstance(robustness, Mapping):
        summary["robustness"] = dict(robustness)
    ranked = ranked_frame(stored, directions)
    return StoredRun(kind="optimize", folder=None, summary=summary, ranked=ranked)


def _config_summary(prepared: PreparedStudy) -> dict[str, Any]:
    """What a manifest shows of a study file, for a run that stored no summary."""
    study = prepared.study
    return {
        "study": study.name,
        "config": json.loads(study.model_dump_json()),
        "strategy": prepared.runner_name,
    }


def load_target(path: Path, *, storage: str | None = None) -> ReportTarget:
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
        # A two-stage (ml) or batch run re-runs nothing: its folder holds every number shown.
        base = (
            None
            if kind in ("ml", "batch")
            else path
            if kind == "optimize"
            else sibling_optimize_run(path)
        )
        return ReportTarget(run, _study_of(base, storage) if base is not None else None, path)
    ml = _two_stage_target(path)
    if ml is not None:
        return ml
    study = load_study(path)
    prepared = PreparedStudy.from_config(study, storage=storage)
    newest = _newest_run(study)
    if newest is not None:
        return ReportTarget(read_run_folder(newest), prepared, newest)
    try:
        run = _from_storage(prepared)
    except (ConfigError, optuna.exceptions.OptunaError) as exc:
        raise ConfigError(f"{path}: no run folder and no stored trials to report ({exc})") from None
    return ReportTarget(run, prepared, study.output_dir / study.name)


def _two_stage_target(path: Path) -> ReportTarget | None:
    """A `stratopt ml` study file's newest run folder (None: not such a study file).

    Its schema is ml's own (`stratopt.ml`), so only where its runs go is read here.
    """
    raw = read_study_mapping(path)
    if "stage1" not in raw and "stage2" not in raw:
        return None
    output = Path(str(raw.get("output") or "runs")).expanduser()
    root = (output if output.is_absolute() else path.parent / output) / str(raw.get("name"))
    newest = _newest_in(root)
    if newest is None or folder_kind(newest) != "ml":
        raise ConfigError(
            f"{path}: a two-stage study with no run folder in {root}; run stratopt ml tune first"
        )
    return ReportTarget(read_run_folder(newest), None, newest)


def study_report(target: ReportTarget) -> StudyReport:
    """The target's stored run with what stratopt's functions add (curves, PBO, fan)."""
    run = target.run
    if target.study is not None and not run.summary:
        run = replace(run, summary=_config_summary(target.study))
    if target.study is None or run.ranked.empty:
        return StudyReport(run)
    return StudyReport(run, compute_extras(target.study, run))


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
    targets, `report-comparison.html` there). `plotlyjs`: how plotly.js reaches the
    page (`stratopt.reporting.ReportOptions`); `max_trials`: trials drawn as points in
    per-trial figures; `top`: rows of the trials table; `storage`: of study files.

    Raises:
        ReportExtraMissing: plotly or jinja2 is not installed.
        ConfigError: a target is neither a run folder nor a study with trials, a batch
            run folder is given with others (it is not a study to compare), or an
            option is out of range.
    """
    missing = missing_extra()
    if missing is not None:
        raise ReportExtraMissing(missing)
    if not targets:
        raise ConfigError("report: give at least one run folder or study file")
    try:
        options = ReportOptions(plotlyjs=plotlyjs, max_trials=max_trials, top=top)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    loaded = [load_target(Path(t), storage=storage) for t in targets]
    batch = next((t.folder for t in loaded if t.run.kind == "batch"), None)
    if batch is not None and len(loaded) > 1:
        raise ConfigError(f"report: {batch} is a batch run folder; report it alone")
    return write_targets(loaded, out=Path(out) if out is not None else None, options=options)


def write_targets(
    targets: Sequence[ReportTarget], *, out: Path | None, options: ReportOptions
) -> Path:
    """Write the report of loaded targets: the first in full, the others compared."""
    from_first = targets[0].folder / (REPORT_FILE if len(targets) == 1 else COMPARISON_FILE)
    path = out if out is not None else from_first
    studies = [study_report(t) for t in targets[:1]] + [StudyReport(t.run) for t in targets[1:]]
    return write_report(ReportInput(studies), path, options)


def run_report(folder: Path, prepared: PreparedStudy | None) -> ReportFile:
    """report.html into a run folder just written, with the study the run prepared.

    A run never fails for its report: a missing extra or an error is returned, said.
    """
    missing = missing_extra()
    if missing is not None:
        return ReportFile(None, f"skipped: {missing}")
    try:
        target = ReportTarget(read_run_folder(folder), prepared, folder)
        return ReportFile(write_targets([target], out=None, options=ReportOptions()))
    except Exception as exc:  # a bug in the report must not cost the run
        _log.exception("report.html of %s failed", folder)
        return ReportFile(None, f"failed: {type(exc).__name__}: {exc}")

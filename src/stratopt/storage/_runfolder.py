"""The run folder of one optimization: summary.json, ranked_results.csv, best_config.*."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import math
import platform
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import yaml
from optuna.trial import FrozenTrial, TrialState

__all__ = ["RunFolder", "ranked_frame", "write_run_folder"]

_STATE_ORDER = {TrialState.COMPLETE: 0, TrialState.PRUNED: 1, TrialState.FAIL: 2}


@dataclass(frozen=True)
class RunFolder:
    """Paths of what a run wrote."""

    path: Path
    summary: Path
    ranked: Path
    best_yaml: Path | None
    best_json: Path | None


def new_run_dir(output: Path, study_name: str) -> Path:
    """`OUTPUT/<study name>/<UTC timestamp>/`, made unique if two runs share a second."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    base = output / study_name / stamp
    path, k = base, 1
    while path.exists():
        k += 1
        path = base.with_name(f"{stamp}-{k}")
    path.mkdir(parents=True)
    return path


def _pareto_ranks(values: list[tuple[float, ...]], directions: Sequence[str]) -> list[int]:
    sign = [1.0 if d == "maximize" else -1.0 for d in directions]
    pts = [tuple(s * v for s, v in zip(sign, vals, strict=True)) for vals in values]
    ranks = [0] * len(pts)
    remaining = set(range(len(pts)))
    front = 1
    while remaining:
        layer = {
            i
            for i in remaining
            if not any(
                all(a >= b for a, b in zip(pts[j], pts[i], strict=True)) and pts[j] != pts[i]
                for j in remaining
            )
        }
        for i in layer:
            ranks[i] = front
        remaining -= layer
        front += 1
    return ranks


def _order(trials: list[FrozenTrial], directions: Sequence[str]) -> list[FrozenTrial]:
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.values]
    done_numbers = {t.number for t in done}
    rest = [t for t in trials if t.number not in done_numbers and t.state in _STATE_ORDER]
    if len(directions) == 1:
        sign = -1.0 if directions[0] == "maximize" else 1.0
        done.sort(key=lambda t: (sign * t.values[0], t.number))
    else:
        ranks = _pareto_ranks([tuple(t.values) for t in done], directions)
        keyed = sorted(zip(ranks, done, strict=True), key=lambda rt: (rt[0], rt[1].number))
        done = [t for _, t in keyed]
    rest.sort(key=lambda t: (_STATE_ORDER[t.state], t.number))
    return done + rest


def ranked_frame(study: optuna.Study, directions: Sequence[str]) -> pd.DataFrame:
    """Every finished trial, best first; pruned then failed ones ranked last."""
    rows = []
    ordered = _order(study.get_trials(deepcopy=False), directions)
    for rank, t in enumerate(ordered, start=1):
        row: dict[str, Any] = {"rank": rank, "trial": t.number, "state": t.state.name.lower()}
        values = t.values if t.state == TrialState.COMPLETE and t.values else []
        if len(directions) == 1:
            row["value"] = values[0] if values else math.nan
        else:
            for i in range(len(directions)):
                row[f"value_{i}"] = values[i] if values else math.nan
        rec = t.user_attrs.get("stratopt")
        rec = rec if isinstance(rec, dict) else {}
        row.update({f"params.{k}": v for k, v in t.params.items()})
        for k, v in (rec.get("metrics") or {}).items():
            row[f"metrics.{k}"] = float(v)
        for k, v in (rec.get("components") or {}).items():
            row[f"components.{k}"] = float(v)
        row["violations"] = "; ".join(rec.get("violations") or [])
        row["pruned"] = rec.get("pruned", "")
        row["error"] = rec.get("error", "")
        row["runtime_s"] = rec.get("runtime_s", math.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def git_commit(cwd: Path) -> dict[str, Any] | None:
    """HEAD of the git repository containing `cwd`, and whether tracked files have changed.

    One `git status` gives both. Untracked files do not make the tree dirty (as with
    `git describe --dirty`): a research repository fills up with run folders, and
    listing them would cost more than a fast search.
    """
    try:
        status = subprocess.run(
            ["git", "status", "--porcelain=v2", "--branch", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if status.returncode != 0:
        return None
    commit, changes = None, False
    for line in status.stdout.splitlines():
        if line.startswith("# branch.oid "):
            commit = line.removeprefix("# branch.oid ").strip()
        elif not line.startswith("#"):
            changes = True
    if commit is None or commit == "(initial)":
        return None
    return {"commit": commit, "dirty": changes}


def versions() -> dict[str, str]:
    """The versions of Python and of the packages a result depends on."""
    return dict(_versions())


@functools.cache  # fixed for the life of the process; importlib.metadata is slow
def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("stratopt", "numpy", "numba", "pandas", "optuna"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def _dump_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, default=_json_default, allow_nan=False) + "\n")


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, dt.date | dt.datetime | Path):
        return str(value)
    return repr(value)


def clean(value: Any) -> Any:
    """JSON-safe copy: non-finite floats become strings ("nan", "inf")."""
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def write_run_folder(
    path: Path,
    *,
    summary: Mapping[str, Any],
    ranked: pd.DataFrame,
    best_config: Mapping[str, Any] | None,
) -> RunFolder:
    """Write the three artefacts of a run into `path` (an existing, empty folder)."""
    summary_path = path / "summary.json"
    _dump_json(summary_path, clean(summary))
    ranked_path = path / "ranked_results.csv"
    ranked.to_csv(ranked_path, index=False)
    best_yaml = best_json = None
    if best_config is not None:
        best_yaml = path / "best_config.yaml"
        best_yaml.write_text(yaml.safe_dump(clean(best_config), sort_keys=False))
        best_json = path / "best_config.json"
        _dump_json(best_json, clean(best_config))
    return RunFolder(path, summary_path, ranked_path, best_yaml, best_json)

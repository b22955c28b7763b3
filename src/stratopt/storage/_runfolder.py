"""Run folders: where every run writes its files (`OUTPUT/<name>/<UTC timestamp>/`).

The folder is made before the run, so an unwritable output fails first; a run that
fails before writing anything leaves no empty folder behind.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from stratopt._jsonable import clean, dumps
from stratopt.errors import ConfigError, UserInputError
from stratopt.storage._csv import write_csv

__all__ = [
    "RunFolder",
    "check_study_name",
    "discard_if_empty",
    "new_run_dir",
    "write_json",
    "write_run_folder",
]


@dataclass(frozen=True)
class RunFolder:
    """Paths of what a run wrote."""

    path: Path
    summary: Path
    ranked: Path
    best_yaml: Path | None
    best_json: Path | None


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,199}$")


def check_study_name(name: str, field: str) -> None:
    """ConfigError naming `field` unless `name` can be a folder of the run-folder root."""
    if not _NAME.match(name) or ".." in name:
        raise ConfigError(
            f"{field}: {name!r} is not a valid study name (letters, digits and _ . @ + -; "
            "no path separators)"
        )


def new_run_dir(output: Path, study_name: str) -> Path:
    """`OUTPUT/<study name>/<UTC timestamp>/`, made unique if two runs share a second.

    Raises:
        UserInputError: the folder cannot be made (naming the output root).
    """
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    base = output / study_name / stamp
    path, k = base, 1
    while path.exists():
        k += 1
        path = base.with_name(f"{stamp}-{k}")
    try:
        path.mkdir(parents=True)
    except OSError as exc:
        raise UserInputError(f"output: cannot create a run folder under {output}: {exc}") from None
    return path


def discard_if_empty(run_dir: Path) -> None:
    """Remove a run folder the failed run wrote nothing into (its study folder too if empty)."""
    for folder in (run_dir, run_dir.parent):
        try:
            folder.rmdir()  # only ever removes an empty folder
        except OSError:
            return


def write_json(path: Path, data: Any) -> Path:
    """`data` as indented JSON (non-finite numbers as text, see `stratopt._jsonable`)."""
    path.write_text(dumps(data))
    return path


def write_run_folder(
    path: Path,
    *,
    summary: Mapping[str, Any],
    ranked: pd.DataFrame,
    best_config: Mapping[str, Any] | None,
) -> RunFolder:
    """Write the three artefacts of a search into `path` (an existing, empty folder)."""
    summary_path = write_json(path / "summary.json", summary)
    ranked_path = path / "ranked_results.csv"
    write_csv(ranked, ranked_path)
    if "front" in ranked.columns:  # several objectives: the non-dominated candidates alone
        write_csv(ranked[ranked["front"] == 1], path / "pareto_front.csv")
    best_yaml = best_json = None
    if best_config is not None:
        best_yaml = path / "best_config.yaml"
        best_yaml.write_text(yaml.safe_dump(clean(best_config), sort_keys=False))
        best_json = write_json(path / "best_config.json", best_config)
    return RunFolder(path, summary_path, ranked_path, best_yaml, best_json)

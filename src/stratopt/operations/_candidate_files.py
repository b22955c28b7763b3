"""The best and the robust candidate in full, in the run folder: their trades and equity
(what backtesting.py and freqtrade users look at first), and the robust one's config.

`best_trades.csv`, `best_equity.csv`, `robust_config.yaml`, `robust_trades.csv` and
`robust_equity.csv`: each candidate backtested on the data the search saw (before any
holdout: the same bars as its metrics in ranked_results.csv; `holdout.csv` has the
holdout). A failure here is logged and costs these files only, never the finished search.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from stratopt._jsonable import clean
from stratopt.config import StudyConfig, parse_study
from stratopt.operations._backtest import equity_frame, run_backtest, trades_frame, write_csv
from stratopt.search import nest

__all__ = ["fixed_config", "fixed_study", "write_candidate_files"]

_log = logging.getLogger(__name__)


def fixed_study(study: StudyConfig, params: Mapping[str, Any], *, source: str) -> StudyConfig:
    """`study` with the searched `params` fixed, as `stratopt backtest` runs it."""
    return parse_study(fixed_config(study, params), source=source, base_dir=study.base_dir)


def write_candidate_files(
    folder: Path,
    studies: tuple[StudyConfig, StudyConfig],
    best: Mapping[str, Any] | None,
    robust: Any,
) -> list[Path]:
    """Write the files of the best and (when the analysis found one) the robust candidate.

    `studies`: the study (for robust_config.yaml) and the study the search saw (its
    bars: the backtests)."""
    written: list[Path] = []
    if studies[0].evaluator is not None:  # an external evaluator keeps its own runs
        return written
    candidates = {"best": best}
    if isinstance(robust, Mapping) and isinstance(robust.get("params"), Mapping):
        candidates["robust"] = robust["params"]
    for label, params in candidates.items():
        if params is None:
            continue
        try:
            written += _write(folder, studies, label, params)
        except Exception:  # these files must not cost the finished search
            _log.exception("could not write the %s candidate's trades and equity", label)
    return written


def _write(
    folder: Path, studies: tuple[StudyConfig, StudyConfig], label: str, params: Mapping[str, Any]
) -> list[Path]:
    study, searched = studies
    fixed = fixed_study(searched, params, source=f"{label} candidate")
    results = run_backtest(fixed)
    paths = [folder / f"{label}_trades.csv", folder / f"{label}_equity.csv"]
    write_csv(paths[0], trades_frame(results))
    write_csv(paths[1], equity_frame(results))
    if label != "best":  # best_config.yaml is written with the summary
        config = folder / f"{label}_config.yaml"
        cfg = fixed_config(study, params)
        config.write_text(yaml.safe_dump(clean(cfg), sort_keys=False))
        paths.append(config)
    return paths


def fixed_config(study: StudyConfig, params: Mapping[str, Any]) -> dict[str, Any]:
    """The study file with searched `params` fixed (space and constraints emptied, paths
    absolute), runnable with `stratopt backtest` from anywhere."""
    cfg: dict[str, Any] = json.loads(study.model_dump_json())
    fixed = nest(dict(params))
    for section in ("backtest", "risk"):
        cfg["backtest"].update(fixed.pop(section, {}))
    cfg["data"].update({k: str(v) for k, v in fixed.pop("data", {}).items()})
    cfg["params"].update(fixed.pop("strategy", {}))
    cfg["params"].update(fixed)
    cfg["space"] = {}
    cfg["constraints"] = []
    if cfg["data"].get("path") is not None:
        paths = [study.resolve_path(p) for p in study.data.paths]
        cfg["data"]["path"] = paths[0] if isinstance(study.data.path, str) else paths
    for section, key in (
        ("strategy", None),
        ("evaluator", "python"),
        ("evaluator", "backtesting_py"),
    ):
        ref = cfg[section] if key is None else (cfg.get(section) or {}).get(key)
        if isinstance(ref, str) and ":" in ref and ref.split(":")[0].endswith(".py"):
            file, _, name = ref.rpartition(":")
            absolute = f"{(study.base_dir / file).resolve()}:{name}"
            if key is None:
                cfg[section] = absolute
            else:
                cfg[section][key] = absolute
    if study.evaluator is not None:  # a command's working directory stays the study folder
        cfg["evaluator"]["cwd"] = str((study.base_dir / study.evaluator.cwd).resolve())
    cfg["output"] = str(study.output_dir.resolve())
    cfg.pop("storage", None)
    return cfg

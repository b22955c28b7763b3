"""The parameter sets of a batch: a YAML/JSON list, a grid, or a stored study's top
or robust candidates. Each comes with where it came from (summary.json's `param_source`).

Parameter sets name parameters as a study's `space` does (`fast`, `backtest.stop_loss`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import yaml

from stratopt.config import StudyConfig
from stratopt.errors import ConfigError
from stratopt.operations._checks import assess_plan
from stratopt.operations._prepared import PreparedStudy
from stratopt.operations._statistics import completed, distinct_params
from stratopt.storage import ranked_frame, redact
from stratopt.validation import robust_order

__all__ = ["ParamSets", "grid_param_sets", "read_param_sets", "stored_param_sets"]

REGION_TOP = 10  # the robust region of `stratopt validate` and optimize: its 10 best


@dataclass(frozen=True)
class ParamSets:
    """Parameter sets and where they came from.

    Attributes:
        sets: The parameter mappings, in the batch's order.
        source: How they were chosen (`kind`: `file`, `grid`, `top` or `robust`, and
            the file, specs, or the study, its storage and the trial of each set).
    """

    sets: list[dict[str, Any]]
    source: dict[str, Any] = field(default_factory=dict)


def read_param_sets(path: str | Path) -> ParamSets:
    """A YAML or JSON list of parameter mappings.

    Raises:
        ConfigError: a missing file, unparsable text, or not a non-empty list of mappings.
    """
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text())
    except OSError as exc:
        raise ConfigError(f"--params: cannot read {p}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--params: {p} is not YAML or JSON: {exc}") from None
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"--params: {p} must hold a non-empty list of parameter mappings")
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ConfigError(f"--params: {p}: item {i} is {item!r}, not a mapping")
    return ParamSets([dict(item) for item in raw], {"kind": "file", "path": str(p.resolve())})


def _grid_values(spec: str) -> tuple[str, list[Any]]:
    name, sep, text = spec.partition("=")
    if not sep or not name.strip() or not text.strip():
        raise ConfigError(f"--grid: {spec!r} is not NAME=v1,v2,... or NAME=low:high:step")
    parts = text.split(":")
    if len(parts) == 3:
        try:
            low, high, step = (float(x) for x in parts)
        except ValueError:
            raise ConfigError(f"--grid: {spec!r}: low:high:step must be numbers") from None
        if step <= 0 or high < low:
            raise ConfigError(f"--grid: {spec!r}: needs step > 0 and low <= high")
        count = int((high - low) / step + 1e-9) + 1
        values = [low + i * step for i in range(count)]
        whole = all(float(x).is_integer() for x in parts)
        return name.strip(), [int(v) if whole else v for v in values]
    return name.strip(), [yaml.safe_load(v) for v in text.split(",")]


def grid_param_sets(specs: Sequence[str]) -> ParamSets:
    """Every combination of `NAME=v1,v2` / `NAME=low:high:step` specs, first name outer."""
    axes = [_grid_values(s) for s in specs]
    names = [n for n, _ in axes]
    sets = [
        dict(zip(names, combo, strict=True)) for combo in itertools.product(*(v for _, v in axes))
    ]
    return ParamSets(sets, {"kind": "grid", "specs": list(specs)})


def stored_param_sets(
    study: StudyConfig, top: int, *, robust: bool = False, storage: str | None = None
) -> ParamSets:
    """The searched parameters of a stored study's `top` best distinct completed trials,
    or (`robust`) of its `top` most robust candidates.

    The robust candidates are the study's robust region (docs/validation.md, "Robust
    candidate"), computed on the stored trials as `stratopt validate` does: among its
    max(10, `top`) best candidates, those with the best neighbourhood mean first (ties:
    the better rank). A study searched for several objectives has none.

    Raises:
        ConfigError: `top < 1`, a study that is not stored, without a completed trial,
            or (`robust`) with several objectives.
    """
    if top < 1:
        raise ConfigError(f"--top: must be >= 1, got {top}")
    prepared = PreparedStudy.from_config(study, storage=storage)
    stored = prepared.stored()
    directions = prepared.plan.objective.directions
    by_number = {t.number: t for t in stored.get_trials(deepcopy=False)}
    if robust:
        trials = _robust_trials(prepared, stored, top)
    else:
        _, ranked_trials = distinct_params(completed(ranked_frame(stored, directions), directions))
        trials = ranked_trials[:top]
    if not trials:
        raise ConfigError(f"--from-study: study {study.name!r} has no completed trial"
                          + (" with a robust region" if robust else ""))  # fmt: skip
    source = {"kind": "robust" if robust else "top", "study": study.name,
              "storage": redact(prepared.url), "trials": trials}  # fmt: skip
    return ParamSets([dict(by_number[n].params) for n in trials], source)


def _robust_trials(prepared: PreparedStudy, stored: optuna.Study, top: int) -> list[int]:
    """Trial numbers of the `top` most robust candidates (best neighbourhood mean first)
    among the study's max(10, `top`) best (10: the region `stratopt validate` reports)."""
    objective = prepared.plan.objective
    if objective.is_multi:
        raise ConfigError(
            f"--robust: study {prepared.name!r} has several objectives, so no robust "
            "candidate (a Pareto front has no single order to smooth); use --top alone"
        )
    evaluator = prepared.evaluator()
    try:
        report = assess_plan(stored, prepared.plan, evaluator, top_k=max(top, REGION_TOP),
                             importance=False)  # fmt: skip
    finally:
        evaluator.close()
    region = report.region
    order = robust_order(region, objective.directions[0]) if region else []
    return [region[i].trial for i in order[:top]]

"""`analyze_target`: what `stratopt analyze` looks at, made full backtests and analyzed.

Trials of an optimize run folder (a `PreparedStudy` of the study it recorded: the
trials' parameters routed as the search routed them, on the bars the search saw), rows
of a batch run folder (their series loaded as the batch loaded them), or a study file's
fixed parameters (as `stratopt backtest` runs them). `analysis.json` is written into the
run folder, or beside a study file's runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from stratopt.analysis import Analysis, AnalysisOptions, analyze_results
from stratopt.backtest import BacktestResult, backtest, backtest_study
from stratopt.config import load_study
from stratopt.errors import ConfigError
from stratopt.evaluation import Router
from stratopt.grid import is_grid_study
from stratopt.operations._batch import batch_series
from stratopt.operations._prepared import (
    PreparedStudy,
    check_study,
    own_strategy,
    study_from_run_folder,
)
from stratopt.storage import write_json

__all__ = ["AnalyzeRequest", "AnalyzeResult", "analyze_target"]

Candidates = tuple[list[BacktestResult], list[str]]


@dataclass(frozen=True)
class AnalyzeRequest:
    """Which candidates: `trials` of an optimize run folder (None: the best one), `rows`
    of a batch run folder, or nothing for a study file (`overrides`: its `--set`s); and
    what to compute."""

    trials: Sequence[int] | None = None
    rows: Sequence[int] | None = None
    options: AnalysisOptions = field(default_factory=AnalysisOptions)
    overrides: Sequence[str] = ()


@dataclass(frozen=True, eq=False)
class AnalyzeResult:
    """The analysis and the analysis.json it was written to."""

    analysis: Analysis
    path: Path


def _summary(folder: Path) -> dict[str, Any]:
    path = folder / "summary.json"
    try:
        out: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable run folder summary ({exc})") from None
    return out


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)  # CSV turned an integer parameter into a float
    return value


def _trial_results(folder: Path, trials: Sequence[int] | None) -> Candidates:
    prepared = PreparedStudy.from_config(study_from_run_folder(folder))
    try:
        ranked = pd.read_csv(folder / "ranked_results.csv")
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{folder}: cannot read ranked_results.csv ({exc})") from None
    done = ranked[ranked["state"] == "complete"]
    if done.empty:
        raise ConfigError(f"{folder}: the run has no completed trial")
    wanted = list(trials) if trials else [int(done["trial"].iloc[0])]
    cols = [c for c in ranked.columns if c.startswith("params.")]
    results, labels = [], []
    for number in wanted:
        row = ranked[ranked["trial"] == number]
        if row.empty:
            raise ConfigError(f"--trials: run {folder.name} has no trial {number}")
        params = {c.removeprefix("params."): _plain(row[c].iloc[0]) for c in cols
                  if row[c].iloc[0] == row[c].iloc[0]}  # fmt: skip
        cand = prepared.router.route(params)
        series = prepared.data.get(cand.data)
        for bars in series:
            results.append(
                backtest(
                    bars,
                    prepared.own_strategy("stratopt analyze"),
                    cand.strategy_params,
                    cand.settings,
                )
            )
            labels.append(f"trial {number}" + (f" {bars.symbol}" if len(series) > 1 else ""))
    return results, labels


def _batch_results(
    folder: Path, summary: Mapping[str, Any], rows: Sequence[int] | None
) -> Candidates:
    study = study_from_run_folder(folder)
    frame = pd.read_csv(folder / "batch.csv", keep_default_na=False, na_values=[""])
    last = f"{folder / 'batch.csv'} (0 .. {len(frame) - 1})"
    if not rows:
        raise ConfigError(f"--rows: name the rows of {last} to analyze")
    strategy = own_strategy(study, check_study(study), "stratopt analyze")
    sets = summary.get("param_sets") or []
    router = Router(study, strategy, sorted({k for p in sets for k in p}))
    results, labels = [], []
    for i in rows:
        if not 0 <= i < len(frame):
            raise ConfigError(f"--rows: {i} is not a row of {last}")
        row = frame.iloc[i]
        if isinstance(row["error"], str) and row["error"]:
            raise ConfigError(
                f"--rows: row {i} ({row['symbol']}/{row['timeframe']}) failed: {row['error']}"
            )
        cand = router.route(sets[int(row["set"])])
        tf = str(row["timeframe"])
        series = batch_series(study, [str(row["source"])], summary.get("timeframes"))
        bars = next(s.bars for s in series if s.timeframe == tf)
        if bars is None:  # the batch ran this row, so its series loads
            raise ConfigError(f"--rows: row {i}: {row['source']} no longer loads")
        results.append(backtest(bars, strategy, cand.strategy_params, cand.settings))
        labels.append(f"row {i} {row['symbol']}/{tf} {row['label']}")
    return results, labels


def _study_results(path: Path, overrides: Sequence[str]) -> tuple[Candidates, Path]:
    study = load_study(path, overrides)
    check_study(study)
    if is_grid_study(study):
        raise ConfigError(
            f"{path}: analyze reads single-position backtests; a grid study ({study.strategy}) "
            "is analyzed through its backtest and optimize reports"
        )
    results = backtest_study(study)
    labels = [r.bars.symbol or f"series {i + 1}" for i, r in enumerate(results)]
    if len(set(labels)) != len(labels):
        labels = [f"{i + 1} {x}" for i, x in enumerate(labels)]
    return (results, labels), study.output_dir / study.name / "analysis.json"


def _refuse(given: Sequence[int] | None, flag: str, target: Path) -> None:
    if given:
        kind = {"--trials": "an optimize run folder", "--rows": "a batch run folder"}[flag]
        raise ConfigError(f"{flag}: applies to {kind}, not to {target}")


def analyze_target(target: str | Path, request: AnalyzeRequest | None = None) -> AnalyzeResult:
    """Analyze a run folder's trials or batch rows, or a study file's fixed parameters.

    Raises:
        ConfigError / DataError / StrategyError: bad input (the CLI exits 2).
    """
    req = request or AnalyzeRequest()
    path = Path(target)
    if path.is_dir():
        summary = _summary(path)
        batch = summary.get("kind") == "batch"
        if req.overrides:
            raise ConfigError("--set: applies to a study file, not to a run folder")
        _refuse(req.trials if batch else req.rows, "--trials" if batch else "--rows", path)
        if batch:
            results, labels = _batch_results(path, summary, req.rows)
        else:
            results, labels = _trial_results(path, req.trials)
        out = path / "analysis.json"
    elif path.is_file():
        _refuse(req.trials or req.rows, "--trials" if req.trials else "--rows", path)
        (results, labels), out = _study_results(path, req.overrides)
    else:
        raise ConfigError(f"analyze: {target} is neither a run folder nor a study file")
    analysis = analyze_results(results, labels=labels, options=req.options)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, analysis.to_dict())
    return AnalyzeResult(analysis=analysis, path=out)

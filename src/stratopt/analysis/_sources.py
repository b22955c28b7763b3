"""What `stratopt analyze` looks at: trials of an optimize run folder, rows of a batch
run folder, or a study file's fixed parameters; each becomes full backtests.

`analyze_target` also writes `analysis.json` (into the run folder, or beside the study
file's runs) and returns the analysis with the path it wrote.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from stratopt.analysis._analyze import Analysis, AnalysisOptions, analyze_results
from stratopt.backtest import BacktestResult, backtest, backtest_study, study_bars
from stratopt.config import StudyConfig, load_study
from stratopt.data import load_bars
from stratopt.errors import ConfigError
from stratopt.search._candidates import Router  # stratopt.evaluation.Router after #6
from stratopt.storage._runfolder import clean
from stratopt.strategies import get_strategy
from stratopt.validation import study_from_run_folder

__all__ = ["AnalyzeRequest", "AnalyzeResult", "analyze_target"]


@dataclass(frozen=True)
class AnalyzeRequest:
    """Which candidates: `trials` of an optimize run folder (None: the best one), `rows`
    of a batch run folder, or nothing for a study file; and what to compute."""

    trials: Sequence[int] | None = None
    rows: Sequence[int] | None = None
    options: AnalysisOptions = field(default_factory=AnalysisOptions)
    overrides: Sequence[str] = ()


@dataclass(frozen=True, eq=False)
class AnalyzeResult:
    analysis: Analysis
    path: Path


def _summary(folder: Path) -> dict[str, Any]:
    path = folder / "summary.json"
    try:
        out: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable run folder summary ({exc})") from None
    return out


def _trial_results(
    folder: Path, trials: Sequence[int] | None
) -> tuple[list[BacktestResult], list[str]]:
    study = study_from_run_folder(folder)
    try:
        ranked = pd.read_csv(folder / "ranked_results.csv")
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{folder}: cannot read ranked_results.csv ({exc})") from None
    done = ranked[ranked["state"] == "complete"]
    if done.empty:
        raise ConfigError(f"{folder}: the run has no completed trial")
    wanted = list(trials) if trials else [int(done["trial"].iloc[0])]
    strategy = get_strategy(study.strategy, base_dir=study.base_dir)
    cols = [c for c in ranked.columns if c.startswith("params.")]
    router = Router(study, strategy, [c.removeprefix("params.") for c in cols])
    series = study_bars(study)
    results, labels = [], []
    for number in wanted:
        row = ranked[ranked["trial"] == number]
        if row.empty:
            raise ConfigError(f"--trials: run {folder.name} has no trial {number}")
        params = {c.removeprefix("params."): _plain(row[c].iloc[0]) for c in cols
                  if row[c].iloc[0] == row[c].iloc[0]}  # fmt: skip
        cand = router.route(params)
        for bars in series:
            results.append(backtest(bars, strategy, cand.strategy_params, cand.settings))
            labels.append(f"trial {number}" + (f" {bars.symbol}" if len(series) > 1 else ""))
    return results, labels


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)  # CSV turned an integer parameter into a float
    return value


def _batch_results(
    folder: Path, summary: Mapping[str, Any], rows: Sequence[int] | None
) -> tuple[list[BacktestResult], list[str]]:
    study = study_from_run_folder(folder)
    frame = pd.read_csv(folder / "batch.csv", keep_default_na=False, na_values=[""])
    if not rows:
        raise ConfigError(
            f"--rows: name the rows of {folder / 'batch.csv'} to analyze (0 .. {len(frame) - 1})"
        )
    strategy = get_strategy(study.strategy, base_dir=study.base_dir)
    sets = summary.get("param_sets") or []
    router = Router(study, strategy, sorted({k for p in sets for k in p}))
    results, labels = [], []
    for i in rows:
        if not 0 <= i < len(frame):
            raise ConfigError(
                f"--rows: {i} is not a row of {folder / 'batch.csv'} (0 .. {len(frame) - 1})"
            )
        row = frame.iloc[i]
        if isinstance(row["error"], str) and row["error"]:
            raise ConfigError(
                f"--rows: row {i} ({row['symbol']}/{row['timeframe']}) failed: {row['error']}"
            )
        cand = router.route(sets[int(row["set"])])
        tf = str(row["timeframe"])
        bars = load_bars(str(row["source"]), start=study.data.start, end=study.data.end,
                         timeframe=tf, periods_per_year=study.data.periods_per_year)  # fmt: skip
        results.append(backtest(bars, strategy, cand.strategy_params, cand.settings))
        labels.append(f"row {i} {row['symbol']}/{tf} {row['label']}")
    return results, labels


def _study_results(study: StudyConfig) -> tuple[list[BacktestResult], list[str]]:
    results = backtest_study(study)
    labels = [r.bars.symbol or f"series {i + 1}" for i, r in enumerate(results)]
    if len(set(labels)) != len(labels):
        labels = [f"{i + 1} {x}" for i, x in enumerate(labels)]
    return results, labels


def analyze_target(target: str | Path, request: AnalyzeRequest | None = None) -> AnalyzeResult:
    """Analyze a run folder's trials or batch rows, or a study file's fixed parameters.

    Raises:
        ConfigError / DataError / StrategyError: bad input (the CLI exits 2).
    """
    req = request or AnalyzeRequest()
    path = Path(target)
    if path.is_dir():
        summary = _summary(path)
        if summary.get("kind") == "batch":
            results, labels = _batch_results(path, summary, req.rows)
        else:
            results, labels = _trial_results(path, req.trials)
        out = path / "analysis.json"
    elif path.is_file():
        study = load_study(path, req.overrides)
        results, labels = _study_results(study)
        out = study.output_dir / study.name / "analysis.json"
    else:
        raise ConfigError(f"analyze: {target} is neither a run folder nor a study file")
    analysis = analyze_results(results, labels=labels, options=req.options)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(clean(analysis.to_dict()), indent=2, default=str) + "\n")
    return AnalyzeResult(analysis=analysis, path=out)

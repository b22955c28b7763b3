"""`stratopt backtest`: the study's fixed parameters on each of its data series."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stratopt.backtest import BacktestResult, backtest_study
from stratopt.config import StudyConfig
from stratopt.errors import UserInputError
from stratopt.evaluation import aggregate, portfolio_metrics
from stratopt.grid import GridBacktestResult, backtest_grid_study, is_grid_study
from stratopt.operations._grid import check_fixed_params, grid_report
from stratopt.operations._prepared import check_study

__all__ = [
    "BacktestRun",
    "aggregate_metrics",
    "backtest_report",
    "equity_frame",
    "run_backtest",
    "trades_frame",
    "write_csv",
]

BacktestRun = BacktestResult | GridBacktestResult
"""One series' backtest: of the single-position engine, or of a grid strategy."""


def run_backtest(study: StudyConfig) -> list[BacktestResult] | list[GridBacktestResult]:
    """Check the whole study file (`check_study`), then backtest its fixed parameters
    (a grid strategy's also against the study's constraints)."""
    check_study(study)
    if is_grid_study(study):
        check_fixed_params(study)
        return backtest_grid_study(study)
    return backtest_study(study)


def equity_frame(results: Sequence[BacktestRun]) -> pd.DataFrame:
    """The equity curves, one row per bar (a `symbol` column with several series); a
    grid run's also with its exposures and open lots."""
    frames = []
    for res in results:
        if isinstance(res, GridBacktestResult):
            per_bar = res.per_bar
            eq = (res.equity.rename("equity") if per_bar is None else per_bar).reset_index()
        else:
            eq = res.equity.rename("equity").reset_index()
            peak = np.maximum.accumulate(res.sim.equity)
            eq["drawdown"] = np.where(peak > 0, res.sim.equity / peak - 1.0, 0.0)
            eq["position"] = res.sim.position  # units held at the bar's close (short < 0)
        if len(results) > 1:
            eq.insert(0, "symbol", res.bars.symbol)
        frames.append(eq)
    out: pd.DataFrame = pd.concat(frames, ignore_index=True)
    return out


def trades_frame(results: Sequence[BacktestRun]) -> pd.DataFrame:
    """The trade lists, one row per trade (a `symbol` column with several series)."""
    frames = []
    for res in results:
        t = res.trades
        t.insert(list(t.columns).index("pnl") + 1, "net_pnl", t["pnl"] - t["fees"])
        if len(results) > 1:
            t.insert(0, "symbol", res.bars.symbol)
        frames.append(t)
    out: pd.DataFrame = pd.concat(frames, ignore_index=True)
    return out


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    """`frame` as CSV at `path` (folders made); UserInputError naming it otherwise."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S")
    except OSError as exc:
        raise UserInputError(f"cannot write {path}: {exc}") from None


def _finite(value: float) -> float | None:
    # JSON has no NaN/inf: non-finite metric values are written as null.
    return value if math.isfinite(value) else None


def aggregate_metrics(study: StudyConfig, results: Sequence[BacktestRun]) -> dict[str, float]:
    """Several series' metrics combined as the study's `aggregate:` combines a candidate's
    in a search (mean, median, worst, or the equal-weight portfolio)."""
    if study.aggregate == "portfolio":
        return portfolio_metrics(results, study.backtest.cash)
    return aggregate({r.bars.symbol: r.metrics for r in results}, study.aggregate)


def backtest_report(
    name: str, results: Sequence[BacktestRun], combined: Mapping[str, float] | None = None
) -> dict[str, Any]:
    """`stratopt backtest --json`: one series flat, every series under per_symbol; with
    several, the top-level `metrics` are `combined` (`aggregate_metrics`), as a search
    scores them, and `n_trades` counts every series' trades (and a grid strategy's outputs,
    `grid_report`)."""
    per_symbol = {
        res.bars.symbol: {
            "source": res.bars.source,
            "bars": len(res.bars),
            "start": str(res.bars.index[0]),
            "end": str(res.bars.index[-1]),
            "annualization": res.bars.annualization.to_dict(),
            "metrics": {k: _finite(v) for k, v in res.metrics.items()},
            "n_trades": res.n_trades,
            "final_equity": res.final_equity,
        }
        for res in results
    }
    first = results[0]
    report = {
        "study": name,
        "strategy": first.strategy,
        "params": first.params,
        "settings": first.settings.__dict__,
        "symbol": first.bars.symbol,
        **per_symbol[first.bars.symbol],
        "per_symbol": per_symbol,
        **_grid_keys(results),
    }
    if len(results) > 1 and combined is not None:
        report.update(
            symbol=None,
            symbols=list(per_symbol),
            metrics={k: _finite(v) for k, v in combined.items()},
            n_trades=sum(r.n_trades for r in results),
            final_equity=None,
        )
    return report


def _grid_keys(results: Sequence[BacktestRun]) -> dict[str, Any]:
    grid = [r for r in results if isinstance(r, GridBacktestResult)]
    return grid_report(grid) if grid else {}

"""Grid strategies in a study: the study file's `grid:` section turned into runs.

`grid_setup` loads what a study's grid runs need beside the bars (the detail series,
the funding schedule, fees and fills), `check_grid_study` refuses settings that do not
apply to grid strategies and lists the warnings, `backtest_grid_study` is the grid
counterpart of `stratopt.backtest.backtest_study`.
"""

from __future__ import annotations

import dataclasses

from stratopt.backtest import study_bars
from stratopt.config import BacktestConfig, GridConfig, StudyConfig, is_timeframe
from stratopt.data import Bars, load_bars, load_funding_rates
from stratopt.engine import ExecSettings
from stratopt.engine.grid import Funding, GridExec
from stratopt.errors import ConfigError
from stratopt.grid._backtest import GridBacktestResult, GridSetup, grid_backtest, step_warning
from stratopt.strategies import GridStrategy, Strategy, get_strategy

__all__ = [
    "backtest_grid_study",
    "check_grid_study",
    "grid_exec",
    "grid_setup",
    "is_grid_strategy",
    "is_grid_study",
    "with_settings",
]

# backtest fields a grid run uses; every other one belongs to the single-position engine
_USED = {"cash", "commission", "slippage_bps"}


def is_grid_strategy(strategy: Strategy) -> bool:
    return isinstance(strategy, GridStrategy)


def study_strategy(study: StudyConfig) -> Strategy:
    """The study's strategy; a grid study always names one (never an external evaluator)."""
    if study.strategy is None:
        raise ConfigError(f"study {study.name!r}: grid settings need a strategy, not an evaluator")
    return get_strategy(study.strategy, base_dir=study.base_dir)


def is_grid_study(study: StudyConfig) -> bool:
    """Whether the study's strategy trades a grid (a user strategy is loaded to see)."""
    if study.strategy is None:  # an external evaluator
        return False
    return is_grid_strategy(get_strategy(study.strategy, base_dir=study.base_dir))


def grid_exec(study: StudyConfig, settings: ExecSettings | None = None) -> GridExec:
    """Fills and fees of the study's grid runs (`settings`: a candidate's backtest
    settings when the space searches some)."""
    cfg = study.grid or GridConfig()
    s = settings or study.backtest.to_settings()
    return GridExec(
        cash=s.cash,
        maker_fee=s.commission if cfg.maker_fee is None else cfg.maker_fee,
        taker_fee=s.commission if cfg.taker_fee is None else cfg.taker_fee,
        slippage_bps=s.slippage_bps,
        position_mode=cfg.position_mode,
        path=cfg.detail_path if cfg.path == "detail" else cfg.path,
        max_lots=cfg.max_lots,
    )


def _detail(study: StudyConfig, bars: Bars, cfg: GridConfig) -> Bars | None:
    if cfg.path != "detail" or not cfg.detail:
        return None
    data = study.data
    if is_timeframe(cfg.detail):
        finer = study_bars(study.model_copy(update={"data": data.model_copy(
            update={"timeframe": cfg.detail})}))  # fmt: skip
        for b in finer:
            if b.symbol == bars.symbol:
                return b
        raise ConfigError(f"grid.detail: no {cfg.detail} bars of {bars.symbol!r}")
    if len(data.paths) > 1 or data.synthetic is not None:
        raise ConfigError(
            f"grid.detail: a detail file ({cfg.detail}) serves one data file; use a "
            "timeframe (e.g. 1m) with several files or synthetic data"
        )
    return load_bars(study.resolve_path(cfg.detail), start=data.start, end=data.end)


def _funding(study: StudyConfig, cfg: GridConfig) -> Funding | None:
    f = cfg.funding
    if f is None:
        return None
    marks = load_bars(study.resolve_path(f.mark)) if f.mark else None
    if f.file is not None:
        rates = load_funding_rates(study.resolve_path(f.file))
        return Funding.series(rates.time, rates.rate, marks=marks)
    assert f.rate is not None and f.interval is not None
    return Funding.constant(f.rate, f.interval, f.phase, marks=marks)


def grid_setup(study: StudyConfig, bars: Bars, settings: ExecSettings | None = None) -> GridSetup:
    """The detail series, funding and execution of the study's grid runs on `bars`.

    Raises:
        ConfigError, DataError: a detail or funding file cannot be used.
    """
    cfg = study.grid or GridConfig()
    return GridSetup(grid_exec(study, settings), _detail(study, bars, cfg), _funding(study, cfg))


def check_grid_study(
    study: StudyConfig, bars: Bars | None = None, *, searched: bool = False
) -> list[str]:
    """Refuse study settings that do not apply to grid strategies; return the warnings
    about `bars` (for the fixed parameters, or for the space when `searched`).

    Raises:
        ConfigError: a `backtest` field of the single-position engine is set, or
            `aggregate: portfolio` is asked for.
    """
    defaults = BacktestConfig()
    for name in (f.name for f in dataclasses.fields(BacktestConfig)):
        if name not in _USED and getattr(study.backtest, name) != getattr(defaults, name):
            raise ConfigError(
                f"backtest.{name}: does not apply to grid strategies (their lots exit by "
                "tp_steps and sl_steps; fees and fills are in the grid: section)"
            )
    if study.aggregate == "portfolio":
        raise ConfigError("aggregate: 'portfolio' is not available for grid strategies")
    cfg = study.grid or GridConfig()
    if cfg.path == "detail" or bars is None:
        return []
    strategy = study_strategy(study)
    steps = _step_bounds(study, strategy, searched)
    warning = step_warning(bars, min(steps)) if steps else None
    return [f"{bars.symbol}: {warning}"] if warning else []


def _step_bounds(study: StudyConfig, strategy: Strategy, searched: bool) -> list[float]:
    """The smallest grid step the study tries: the space's low end, or the fixed one."""
    out: list[float] = []
    if "grid_step_bps" not in strategy.parameters:
        return out
    spec = study.space.get("grid_step_bps") if searched else None
    if isinstance(spec, dict) and isinstance(spec.get("low"), int | float):
        out.append(float(spec["low"]))
    elif isinstance(spec, list) and spec and all(isinstance(v, int | float) for v in spec):
        out.append(float(min(spec)))
    else:
        out.append(float(strategy.resolve(study.params)["grid_step_bps"]))
    return out


def backtest_grid_study(study: StudyConfig) -> list[GridBacktestResult]:
    """Backtest the study's fixed parameters on each of its data series (grid strategy)."""
    strategy = study_strategy(study)
    check_grid_study(study)
    out = []
    for bars in study_bars(study):
        setup = grid_setup(study, bars)
        out.append(grid_backtest(bars, strategy, study.params, setup))
    return out


def with_settings(setup: GridSetup, ex: GridExec) -> GridSetup:
    """The same detail and funding with other fills and fees."""
    return dataclasses.replace(setup, ex=ex)

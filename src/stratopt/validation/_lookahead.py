"""Look-ahead check: do a strategy's signals change when future bars are removed?

A signal at bar ``i`` may use bars ``0..i`` only. For each truncation point ``cut`` the
signals are computed twice from the same first bar ``s``: on the *reference* window
``[s, e)`` and on the *truncated* window ``[s, cut)``, with ``cut < e``; any bar
``i < cut`` whose signal differs used data from ``cut`` or later — a leak. Both windows
start at the same bar, so recursive indicators (EMA, RSI) warm up identically and cannot
raise a false alarm.

* The full check (``lookback=None, horizon=None``): ``s = 0``, ``e = n`` — the signals on
  the full data against the signals on every truncated prefix.
* The bounded check run after every optimization: ``s = cut - lookback`` and
  ``e = cut + horizon``, so each point costs ``lookback + horizon`` bars whatever the data
  length. It catches any leak reaching at most ``horizon`` bars ahead, and any use of
  whole-window statistics (they change when the window's end moves).

Truncation points are spread evenly over the last 90% of the data (deterministic). Each
leak names the series, the parameter set, the truncation point and the first bar whose
signal changed (position and timestamp), with how many bars changed at that point.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack

import numpy as np
import optuna
import pandas as pd

from stratopt.config import StudyConfig
from stratopt.data import Bars
from stratopt.errors import ConfigError, StratoptError
from stratopt.evaluation import NO_CURVE, DataKey, External, ExternalFailure, Router, StudyData
from stratopt.search import SearchSpace, parse_constraints
from stratopt.strategies import GridStrategy, IndicatorCache, Strategy, get_strategy

__all__ = [
    "Leak",
    "LookaheadReport",
    "TruncationOptions",
    "check_lookahead",
    "check_study_lookahead",
    "sample_space",
    "truncation_points",
]


@dataclass(frozen=True)
class Leak:
    """A signal that changed when bars after it were removed.

    Attributes:
        symbol: The data series.
        params: The strategy parameters (resolved) the signals were computed with.
        cut: The truncation point: bars from `cut` on were removed (position).
        cut_time: Timestamp of bar `cut`, the first removed bar.
        bar: The first bar whose signal changed (position, < cut).
        bar_time: Its timestamp.
        full: Its signal code on the reference window (an external evaluator's: its
            equity there).
        truncated: Its signal code (or equity) on the truncated window.
        changed: How many bars before `cut` changed.
    """

    symbol: str
    params: dict[str, Any]
    cut: int
    cut_time: str
    bar: int
    bar_time: str
    full: float
    truncated: float
    changed: int


@dataclass
class LookaheadReport:
    """What a look-ahead check found.

    Attributes:
        parameter_sets: Parameter sets checked (on every series).
        series: Data series checked.
        points: Truncation points per series.
        lookback: Bars kept before each point (None: from the first bar).
        horizon: Bars after each point in the reference (None: to the last bar).
        leaks: One entry per (parameter set, series, point) with a changed signal, up to
            `max_leaks`; `n_leaks` counts them all.
        errors: Parameter sets that could not be checked, with the reason.
        compared: What was compared per bar: ``"signal"`` (a strategy's signal codes)
            or ``"equity"`` (an external evaluator's equity curve).
    """

    parameter_sets: int = 0
    series: int = 0
    points: int = 0
    lookback: int | None = None
    horizon: int | None = None
    leaks: list[Leak] = field(default_factory=list)
    n_leaks: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    max_leaks: int = 50
    compared: str = "signal"

    @property
    def not_checked(self) -> str | None:
        """Why nothing was checked (no parameter set, series or truncation point), or None.

        A check that compared nothing found no leak, but it is not clean.
        """
        if self.parameter_sets == 0:
            skipped = len(self.errors)
            first = f": {self.errors[0]['error']}" if skipped else ""
            return f"no parameter set could be checked ({skipped} skipped{first})"
        if self.series == 0:
            return "no data series"
        if self.points == 0:
            return "the data is too short for a truncation point (need 3 bars or more)"
        return None

    @property
    def clean(self) -> bool | None:
        """No leak found (None: nothing was checked, see `not_checked`)."""
        if self.not_checked is not None:
            return None
        return self.n_leaks == 0

    @property
    def leaky_parameter_sets(self) -> int:
        return len({repr(sorted(leak.params.items())) for leak in self.leaks})

    def add(self, leak: Leak) -> None:
        self.n_leaks += 1
        if len(self.leaks) < self.max_leaks:
            self.leaks.append(leak)

    def merge(self, other: LookaheadReport) -> None:
        self.parameter_sets += other.parameter_sets
        self.series = max(self.series, other.series)
        self.points = max(self.points, other.points)
        for leak in other.leaks:
            self.add(leak)
        self.n_leaks += other.n_leaks - len(other.leaks)
        self.errors.extend(other.errors)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for summary.json."""
        return {
            "clean": self.clean,
            "not_checked": self.not_checked,
            "parameter_sets": self.parameter_sets,
            "series": self.series,
            "points": self.points,
            "lookback": self.lookback,
            "horizon": self.horizon,
            "leaks": self.n_leaks,
            "details": [leak.__dict__ for leak in self.leaks],
            "errors": self.errors,
            "compared": self.compared,
        }


def truncation_points(n: int, points: int) -> list[int]:
    """Up to `points` distinct cuts spread evenly from 10% of `n` to `n - 1`, ascending.

    A cut ``c`` keeps bars ``[.., c)``; at least 2 bars are kept and 1 removed.
    """
    if n < 3 or points < 1:
        return []
    lo = min(n - 1, max(2, n // 10))
    cuts = np.unique(np.round(np.linspace(lo, n - 1, points)).astype(np.int64))
    return [int(c) for c in cuts]


def _signals(strategy: Strategy, bars: Bars, p: dict[str, Any]) -> np.ndarray:
    # a grid strategy's decisions are its active sides per bar
    read = strategy.sides if isinstance(strategy, GridStrategy) else strategy.signals
    out = np.asarray(read(bars, p, IndicatorCache(bars)))
    if out.shape != (len(bars),):
        raise StratoptError(
            f"strategy {strategy.name!r} returned signals of shape {out.shape} for {len(bars)} bars"
        )
    return out


def _check_series(
    strategy: Strategy,
    bars: Bars,
    p: dict[str, Any],
    cuts: Sequence[int],
    lookback: int | None,
    horizon: int | None,
    report: LookaheadReport,
) -> None:
    n = len(bars)
    refs: dict[tuple[int, int], np.ndarray] = {}
    for cut in cuts:
        s = 0 if lookback is None else max(0, cut - lookback)
        e = n if horizon is None else min(n, cut + horizon)
        if (s, e) not in refs:
            refs[(s, e)] = _signals(strategy, bars.slice(s, e), p)
        ref = refs[(s, e)][: cut - s]
        part = _signals(strategy, bars.slice(s, cut), p)
        changed = np.flatnonzero(ref != part)
        if changed.size:
            bar = s + int(changed[0])
            report.add(
                Leak(
                    symbol=bars.symbol,
                    params=dict(p),
                    cut=cut,
                    cut_time=str(bars.index[cut]),
                    bar=bar,
                    bar_time=str(bars.index[bar]),
                    full=int(ref[bar - s]),
                    truncated=int(part[bar - s]),
                    changed=int(changed.size),
                )
            )


def check_lookahead(
    strategy: str | Strategy | type[Strategy],
    series: Bars | Sequence[Bars],
    param_sets: Sequence[Mapping[str, Any]],
    *,
    points: int = 20,
    lookback: int | None = None,
    horizon: int | None = None,
    max_leaks: int = 50,
) -> LookaheadReport:
    """Check that `strategy`'s signals never use bars after the one they are for.

    Args:
        strategy: A strategy (built-in name, reference, class or instance).
        series: The data, one or several series.
        param_sets: Strategy parameters to check (defaults filled in, validated).
        points: Truncation points per series.
        lookback: Bars kept before each point (None: from the first bar).
        horizon: Bars after each point in the reference (None: to the last bar).
        max_leaks: Leaks kept in detail (all are counted).

    Returns:
        The report; a parameter set whose parameters are invalid or whose code raises is
        listed in `errors` and the others are still checked.
    """
    strat = get_strategy(strategy)
    all_series = [series] if isinstance(series, Bars) else list(series)
    report = LookaheadReport(
        lookback=lookback, horizon=horizon, series=len(all_series), max_leaks=max_leaks
    )
    report.points = max((len(truncation_points(len(b), points)) for b in all_series), default=0)
    for given in param_sets:
        try:
            p = strat.resolve(given)
            for bars in all_series:
                cuts = truncation_points(len(bars), points)
                _check_series(strat, bars, p, cuts, lookback, horizon, report)
        except Exception as exc:  # user strategy code or bad parameters: this set only
            message = str(exc) if isinstance(exc, StratoptError) else f"{type(exc).__name__}: {exc}"
            report.errors.append({"params": dict(given), "error": message})
            continue
        report.parameter_sets += 1
    return report


def sample_space(
    space: SearchSpace,
    n: int,
    *,
    seed: int = 0,
    accept: Callable[[Mapping[str, Any]], bool] | None = None,
) -> list[dict[str, Any]]:
    """Up to `n` distinct points of `space` drawn by Optuna's seeded random sampler.

    Points `accept` rejects (constraints) are skipped; at most ``20 n`` draws are made.
    """
    if n <= 0:
        return []
    sampler = optuna.samplers.RandomSampler(seed=seed)
    study = optuna.create_study(sampler=sampler, storage=optuna.storages.InMemoryStorage())
    out: dict[str, dict[str, Any]] = {}
    for _ in range(20 * n):
        trial = study.ask()
        params = space.suggest(trial)
        study.tell(trial, 0.0)
        if (accept is None or accept(params)) and repr(space.key(params)) not in out:
            out[repr(space.key(params))] = params
            if len(out) == n:
                break
    return list(out.values())


class TruncationOptions(TypedDict, total=False):
    """How the look-ahead check cuts each series (see `check_lookahead`)."""

    points: int
    lookback: int | None
    horizon: int | None
    max_leaks: int


def check_study_lookahead(
    study: StudyConfig,
    *,
    candidates: Sequence[Mapping[str, Any]] | None = None,
    samples: int = 10,
    seed: int = 0,
    bars_for: Callable[[DataKey], list[Bars]] | None = None,
    **options: Unpack[TruncationOptions],
) -> LookaheadReport:
    """The look-ahead check of a study: its fixed params and a sample of its space.

    Args:
        study: The study (strategy, data, fixed params, space, constraints).
        candidates: Searched parameter sets to check (flat, as in the space) instead of
            the fixed params and a sample.
        samples: Points of the space drawn (seeded) besides the fixed params.
        seed: Seed of the sample.
        bars_for: The bars for a data override (`Candidate.data`); default: loaded
            from the study's data section, once per override.
        options: `points`, `lookback`, `horizon`, `max_leaks`, as `check_lookahead`.

    Raises:
        UserInputError: the study's strategy, space, constraints or data are invalid.
    """
    space = SearchSpace.from_config(study.space, field="space") if study.space else None
    if candidates is None:
        # A function's or a command's parameters have no defaults stratopt knows.
        defaults = space is None or study.evaluator is None or study.evaluator.backtesting_py
        candidates = [*([{}] if defaults else []), *_sample(study, space, samples, seed)]
    load = bars_for or StudyData(study).get
    load(())  # bad data fails the check before anything runs
    if study.evaluator is not None:
        return _check_external(
            External(study, StudyData(study, {(): load(())})), candidates, options
        )
    assert study.strategy is not None
    strategy = get_strategy(study.strategy, base_dir=study.base_dir)
    router = Router(study, strategy, space.names if space is not None else ())
    report = LookaheadReport(
        lookback=options.get("lookback"),
        horizon=options.get("horizon"),
        max_leaks=options.get("max_leaks", 50),
    )
    groups: dict[DataKey, list[dict[str, Any]]] = {}
    for cand in candidates:
        try:
            routed = router.route(cand)
        except ConfigError as exc:
            report.errors.append({"params": dict(cand), "error": str(exc)})
            continue
        groups.setdefault(routed.data, []).append(routed.strategy_params)
    for key, param_sets in groups.items():
        try:
            series = load(key)
        except StratoptError as exc:
            report.errors.extend({"params": p, "error": str(exc)} for p in param_sets)
            continue
        report.merge(check_lookahead(strategy, series, _unique(param_sets), **options))
    return report


def _check_external(
    external: External, candidates: Sequence[Mapping[str, Any]], options: TruncationOptions
) -> LookaheadReport:
    """The check of an external evaluator: its equity curves, truncated and not.

    The evaluator runs each reference window ``[s, e)`` and each truncated one ``[s,
    cut)`` (period `data_start` = `start` = bar `s`); a bar before the truncated run's
    last whose equity differs (relative 1e-9) used data from `cut` or later. The last
    bar is not compared: an engine may close its positions at the end of its data.
    """
    lookback, horizon = options.get("lookback"), options.get("horizon")
    report = LookaheadReport(
        lookback=lookback, horizon=horizon, series=1, max_leaks=options.get("max_leaks", 50),
        compared="equity",
    )  # fmt: skip
    cuts = truncation_points(len(external.axis), options.get("points", 20))
    report.points = len(cuts)
    for given in _unique([dict(c) for c in candidates]):
        try:
            for cut in cuts:
                _check_external_cut(external, given, cut, (lookback, horizon), report)
        except StratoptError as exc:  # the evaluator failed, or returns no curve
            report.errors.append({"params": dict(given), "error": str(exc)})
            continue
        report.parameter_sets += 1
    return report


def _check_external_cut(
    external: External,
    params: dict[str, Any],
    cut: int,
    reach: tuple[int | None, int | None],
    report: LookaheadReport,
) -> None:
    axis, (lookback, horizon) = external.axis, reach
    s = 0 if lookback is None else max(0, cut - lookback)
    e = len(axis) if horizon is None else min(len(axis), cut + horizon)
    ref = external.run(params, external.period(s, e, data_start=s), reuse=True)
    part = external.run(params, external.period(s, cut, data_start=s), reuse=True)
    if ref.equity is None or part.equity is None:
        raise ExternalFailure(f"{NO_CURVE}: the look-ahead check compares equity curves")
    k = cut - s - 1
    changed = np.flatnonzero(~np.isclose(ref.equity[:k], part.equity[:k], rtol=1e-9, atol=0.0))
    if changed.size:
        bar = s + int(changed[0])
        report.add(
            Leak(
                symbol=",".join(b.symbol for b in external.data.get(())),
                params=params,
                cut=cut,
                cut_time=str(pd.Timestamp(axis[cut])),
                bar=bar,
                bar_time=str(pd.Timestamp(axis[bar])),
                full=float(ref.equity[bar - s]),
                truncated=float(part.equity[bar - s]),
                changed=int(changed.size),
            )
        )


def _sample(
    study: StudyConfig, space: SearchSpace | None, samples: int, seed: int
) -> list[dict[str, Any]]:
    """A seeded sample of the space's points that keep the study's constraints."""
    if space is None:
        return []
    known = list(space.names) + [k for k in study.params if k not in space.names]
    constraints = parse_constraints(study.constraints, known, field="constraints")

    def holds(p: Mapping[str, Any]) -> bool:
        return all(c.holds({**study.params, **p}) for c in constraints)

    return sample_space(space, samples, seed=seed, accept=holds)


def _unique(param_sets: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for p in param_sets:
        out.setdefault(repr(sorted(p.items(), key=lambda kv: kv[0])), p)
    return list(out.values())

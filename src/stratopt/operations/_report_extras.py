"""The numbers a report needs that a run folder does not store, from stratopt's functions.

* Equity curves: the best and robust candidates re-run through the engine over the
  study's whole data (holdout included), with the costs of the study.
* PBO detail: `stats.probability_of_backtest_overfitting` re-run on the same candidates,
  bins and partitions the stored statistics used, for its logits and IS/OOS pairs; the
  recomputed PBO is checked against the stored one.
* Monte Carlo fan: `stats.bootstrap_fan` of the best candidate's in-sample returns, with
  `validate`'s simulations and seed, so its final percentiles are the stored ones.
* The robust candidate's PSR, DSR and MinTRL (the stored ones are the best's).

Every step is guarded: a failure becomes a note on the page, never a lost report.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from stratopt.backtest import backtest, evaluate_many, study_bars
from stratopt.data import Bars
from stratopt.evaluation import Candidate, candidate_returns, grid_segment
from stratopt.operations._pbo_kept import KeptPbo, kept_pbo
from stratopt.operations._prepared import PreparedStudy
from stratopt.operations._statistics import (
    MAX_CANDIDATES,
    MONTE_CARLO_SIMS,
    rerun_params,
    select_candidates,
)
from stratopt.reporting import (
    CandidateCurve,
    CandidateStatistics,
    Curves,
    Extras,
    MonteCarloFan,
    PboDetail,
    Pick,
    Slice,
    StoredRun,
    best_and_robust,
    mapping,
    number,
    objective_metric,
    to_float,
)
from stratopt.stats import (
    bootstrap_fan,
    deflated_sharpe_ratio,
    minimum_track_record_length,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    sample_moments,
)
from stratopt.strategies import GridStrategy
from stratopt.validation import slice_values

__all__ = ["compute_extras"]

_log = logging.getLogger(__name__)
FAN_STEPS = 500  # a percentile band is smooth: 500 steps draw it as well as 5,000
T = TypeVar("T")


def _guard(notes: list[str], what: str, work: Callable[[], T]) -> T | None:
    try:
        return work()
    except Exception as exc:  # a failure costs one figure, never the report
        _log.warning("report: %s failed", what, exc_info=True)
        notes.append(f"{what} could not be computed: {type(exc).__name__}: {exc}")
        return None


def compute_extras(ctx: PreparedStudy, run: StoredRun, *, seed: int | None = None) -> Extras:
    """Everything of `Extras` the run allows; notes say what could not be computed.

    `ctx`: the run's study, prepared (its `searched` part is what the search saw).
    """
    notes: list[str] = []
    best, robust = best_and_robust(run)
    if best is None:
        return Extras(notes=("no completed trial: nothing to re-run",))
    bars = _guard(notes, "the study's data", lambda: _whole_data(ctx)) or []
    curves = _guard(notes, "equity curves", lambda: _curves(ctx, run, bars, best, robust))
    pbo = _guard(notes, "the PBO's logits", lambda: _pbo(ctx, run, notes))
    seed = seed if seed is not None else _seed(run, ctx)
    fan = _guard(notes, "the Monte Carlo fan", lambda: _fan(ctx, best, seed))
    robust_stats = slices = None
    if robust is not None and robust.trial != best.trial:
        robust_stats = _guard(
            notes,
            "the robust candidate's statistics",
            lambda: _candidate_statistics(ctx, run, robust),
        )
        slices = _guard(
            notes,
            "the slices through the robust candidate",
            lambda: _robust_slices(ctx, run, robust, notes),
        )
    return Extras(
        curves=curves or (),
        pbo=pbo,
        monte_carlo=fan,
        robust_slices=slices or (),
        robust_statistics=robust_stats,
        notes=tuple(notes),
    )


def _whole_data(ctx: PreparedStudy) -> list[Bars]:
    """The study's bars, the holdout included (the searched ones when it has none)."""
    return ctx.bars() if ctx.holdout is None else study_bars(ctx.study)


def _seed(run: StoredRun, ctx: PreparedStudy) -> int:
    stored = (run.validation or {}).get("seed")
    return int(stored) if isinstance(stored, int | float) else int(ctx.study.search.seed)


# ---- equity curves ----------------------------------------------------------------------


def _curve(ctx: PreparedStudy, bars: Bars, pick: Pick, label: str) -> CandidateCurve:
    cand = ctx.router.route(pick.params)
    if cand.data:
        raise ValueError(f"{label} searched the data itself ({dict(cand.data)})")
    equity, _ = _equity_and_returns(ctx, bars, cand, "the equity curves")
    return CandidateCurve(
        label, pick.trial, pick.params, bars.index, equity, float(cand.settings.cash)
    )


def _equity_and_returns(
    ctx: PreparedStudy, bars: Bars, cand: Candidate, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """`cand`'s equity and per-bar returns on `bars` (a grid strategy: the lot-book engine)."""
    strategy = ctx.own_strategy(what)
    if isinstance(strategy, GridStrategy):
        seg = grid_segment(ctx.study, bars, strategy, cand, 0, len(bars))
        return seg.equity, seg.returns
    res = backtest(bars, strategy, cand.strategy_params, cand.settings)
    return res.sim.equity, np.asarray(res.sim.returns, dtype=np.float64)


def _buy_and_hold(bars: Bars, cash: float) -> CandidateCurve:
    """All cash in at the first close, held to the end; no costs (a reference line)."""
    equity = cash * bars.close / bars.close[0]
    return CandidateCurve("buy and hold", None, {}, bars.index, equity, cash)


def _curves(
    ctx: PreparedStudy, run: StoredRun, series: list[Bars], best: Pick, robust: Pick | None
) -> tuple[Curves, ...]:
    holdout = run.section("holdout") or {}
    start = pd.Timestamp(str(holdout["start"])) if holdout.get("start") else None
    out = []
    for bars in series:
        same = robust is not None and robust.trial == best.trial
        b = _curve(ctx, bars, best, "best = robust" if same else "best")
        r = _curve(ctx, bars, robust, "robust") if robust is not None and not same else None
        out.append(Curves(bars.symbol, b, r, _buy_and_hold(bars, b.cash), start))
    return tuple(out)


# ---- PBO ----------------------------------------------------------------------------------


def _pbo(ctx: PreparedStudy, run: StoredRun, notes: list[str]) -> PboDetail | None:
    stats = run.section("statistics") or {}
    stored = stats.get("pbo")
    if not isinstance(stored, Mapping) or stored.get("pbo") is None or run.ranked.empty:
        return None
    trials = mapping(stats.get("trials"))
    bin_size = int(to_float(trials.get("bin_size"))) if trials.get("bin_size") else 1
    params = rerun_params(run.ranked, run.directions)  # the statistics' candidates
    chosen = select_candidates(len(params), MAX_CANDIDATES)
    picked = [params[i] for i in chosen]
    partitions = int(to_float(stored.get("partitions")) or 16)
    # this process's statistics of the run computed it (optimize, validate): the same bits
    kept = kept_pbo(ctx.searched, ctx.data, picked, bin_size, partitions)
    if kept is None:
        matrix = candidate_returns(ctx.searched, picked, bin_size=bin_size, data=ctx.data)
        res = probability_of_backtest_overfitting(matrix.returns, partitions=partitions)
        kept = KeptPbo(res, int(matrix.returns.shape[1]), int(matrix.returns.shape[0]))
    res = kept.result
    if not math.isclose(res.pbo, float(stored["pbo"]), abs_tol=1e-12):
        notes.append(
            f"the PBO recomputed for its figures ({number(res.pbo)}) differs from the stored "
            f"{number(stored['pbo'])}: the data or trials changed since the run"
        )
    return PboDetail(
        pbo=res.pbo,
        logits=np.asarray(res.logits, dtype=np.float64),
        is_sharpe=np.asarray(res.is_sharpe, dtype=np.float64),
        oos_sharpe=np.asarray(res.oos_sharpe, dtype=np.float64),
        slope=float(res.slope),
        intercept=float(res.intercept),
        candidates=kept.candidates,
        periods=kept.periods,
    )


# ---- Monte Carlo ----------------------------------------------------------------------


def _fan(ctx: PreparedStudy, best: Pick, seed: int) -> MonteCarloFan:
    cand = ctx.router.route(best.params)
    bars = ctx.bars()[0]
    _, returns = _equity_and_returns(ctx, bars, cand, "the report's re-runs")
    t = returns.size
    steps = np.unique(np.linspace(1, t, min(t, FAN_STEPS)).round().astype(np.int64))
    cash = float(cand.settings.cash)
    fan = bootstrap_fan(
        returns,
        steps=steps,
        cash=cash,
        n_sims=MONTE_CARLO_SIMS,
        seed=seed,
        periods_per_year=bars.periods_per_year,
    )
    original = cash * np.cumprod(1.0 + returns)[steps - 1]
    return MonteCarloFan(
        symbol=bars.symbol,
        method=fan.result.method,
        n_sims=fan.result.n_sims,
        seed=seed,
        steps=steps,
        index=bars.index[steps - 1],
        percentiles=fan.percentiles,
        max_drawdown=fan.result.max_drawdown,
        original=original,
    )


# ---- slices through the robust candidate ------------------------------------------------


def _robust_slices(
    ctx: PreparedStudy, run: StoredRun, robust: Pick, notes: list[str]
) -> tuple[Slice, ...]:
    """The sensitivity slices (as the robustness analysis draws them) through `robust`.

    Run in one engine batch on the searched bars; the objective is the metric itself, so
    only one-metric objectives on one data series are done here.
    """
    metric = objective_metric(run)
    series = ctx.bars()
    if metric is None or len(series) != 1:
        raise ValueError("done for a one-metric objective on one data series only")
    space = ctx.plan.space
    plan: list[tuple[str, Any, dict[str, Any] | None]] = []
    for dim in space.dimensions:
        for value in slice_values(dim, robust.params[dim.name]):
            params = {**robust.params, dim.name: value}
            plan.append((dim.name, value, params if ctx.plan.broken(params) is None else None))
    routed = [ctx.router.route(p) for _, _, p in plan if p is not None]
    if any(c.data for c in routed):
        raise ValueError("a slice point searches the data itself")
    strategy = ctx.own_strategy("the robust slices")
    if isinstance(strategy, GridStrategy):  # the search's own grid path, per candidate
        measured = iter(_grid_metric(ctx, [p for _, _, p in plan if p is not None], metric))
    else:
        batch = evaluate_many(series[0], strategy, [c.strategy_params for c in routed],
                              [c.settings for c in routed])  # fmt: skip
        measured = iter(batch.metrics[metric].to_numpy(dtype=np.float64).tolist())
    values = [next(measured) if p is not None else math.nan for _, _, p in plan]
    centre = [v for (_, _, p), v in zip(plan, values, strict=True) if p == dict(robust.params)]
    if centre and not math.isclose(centre[0], robust.values[0], rel_tol=1e-9, abs_tol=1e-12):
        notes.append(f"the robust slices' centre ({number(centre[0])}) differs from the "
                     f"robust trial's stored value ({number(robust.values[0])})")  # fmt: skip
    out = []
    for dim in space.dimensions:
        rows = [(v, y) for (n, v, _), y in zip(plan, values, strict=True) if n == dim.name]
        out.append(Slice(dim.name, [v for v, _ in rows], [y for _, y in rows]))
    return tuple(out)


def _grid_metric(ctx: PreparedStudy, params: list[dict[str, Any]], metric: str) -> list[float]:
    evaluator = ctx.evaluator(jobs=1)
    try:
        outcomes = evaluator.evaluate(params)
    finally:
        evaluator.close()
    return [math.nan if o.metrics is None else float(o.metrics[metric]) for o in outcomes]


# ---- the robust candidate's statistics ------------------------------------------------


def _candidate_statistics(ctx: PreparedStudy, run: StoredRun, pick: Pick) -> CandidateStatistics:
    stats = run.section("statistics") or {}
    dsr = mapping(stats.get("dsr"))
    got = candidate_returns(ctx.searched, [pick.params], data=ctx.data)
    if not got.positions:
        raise ValueError(got.skipped.get(0, "the candidate could not be re-run"))
    m = sample_moments(got.returns[:, 0])
    ppy = got.periods_per_year
    mintrl = minimum_track_record_length(m.sharpe, skew=m.skew, kurtosis=m.kurtosis)
    n_trials = int(to_float(dsr.get("n_trials")) or 1)
    variance = to_float(dsr.get("trials_sharpe_variance_per_period"))
    return CandidateStatistics(
        trial=pick.trial,
        sharpe_annualized=m.sharpe * math.sqrt(ppy),
        psr=probabilistic_sharpe_ratio(m.sharpe, m.n_obs, skew=m.skew, kurtosis=m.kurtosis),
        dsr=deflated_sharpe_ratio(
            m.sharpe,
            m.n_obs,
            n_trials=n_trials,
            trials_variance=variance if variance == variance else 0.0,
            skew=m.skew,
            kurtosis=m.kurtosis,
        ),
        min_track_record_years=mintrl / ppy,
        years=m.n_obs / ppy,
    )

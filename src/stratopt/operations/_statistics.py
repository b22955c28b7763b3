"""Every overfitting statistic of a finished study, from its own trials.

`study_statistics` reads the ranked trials (stratopt's `ranked_frame`), re-runs a
capped, documented selection of them through the engine for their returns, and
returns a JSON-able dict with a one-line plain-language verdict. Its rules are in
docs/validation.md ("Overfitting statistics of a study"); the formulas are
`stratopt.stats`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

import numpy as np
import pandas as pd

from stratopt.config import StudyConfig
from stratopt.data import Bars
from stratopt.evaluation import NO_CURVE, DataKey, StudyData, bin_returns, candidate_returns
from stratopt.operations._pbo_kept import KeptPbo, keep_pbo
from stratopt.operations._rescore import SCORE_FINAL
from stratopt.operations._selection import Counted, counted, selection_record
from stratopt.search import INFEASIBLE
from stratopt.stats import (
    ReturnMoments,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    minimum_backtest_length,
    minimum_track_record_length,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    sample_moments,
    spa_name,
    superior_predictive_ability,
)

__all__ = [
    "StatisticsOptions",
    "backtested",
    "cleanup_record",
    "completed",
    "distinct_params",
    "rerun_params",
    "select_candidates",
    "study_statistics",
    "verdict",
]

log = logging.getLogger(__name__)

# The re-run matrix is binned (bars compounded) to stay under this many bytes.
_MATRIX_BYTES = 64 * 2**20
MAX_CANDIDATES = 200  # distinct candidates re-run for their returns (`select_candidates`)
# Paths of validate's Monte Carlo (the report's fan redraws the same paths).
MONTE_CARLO_SIMS = 1000


def _unavailable(reason: str) -> dict[str, Any]:
    return {"available": False, "reason": reason}


def select_candidates(n_distinct: int, cap: int) -> list[int]:
    """Positions (in rank order) of the distinct candidates re-run for their returns.

    All of them when there are at most `cap`; otherwise the best `cap // 2` and
    `cap - cap // 2` more spread evenly over the rest of the ranking (its first and
    last included). CSCV needs the spread: the top of a ranking alone are near-copies
    of the winner and would understate how often the in-sample best falls behind.
    """
    if n_distinct <= cap:
        return list(range(n_distinct))
    top = cap // 2
    rest = np.linspace(top, n_distinct - 1, cap - top)
    picked = sorted(set(range(top)) | {round(float(x)) for x in rest})
    return picked


class StatisticsOptions(TypedDict, total=False):
    """The knobs of `study_statistics` (defaults in brackets).

    Attributes:
        max_candidates: How many distinct candidates to re-run (`select_candidates`) [200].
        partitions: CSCV blocks `S` for the PBO [16].
        spa_reps: Bootstrap replications of the SPA test [1000].
        spa_max_periods: The SPA runs on returns compounded into at most this many
            periods (its bootstrap costs `reps x periods x candidates`) [500].
        confidence: Of MinTRL [0.95].
        jobs: Processes re-running the candidates (`candidate_returns`) [1].
    """

    max_candidates: int
    partitions: int
    spa_reps: int
    spa_max_periods: int
    confidence: float
    jobs: int


_DEFAULTS: StatisticsOptions = {
    "max_candidates": MAX_CANDIDATES,
    "partitions": 16,
    "spa_reps": 1000,
    "spa_max_periods": 500,
    "confidence": 0.95,
    "jobs": 1,
}


def study_statistics(
    ranked: pd.DataFrame,
    *,
    directions: Sequence[str],
    study: StudyConfig | None = None,
    data: StudyData | Mapping[DataKey, list[Bars]] | None = None,
    seed: int = 0,
    selection: Mapping[str, Any] | None = None,
    **options: Unpack[StatisticsOptions],
) -> dict[str, Any]:
    """PSR, DSR, PBO, MinBTL, MinTRL and SPA of a finished study, with a verdict.

    Args:
        ranked: The study's trials as `stratopt.storage.ranked_frame` gives them.
        directions: The objective's directions. Several objectives (a Pareto front):
            candidates are ranked by the **first** objective alone.
        study: The study file, to re-run candidates for their returns; None for a
            callable objective (no data): return-based statistics are then reported
            unavailable, with the reason.
        data: The study's bars already loaded (a `StudyData`, or bars per data override).
        seed: Of the SPA bootstrap.
        selection: The study's cleanup record (`stratopt.storage.ATTR_SELECTION`): N
            and the trials' Sharpe variance then count the candidates a cleanup deleted.
        options: `StatisticsOptions`.

    Returns:
        A JSON-able dict; every statistic is either its values or
        `{"available": False, "reason": ...}`; `verdict` is one line for people.
    """
    started = time.perf_counter()
    out: dict[str, Any] = {"available": True}
    n_complete = len(completed(ranked, directions))
    ran = _distinct(backtested(ranked, directions))
    count = counted(ran, selection)
    out["trials"] = {
        "completed": n_complete,
        "n_complete": n_complete,
        "n_backtested": count.n,
        "backtested": "distinct candidates run: completed, and pruned by a requirement",
        "ranked_by": "value" if len(directions) == 1 else "value_0 (first objective)",
    }
    if count.cleanup is not None:
        out["trials"]["cleanup"] = {
            "deleted": count.cleanup.get("deleted"),
            "stored_backtested": len(ran),
            "counted": "N and the Sharpe variance include the candidates cleanup deleted",
        }
    if n_complete == 0:
        out.update(available=False, reason="no completed trial")
        out["verdict"] = "overfitting statistics unavailable: no completed trial"
        return out
    if study is None:
        _callable_statistics(out, ran, count)
    else:
        loaded = data if isinstance(data, StudyData) else StudyData(study, data)
        settings: StatisticsOptions = {**_DEFAULTS, **options}
        _returns_statistics(out, ran, count, study, loaded, settings, seed)
    out["verdict"] = verdict(out)
    out["seconds"] = round(time.perf_counter() - started, 3)
    return out


def completed(ranked: pd.DataFrame, directions: Sequence[str]) -> pd.DataFrame:
    """The completed trials of `ranked` with a finite objective, best first (by the
    final score when `rescore` gave one)."""
    if ranked.empty or "state" not in ranked:
        return ranked.iloc[0:0]
    col = "value" if len(directions) == 1 else "value_0"
    col = SCORE_FINAL if SCORE_FINAL in ranked else col  # one scale (a drifting score)
    done = ranked[(ranked["state"] == "complete") & np.isfinite(ranked[col].astype(float))]
    ascending = directions[0] == "minimize"
    return done.sort_values([col, "trial"], ascending=[ascending, True], kind="stable")


def backtested(ranked: pd.DataFrame, directions: Sequence[str]) -> pd.DataFrame:
    """Every trial that was backtested: `completed` (best first), then the trials pruned
    because they missed a requirement, by trial number.

    Those ran and have metrics; leaving them out would truncate the trials' Sharpe
    ratios at the threshold and shrink `N`. Trials pruned before running (a parameter
    constraint, a duplicate) and failures are not counted.
    """
    done = completed(ranked, directions)
    if done.empty or "pruned" not in ranked:
        return done
    missed = ranked["pruned"].astype(str).str.startswith(INFEASIBLE)
    infeasible = ranked[(ranked["state"] == "pruned") & missed].sort_values("trial")
    return pd.concat([done, infeasible]) if len(infeasible) else done


def rerun_params(ranked: pd.DataFrame, directions: Sequence[str]) -> list[dict[str, Any]]:
    """The parameter sets the statistics re-run for the PBO and the SPA, in rank order
    (before `select_candidates` caps them): the distinct `backtested` trials."""
    params, _ = distinct_params(_distinct(backtested(ranked, directions)))
    return params


def _distinct(trials: pd.DataFrame) -> pd.DataFrame:
    """The first trial of each distinct parameter set, in the order given."""
    if trials.empty:
        return trials
    cols = sorted(c for c in trials.columns if str(c).startswith("params."))
    keys = trials[cols].astype(str).apply(tuple, axis=1) if cols else trials["trial"]
    return trials[~keys.duplicated()]


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def distinct_params(done: pd.DataFrame) -> tuple[list[dict[str, Any]], list[int]]:
    """Distinct parameter sets in rank order, and the trial number of each.

    A NaN cell is a parameter that trial did not have. Read column-wise (itertuples):
    building a Series per row cost seconds on a 20,000-trial study.
    """
    cols = [c for c in done.columns if str(c).startswith("params.")]
    names = [str(c).removeprefix("params.") for c in cols]
    seen: set[tuple[tuple[str, str], ...]] = set()
    params: list[dict[str, Any]] = []
    trials: list[int] = []
    for trial, *values in done[["trial", *cols]].itertuples(index=False, name=None):
        p = {
            n: _plain(v)
            for n, v in zip(names, values, strict=True)
            if not (isinstance(v, float) and math.isnan(v))
        }
        key = tuple(sorted((k, repr(v)) for k, v in p.items()))
        if key in seen:
            continue
        seen.add(key)
        params.append(p)
        trials.append(int(trial))
    return params, trials


_RETURN_STATISTICS = ("best", "psr", "dsr", "min_track_record_length", "pbo", "spa")
_CALLABLE = "the objective is a Python function: stratopt has no returns of its trials"


def _callable_statistics(
    out: dict[str, Any], done: pd.DataFrame, count: Counted, reason: str = _CALLABLE,
) -> None:  # fmt: skip
    for key in _RETURN_STATISTICS:
        out[key] = _unavailable(reason)
    out["unavailable"] = {"statistics": list(_RETURN_STATISTICS), "reason": reason}
    best = done.iloc[0]
    sharpe = float(best.get("metrics.sharpe", math.nan))
    if math.isfinite(sharpe) and sharpe > 0:
        out["min_backtest_length"] = {
            "years": minimum_backtest_length(count.n, target_sharpe=sharpe),
            "target_sharpe_annualized": sharpe,
            "assumes": "the objective's `sharpe` is annualized",
        }
    else:
        out["min_backtest_length"] = _unavailable("no positive `sharpe` metric on the best trial")


def _returns_statistics(
    out: dict[str, Any],
    done: pd.DataFrame,
    count: Counted,
    study: StudyConfig,
    data: StudyData,
    options: StatisticsOptions,
    seed: int,
) -> None:
    cap = options["max_candidates"]
    params, trial_numbers = distinct_params(done)
    chosen = select_candidates(len(params), cap)
    best_run = candidate_returns(study, [params[0]], data=data)
    if best_run.skipped.get(0) == NO_CURVE:
        reason = f"{NO_CURVE}: stratopt has no returns of its trials"
        _callable_statistics(out, done, count, reason)
        return
    if not best_run.positions:
        reason = f"the best candidate could not be re-run: {best_run.skipped.get(0, '?')}"
        for key in _BEST_KEYS:
            out[key] = _unavailable(reason)
    else:
        best = _Best(best_run.returns[:, 0], best_run.periods_per_year, trial_numbers[0])
        _best_statistics(out, best, count, options["confidence"])
    bars = len(best_run.index) if best_run.positions else 0
    bin_size = max(1, math.ceil(bars * len(chosen) * 8 / _MATRIX_BYTES))
    matrix = candidate_returns(
        study, [params[i] for i in chosen], bin_size=bin_size, data=data, jobs=options["jobs"]
    )
    out["trials"].update(
        distinct=len(params),
        rerun=len(chosen),
        rerun_ok=len(matrix.positions),
        rerun_skipped=len(matrix.skipped),
        selection=(
            "all distinct backtested candidates" if len(chosen) == len(params)
            else f"best {cap // 2} and {len(chosen) - cap // 2} "
            "spread evenly over the rest of the ranking"
        ),
        bin_size=bin_size,
    )  # fmt: skip
    out["pbo"], kept = _pbo(matrix.returns, options["partitions"])
    if kept is not None:  # the report of this run draws its figures from the same result
        keep_pbo(study, data, [params[i] for i in chosen], bin_size, options["partitions"], kept)
    # SPA and the trials' correlation run on the same returns compounded into at most
    # spa_max_periods periods: their cost grows with periods x candidates.
    spa_bin = max(1, math.ceil(matrix.returns.shape[0] / options["spa_max_periods"]))
    coarse = bin_returns(matrix.returns, spa_bin)
    _implied_trials(out, coarse, count.n)
    out["spa"] = _spa(coarse, spa_bin * bin_size, options["spa_reps"], seed)


_BEST_KEYS = ("best", "psr", "dsr", "min_track_record_length", "min_backtest_length")


@dataclass(frozen=True)
class _Best:
    """The best candidate's per-bar returns, re-run."""

    returns: np.ndarray
    periods_per_year: float
    trial: int


def _best_statistics(
    out: dict[str, Any],
    best: _Best,
    count: Counted,
    confidence: float,
) -> None:
    try:
        m = sample_moments(best.returns)
    except ValueError as exc:
        reason = f"best candidate: {exc}"
        for key in _BEST_KEYS:
            out[key] = _unavailable(reason)
        return
    ppy = best.periods_per_year
    root = math.sqrt(ppy)
    out["best"] = {
        "trial": best.trial,
        "observations": m.n_obs,
        "periods_per_year": ppy,
        "years": m.n_obs / ppy,
        "sharpe_per_period": m.sharpe,
        "sharpe_annualized": m.sharpe * root,
        "skew": m.skew,
        "kurtosis_raw": m.kurtosis,
        "kurtosis_excess": m.kurtosis - 3.0,
    }
    out["psr"] = {
        "value": probabilistic_sharpe_ratio(m.sharpe, m.n_obs, skew=m.skew, kurtosis=m.kurtosis),
        "benchmark_sharpe": 0.0,
    }
    out["dsr"] = _dsr(m, ppy, count)
    mintrl = minimum_track_record_length(
        m.sharpe, skew=m.skew, kurtosis=m.kurtosis, confidence=confidence
    )
    out["min_track_record_length"] = {
        "observations": mintrl,
        "years": mintrl / ppy,
        "confidence": confidence,
        "have_observations": m.n_obs,
    }
    annual = m.sharpe * root
    if annual > 0:
        out["min_backtest_length"] = {
            "years": minimum_backtest_length(count.n, target_sharpe=annual),
            "target_sharpe_annualized": annual,
            "have_years": m.n_obs / ppy,
        }
    else:
        out["min_backtest_length"] = _unavailable("the best Sharpe ratio is not positive")


def _dsr(m: ReturnMoments, ppy: float, count: Counted) -> dict[str, Any]:
    # The trials' `sharpe` metrics are annualized (x sqrt(P)); their variance per
    # period is the annualized variance / P.
    n_trials = count.n
    variance = count.sharpe_variance / ppy
    sr0 = expected_max_sharpe(n_trials, variance=variance)
    value = deflated_sharpe_ratio(
        m.sharpe, m.n_obs, n_trials=n_trials, trials_variance=variance, skew=m.skew,
        kurtosis=m.kurtosis,
    )  # fmt: skip
    return {
        "value": value,
        "n_trials": n_trials,
        "trials_sharpe_variance_per_period": variance,
        "trials_sharpe_variance_annualized": variance * ppy,
        "trials_with_sharpe": count.sharpe_count,
        "expected_max_sharpe_per_period": sr0,
        "expected_max_sharpe_annualized": sr0 * math.sqrt(ppy),
    }


def _implied_trials(out: dict[str, Any], returns: np.ndarray, n_trials: int) -> None:
    """DSR with the paper's implied number of independent trials, N^ = rho + (1 - rho) M.

    rho is the mean pairwise correlation of the re-run candidates' (binned) returns, flat
    ones left out, clipped to [0, 1]; M the trials run. Reported beside the DSR with M.
    """
    dsr = out.get("dsr")
    if not isinstance(dsr, dict) or "value" not in dsr or returns.shape[1] < 2:
        return
    live = returns[:, returns.std(axis=0) > 0]
    if live.shape[1] < 2:
        return
    corr = np.corrcoef(live, rowvar=False)
    k = corr.shape[0]
    rho = float(min(max((corr.sum() - k) / (k * (k - 1)), 0.0), 1.0))
    implied = rho + (1.0 - rho) * n_trials
    best = out["best"]
    dsr["mean_correlation"] = rho
    dsr["n_trials_implied"] = implied
    dsr["value_implied_trials"] = deflated_sharpe_ratio(
        best["sharpe_per_period"],
        best["observations"],
        n_trials=max(1, round(implied)),
        trials_variance=dsr["trials_sharpe_variance_per_period"],
        skew=best["skew"],
        kurtosis=best["kurtosis_raw"],
    )


def _pbo(returns: np.ndarray, partitions: int) -> tuple[dict[str, Any], KeptPbo | None]:
    if returns.shape[1] < 2:
        return _unavailable("fewer than 2 candidates could be re-run"), None
    if returns.shape[0] < 2 * partitions:
        reason = f"{returns.shape[0]} periods are too few for {partitions} partitions"
        return _unavailable(reason), None
    res = probability_of_backtest_overfitting(returns, partitions=partitions)
    periods = int(returns.shape[0])
    return {**res.summary(), "periods": periods}, KeptPbo(res, int(returns.shape[1]), periods)


def _spa(returns: np.ndarray, bars_per_period: int, reps: int, seed: int) -> dict[str, Any]:
    if returns.shape[1] < 1:
        return _unavailable("no candidate could be re-run")
    if returns.shape[0] < 10:
        return _unavailable(f"{returns.shape[0]} periods are too few for the SPA test")
    res = superior_predictive_ability(returns, reps=reps, seed=seed)
    return {**res.to_dict(), "bin_size": bars_per_period, "benchmark": "flat (return 0)"}


_LABELS = {"best": "the best's moments", "psr": "PSR", "dsr": "DSR",
           "min_track_record_length": "MinTRL", "pbo": "PBO", "spa": "SPA"}  # fmt: skip


def verdict(stats: Mapping[str, Any]) -> str:
    """One plain-language line from a `study_statistics` dict."""
    trials = stats.get("trials", {})
    # Older sections counted completed trials only.
    n = f"N={trials.get('n_backtested', trials.get('completed', 0))} backtested candidates"
    if "cleanup" in trials:
        n += f" ({trials['cleanup'].get('deleted')} deleted by cleanup still counted)"
    dsr = stats.get("dsr", {})
    best = stats.get("best", {})
    parts: list[str] = []
    if dsr.get("value") is not None:
        value = float(dsr["value"])
        sr = float(best["sharpe_annualized"])
        luck = f"{float(dsr['expected_max_sharpe_annualized']):.2f}"
        if value >= 0.95:
            judgement = f"beats the {luck} luck would give the best of {n}"
        elif value >= 0.5:
            judgement = f"is not significantly above the {luck} luck would give the best of {n}"
        else:
            judgement = f"is likely a fluke of {n} (luck alone would give {luck})"
        parts.append(f"DSR {value:.2f} — the best Sharpe ({sr:.2f} annualized) {judgement}")
    elif "unavailable" in stats:
        missing = stats["unavailable"]
        others = ", ".join(_LABELS.get(k, k) for k in missing["statistics"] if k != "dsr")
        parts.append(f"DSR unavailable ({missing['reason']}); nor are {others}")
    else:
        reason = dsr.get("reason", "unavailable")
        parts.append(f"DSR unavailable ({reason})")
    pbo = stats.get("pbo", {})
    if pbo.get("pbo") is not None:
        parts.append(f"PBO {float(pbo['pbo']):.2f}")
    spa = stats.get("spa", {})
    if spa.get("pvalue_consistent") is not None:
        parts.append(f"{spa_name(spa)} p {float(spa['pvalue_consistent']):.2f}")
    if (
        dsr.get("value") is not None
        and float(dsr["value"]) < 0.95
        and pbo.get("pbo") is not None
        and float(pbo["pbo"]) < 0.2
        and spa.get("pvalue_consistent") is not None
        and float(spa["pvalue_consistent"]) < 0.05
    ):
        # The tests disagree; say why rather than leave the user with a contradiction.
        parts.append(
            "PBO and SPA point to a real edge: the DSR's bar is high because the trials' "
            "Sharpe ratios differ widely"
        )
    if (
        dsr.get("value") is not None
        and float(dsr["value"]) >= 0.95
        and pbo.get("pbo") is not None
        and float(pbo["pbo"]) >= 0.5
    ):
        parts.append(
            "yet by PBO the in-sample winner more often than not falls below the median out "
            "of sample (trials sampled near the best keep their Sharpe ratios close, which "
            "lowers the DSR's bar)"
        )
    return "; ".join(parts)


def cleanup_record(
    ranked: pd.DataFrame,
    directions: Sequence[str],
    selection: Mapping[str, Any] | None,
    *,
    kept: int,
    deleted: int,
) -> dict[str, Any]:
    """The `ATTR_SELECTION` record a cleanup writes before deleting: every distinct
    candidate backtested so far (with those an earlier cleanup recorded) and their
    Sharpe moments; `kept` trials stay, `deleted` go."""
    ran = _distinct(backtested(ranked, directions))
    return selection_record(ran, selection, kept=kept, deleted=deleted)

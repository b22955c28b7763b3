"""The honesty report: what the two stages found, and how much of it survives.

* Stage 1: the selected models' fold ICs with standard errors, and each model's IC on the
  holdout (the final model, fit on every development sample, predicting unseen bars).
* Stage 2: the best rule's development Sharpe, its holdout Sharpe and the degradation;
  the deflated Sharpe ratio with N = stage-2 trials and, as the conservative bound,
  N = stage-1 x stage-2 trials (every model tried could have been picked); the PBO
  over the stage-2 candidates (CSCV on their development returns); and the robust pick
  (the best smoothed objective among the top candidates), also run on the holdout.

Returns of every distinct stage-2 candidate are recomputed on the development span
(the engine only: a few milliseconds each), at most `MAX_CANDIDATES` spread over the
ranking. Formulas: `stratopt.stats` and docs/validation.md.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from stratopt.ml._ic import block_ic, per_date_ic, summarize
from stratopt.ml._predict import holdout_predictions, model_params
from stratopt.ml._prepare import Prepared
from stratopt.ml._search import completed_trials
from stratopt.ml._stage2 import PredictionSet, RuleBacktester, RuleRun
from stratopt.ml._stages import Stage1Result, Stage2Result, TrainingLog, stage1_folds
from stratopt.search import Choice, FloatRange, IntRange, SearchSpace
from stratopt.stats import (
    deflated_sharpe_ratio,
    probability_of_backtest_overfitting,
    sample_moments,
)

__all__ = ["MAX_CANDIDATES", "holdout_backtester", "honesty_report", "robust_pick"]

MAX_CANDIDATES = 500
ROBUST_TOP = 10
ROBUST_STEP = 0.10  # a neighbour is within 10 % of each numeric dimension's range


def _finite(x: float) -> float | None:
    return float(x) if isinstance(x, int | float) and math.isfinite(x) else None


def holdout_backtester(
    prepared: Prepared, stage1: Stage1Result, models: tuple[int, ...], log: TrainingLog
) -> tuple[RuleBacktester, dict[int, np.ndarray]]:
    """The rule on the holdout bars with each model's final predictions, and those."""
    t, n, h = prepared.panel.n_bars, prepared.panel.n_assets, prepared.holdout_start
    sets, raw = {}, {}
    for m in models:
        pred = holdout_predictions(prepared, model_params(prepared, stage1.study.trials[m].params))
        log.trained += pred.trained
        log.cached += not pred.trained
        values = np.full((1, t, n), np.nan)
        values[0, h:] = pred.folds[0]
        fold = np.full((1, t), -1, dtype=np.int64)
        fold[0, h:] = 0
        sets[m] = PredictionSet(values, fold)
        raw[m] = pred.folds[0]
    settings = prepared.study.stage2.backtest.to_settings()
    return RuleBacktester(prepared.panel, sets, span=(h, t), settings=settings), raw


def _holdout_ic(prepared: Prepared, pred: np.ndarray) -> dict[str, Any]:
    h, reach = prepared.holdout_start, prepared.study.label.reach
    n = prepared.panel.n_bars - h - reach  # holdout samples with a label
    if n < 2:
        return {"available": False, "reason": "the holdout is shorter than the label's reach"}
    p, y = pred[:n], prepared.label[h : h + n]
    if prepared.study.ic == "cross_sectional":
        ic, ric = per_date_ic(p, y, rank=False), per_date_ic(p, y, rank=True)
    else:
        rows, block = np.arange(n), prepared.study.stage1.ic_block
        ic = block_ic(p, y, rows, block=block, rank=False)
        ric = block_ic(p, y, rows, block=block, rank=True)
    s, r = summarize(ic), summarize(ric)
    return {
        "ic": _finite(s.mean),
        "ic_se": _finite(s.se),
        "rank_ic": _finite(r.mean),
        "rank_ic_se": _finite(r.se),
        "dates": r.n,
    }


def _stage1_section(
    prepared: Prepared, stage1: Stage1Result, models: tuple[int, ...], raw: dict[int, np.ndarray]
) -> dict[str, Any]:
    table = stage1.trials
    out: dict[str, Any] = {
        "study": stage1.study.study_name,
        "objective": prepared.study.stage1.objective,
        "trials_complete": int((table["state"] == "complete").sum()) if len(table) else 0,
        "models": [],
    }
    for m in models:
        trial = stage1.study.trials[m]
        metrics = (trial.user_attrs.get("stratopt") or {}).get("metrics", {})
        out["models"].append(
            {
                "trial": m,
                "params": dict(trial.params),
                "development": {k: _finite(float(v)) for k, v in metrics.items()},
                "folds": stage1_folds(prepared, stage1, m),
                "holdout": _holdout_ic(prepared, raw[m]),
            }
        )
    return out


def _neighbours(space: SearchSpace | None, a: dict[str, Any], b: dict[str, Any]) -> bool:
    if space is None:
        return True
    for dim in space.dimensions:
        x, y = a.get(dim.name), b.get(dim.name)
        if isinstance(dim, Choice):
            if x != y:
                return False
            continue
        assert isinstance(dim, IntRange | FloatRange)
        lo, hi, fx, fy = float(dim.low), float(dim.high), float(x), float(y)  # type: ignore[arg-type]
        if dim.log:
            lo, hi, fx, fy = (math.log(v) for v in (lo, hi, fx, fy))
        if abs(fx - fy) > ROBUST_STEP * (hi - lo) + 1e-12:
            return False
    return True


def robust_pick(stage2: Stage2Result) -> dict[str, Any] | None:
    """Among the top candidates, the best mean objective over itself and its neighbours."""
    done = completed_trials(stage2.study)
    if not done:
        return None
    sign = 1.0 if stage2.direction == "maximize" else -1.0
    ranked = sorted(done, key=lambda t: (-sign * t.values[0], t.number))
    best: tuple[float, int, dict[str, Any]] | None = None
    for rank, t in enumerate(ranked[:ROBUST_TOP]):
        around = [u.values[0] for u in done if _neighbours(stage2.space, t.params, u.params)]
        smoothed = float(np.mean(around))
        if best is None or sign * smoothed > sign * best[0]:
            best = (
                smoothed,
                rank,
                {
                    "trial": t.number,
                    "params": dict(t.params),
                    "value": t.values[0],
                    "smoothed": smoothed,
                    "neighbours": len(around) - 1,
                },
            )
    assert best is not None
    return best[2]


def _candidates(stage2: Stage2Result) -> list[Any]:
    """Distinct completed candidates, best first; at most `MAX_CANDIDATES` spread evenly."""
    sign = 1.0 if stage2.direction == "maximize" else -1.0
    seen, distinct = set(), []
    for t in sorted(completed_trials(stage2.study), key=lambda t: (-sign * t.values[0], t.number)):
        key = tuple(sorted((k, repr(v)) for k, v in t.params.items()))
        if key not in seen:
            seen.add(key)
            distinct.append(t)
    if len(distinct) > MAX_CANDIDATES:
        keep = np.unique(np.round(np.linspace(0, len(distinct) - 1, MAX_CANDIDATES)).astype(int))
        distinct = [distinct[i] for i in keep]
    return distinct


def _sharpe(returns: np.ndarray) -> float | None:
    r = returns[np.isfinite(returns)]
    if r.size < 2 or float(r.std(ddof=1)) == 0.0:
        return None
    return float(r.mean() / r.std(ddof=1))


def _overfitting(stage2: Stage2Result, n1: int, best: RuleRun, hold: RuleRun) -> dict[str, Any]:
    """DSR (N2 and N1 x N2) on development and holdout returns; PBO over stage 2."""
    cands = _candidates(stage2)
    runs = [stage2.dev.run({**stage2.fixed, **t.params}).returns for t in cands]
    sharpes = [s for s in (_sharpe(r) for r in runs) if s is not None]
    n2 = len(completed_trials(stage2.study))
    variance = float(np.var(sharpes, ddof=1)) if len(sharpes) > 1 else 0.0
    out: dict[str, Any] = {
        "stage2_trials": n2,
        "stage1_trials": n1,
        "candidates_rerun": len(cands),
        "trials_sharpe_variance": variance,
    }
    for label, run in (("development", best), ("holdout", hold)):
        out[f"dsr_{label}"] = _dsr(run.returns, {"n2": n2, "n1xn2": n1 * n2}, variance)
    if len(runs) >= 2 and len(runs[0]) >= 32:
        pbo = probability_of_backtest_overfitting(np.column_stack(runs), partitions=16)
        out["pbo"] = {"value": float(pbo.pbo), "candidates": len(runs), "partitions": 16}
    else:
        out["pbo"] = {"available": False, "reason": "needs 2 candidates and 32 bars"}
    return out


def _dsr(returns: np.ndarray, counts: dict[str, int], variance: float) -> dict[str, Any]:
    try:
        m = sample_moments(returns)
    except ValueError as exc:
        return {"available": False, "reason": str(exc)}
    out: dict[str, Any] = {"sharpe_per_period": m.sharpe, "n_obs": int(returns.size)}
    for name, n in counts.items():
        out[name] = deflated_sharpe_ratio(
            m.sharpe,
            int(returns.size),
            n_trials=max(1, n),
            trials_variance=variance,
            skew=m.skew,
            kurtosis=m.kurtosis,
        )
    return out


def _rule_row(name: str, trial: Any, dev: RuleRun, hold: RuleRun) -> dict[str, Any]:
    d, h = dev.metrics.get("sharpe", math.nan), hold.metrics.get("sharpe", math.nan)
    return {
        "candidate": name,
        "trial": trial.number,
        "params": dict(trial.params),
        "development_sharpe": _finite(d),
        "holdout_sharpe": _finite(h),
        "degradation": _finite(d - h),
        "holdout_over_development": _finite(h / d) if d and math.isfinite(d) else None,
        "development": {k: _finite(v) for k, v in dev.metrics.items()},
        "holdout": {k: _finite(v) for k, v in hold.metrics.items()},
    }


def honesty_report(
    prepared: Prepared, stage1: Stage1Result, stage2: Stage2Result, log: TrainingLog
) -> tuple[dict[str, Any], pd.DataFrame]:
    """The report's sections (summary.json) and the holdout table of the top candidates."""
    holdout, raw = holdout_backtester(prepared, stage1, stage2.models, log)
    done = stage2.trials[stage2.trials["state"] == "complete"]
    if done.empty:
        return {"stage1": _stage1_section(prepared, stage1, stage2.models, raw)}, pd.DataFrame()
    study, fixed = stage2.study, stage2.fixed
    top = [study.trials[int(n)] for n in done["trial"].head(prepared.study.stage2.top)]
    rows = []
    for rank, t in enumerate(top, start=1):
        dev, hold = stage2.dev.run({**fixed, **t.params}), holdout.run({**fixed, **t.params})
        rows.append({"rank": rank, **_rule_row(f"top{rank}", t, dev, hold)})
    best = rows[0]
    robust = robust_pick(stage2)
    if robust is not None:
        t = study.trials[robust["trial"]]
        dev, hold = stage2.dev.run({**fixed, **t.params}), holdout.run({**fixed, **t.params})
        robust.update(_rule_row("robust", t, dev, hold))
    best_trial = study.trials[best["trial"]]
    n1 = int((stage1.trials["state"] == "complete").sum())
    stats = _overfitting(
        stage2,
        n1,
        stage2.dev.run({**fixed, **best_trial.params}),
        holdout.run({**fixed, **best_trial.params}),
    )
    sections = {
        "stage1": _stage1_section(prepared, stage1, stage2.models, raw),
        "stage2": {
            "study": study.study_name,
            "objective": prepared.study.stage2.objective,
            "models": list(stage2.models),
            "best": best,
            "robust": robust,
            "development_span": _span(prepared, stage2.dev),
            "holdout_span": _span(prepared, holdout),
        },
        "overfitting": stats,
    }
    table = pd.DataFrame(
        [{k: v for k, v in r.items() if k not in ("development", "holdout")} for r in rows]
    )
    return sections, table


def _span(prepared: Prepared, bt: RuleBacktester) -> dict[str, Any]:
    idx = prepared.panel.index
    return {"start": str(idx[bt.start]), "end": str(idx[bt.stop - 1]), "bars": bt.stop - bt.start}

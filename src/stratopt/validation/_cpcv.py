"""Combinatorial purged cross-validation over a matrix of candidates' per-bar returns.

López de Prado, *Advances in Financial Machine Learning* (2018), ch. 12: the bars are cut
into N groups; every choice of k test groups is a split; on each split the candidate
with the best train-set metric is chosen and its returns on the test groups are kept;
the test groups of the splits are recombined into C(N-1, k-1) complete backtest paths.
The spread of the paths' metrics shows how much of a backtest's result was the luck of
one path. Formulas in docs/validation.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from stratopt._suggest import did_you_mean
from stratopt.errors import ConfigError
from stratopt.metrics import compute_metrics
from stratopt.stats import SELECTION_METRICS
from stratopt.validation._windows import CpcvPlan, cpcv_plan

__all__ = ["SELECTION_METRICS", "CpcvResult", "combinatorial_purged_cv"]

Matrix = npt.NDArray[np.float64]


_PATH_METRICS = ("sharpe", "total_return", "max_drawdown", "cagr", "volatility", "sortino")


@dataclass(frozen=True)
class CpcvResult:
    """What `combinatorial_purged_cv` found.

    Attributes:
        plan: the groups, splits and path assignment (`stratopt.validation.CpcvPlan`).
        labels: the candidates' names (the matrix's columns).
        chosen: per split, the position of the candidate chosen on its train bars.
        train_score, test_score: per split, the chosen candidate's selection metric on
            the train bars and on the test bars.
        path_choices: ``(paths, groups)``: the candidate that fills each group of each path.
        path_returns: ``(bars, paths)``: each path's per-bar returns.
        path_metrics: one row per path: sharpe, total_return, max_drawdown, cagr,
            volatility, sortino (docs/metrics.md definitions, annualized with
            `periods_per_year`).
        distribution: per path metric: mean, std, min, p5, p50, p95, max over paths.
    """

    plan: CpcvPlan
    labels: list[str]
    metric: str
    chosen: npt.NDArray[np.int64]
    train_score: Matrix
    test_score: Matrix
    path_choices: npt.NDArray[np.int64]
    path_returns: Matrix
    path_metrics: pd.DataFrame
    distribution: dict[str, dict[str, float]]

    def to_dict(self) -> dict[str, object]:
        """Plain data (for JSON): counts, choices, per-path metrics and their spread."""
        p = self.plan
        return {
            "groups": p.groups,
            "test_groups": p.test_groups,
            "purge": p.purge,
            "embargo": p.embargo,
            "n_splits": p.n_splits,
            "n_paths": p.n_paths,
            "metric": self.metric,
            "splits": [
                {
                    "test_groups": list(s.test_groups),
                    "chosen": self.labels[int(self.chosen[s.index])],
                    "train_score": float(self.train_score[s.index]),
                    "test_score": float(self.test_score[s.index]),
                }
                for s in p.splits
            ],
            "paths": self.path_metrics.to_dict(orient="records"),
            "distribution": self.distribution,
        }


def combinatorial_purged_cv(
    returns: npt.ArrayLike | pd.DataFrame,
    *,
    groups: int = 6,
    test_groups: int = 2,
    purge: int = 0,
    embargo: int = 0,
    metric: str = "sharpe",
    periods_per_year: float = 252.0,
) -> CpcvResult:
    """Combinatorial purged cross-validation of the selection among many candidates.

    Example:
        >>> import numpy as np
        >>> r = np.random.default_rng(0).normal(0, 0.01, size=(600, 20))
        >>> res = combinatorial_purged_cv(r, groups=6, test_groups=2, purge=5, embargo=5)
        >>> res.plan.n_splits, res.plan.n_paths, res.path_returns.shape
        (15, 5, (600, 5))

    Args:
        returns: per-bar returns, shape ``(bars, candidates)`` (a DataFrame's columns
            name the candidates). A candidate with any NaN is never chosen.
        groups: N, the number of contiguous groups of bars.
        test_groups: k, the groups each split tests (``1 <= k < N``).
        purge: bars removed from training before each block of test groups.
        embargo: bars removed from training after each block of test groups.
        metric: the train-set selection metric, a key of `SELECTION_METRICS`.
        periods_per_year: bars per year, for annualized metrics.

    Returns:
        The chosen candidate per split and the ``C(N-1, k-1)`` paths with their metrics.

    Raises:
        ConfigError: an invalid N, k, purge, embargo or metric.
        ValueError: a matrix that is not 2-D, or no candidate without NaN.
    """
    labels, r = _matrix(returns)
    select = SELECTION_METRICS.get(metric)
    if select is None:
        more = did_you_mean(metric, SELECTION_METRICS)
        raise ConfigError(
            f"validation.cpcv.metric: unknown metric {metric!r}{more} "
            f"(one of {', '.join(SELECTION_METRICS)})"
        )
    plan = cpcv_plan(r.shape[0], groups=groups, test_groups=test_groups, purge=purge,
                     embargo=embargo)  # fmt: skip
    eligible = ~np.isnan(r).any(axis=0)
    if not eligible.any():
        raise ValueError("every candidate has a NaN return; none can be chosen")
    chosen = np.empty(plan.n_splits, dtype=np.int64)
    train_score = np.empty(plan.n_splits)
    test_score = np.empty(plan.n_splits)
    for s in plan.splits:
        scores = select(r[s.train], periods_per_year)
        scores[~eligible] = -np.inf
        best = int(np.argmax(scores))  # ties: the first column
        chosen[s.index] = best
        train_score[s.index] = scores[best]
        test_score[s.index] = select(r[s.test][:, [best]], periods_per_year)[0]
    path_choices = np.empty((plan.n_paths, plan.groups), dtype=np.int64)
    path_returns = np.empty((r.shape[0], plan.n_paths))
    for j, path in enumerate(plan.paths):
        for g, split in enumerate(path):
            a, b = plan.bounds[g]
            path_choices[j, g] = chosen[split]
            path_returns[a:b, j] = r[a:b, chosen[split]]
    metrics = pd.DataFrame(
        [_path_metrics(path_returns[:, j], periods_per_year) for j in range(plan.n_paths)]
    )
    metrics.insert(0, "path", np.arange(plan.n_paths))
    return CpcvResult(
        plan=plan,
        labels=labels,
        metric=metric,
        chosen=chosen,
        train_score=train_score,
        test_score=test_score,
        path_choices=path_choices,
        path_returns=path_returns,
        path_metrics=metrics,
        distribution={m: _spread(metrics[m].to_numpy()) for m in _PATH_METRICS},
    )


def _matrix(returns: npt.ArrayLike | pd.DataFrame) -> tuple[list[str], Matrix]:
    if isinstance(returns, pd.DataFrame):
        labels = [str(c) for c in returns.columns]
        r = returns.to_numpy(dtype=np.float64)
    else:
        r = np.asarray(returns, dtype=np.float64)
        labels = [str(i) for i in range(r.shape[1])] if r.ndim == 2 else []
    if r.ndim != 2 or r.shape[1] == 0:
        raise ValueError(f"returns must be a (bars, candidates) matrix, got shape {r.shape}")
    if np.isinf(r).any():
        raise ValueError("returns must not be infinite")
    return labels, np.ascontiguousarray(r)


def _path_metrics(r: Matrix, ppy: float) -> dict[str, float]:
    equity = np.cumprod(1.0 + r)
    m = compute_metrics(equity, cash=1.0, trades_net_pnl=[], trades_ret=[], trades_bars=[],
                        periods_per_year=ppy)  # fmt: skip
    return {k: m[k] for k in _PATH_METRICS}


def _spread(values: Matrix) -> dict[str, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {k: float("nan") for k in ("mean", "std", "min", "p5", "p50", "p95", "max")}
    p5, p50, p95 = np.percentile(finite, [5, 50, 95])
    return {
        "mean": float(finite.mean()),
        "std": float(finite.std(ddof=1)) if finite.size > 1 else 0.0,
        "min": float(finite.min()),
        "p5": float(p5),
        "p50": float(p50),
        "p95": float(p95),
        "max": float(finite.max()),
    }

"""Probability of Backtest Overfitting by combinatorially symmetric cross-validation.

Bailey, Borwein, López de Prado & Zhu, "The Probability of Backtest Overfitting",
Journal of Computational Finance 20(4), 2017 (SSRN 2326253, 2014). The formulas are
written out in docs/validation.md.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from stratopt.stats._matrix import sharpe_from_sums

__all__ = ["PBOResult", "probability_of_backtest_overfitting"]

# Entries of the (combinations, N) Sharpe matrices worked on at a time (~0.5 MB each).
_CHUNK_ENTRIES = 1 << 16


@dataclass(frozen=True, eq=False)
class PBOResult:
    """What CSCV found; one entry per combination in the arrays.

    Attributes:
        pbo: Probability of backtest overfitting, the share of combinations whose
            in-sample best ranks at or below the out-of-sample median (logit <= 0).
        logits: `lambda_c = ln(w_c / (1 - w_c))`, `w_c` the out-of-sample relative rank
            of the in-sample best in (0, 1).
        is_sharpe, oos_sharpe: The in-sample best's per-period Sharpe ratio in and out
            of sample (the IS/OOS pairs).
        best_index: Which column was best in sample, per combination.
        slope, intercept, r_squared: Least-squares fit `oos = intercept + slope * is`
            over the pairs (performance degradation; a negative slope is the paper's
            sign of overfitting).
        prob_oos_loss: Share of combinations where the in-sample best loses out of
            sample (`oos_sharpe < 0`).
        partitions: `S`, the number of row blocks.
        n_strategies: `N`, the number of columns.
    """

    pbo: float
    logits: np.ndarray
    is_sharpe: np.ndarray
    oos_sharpe: np.ndarray
    best_index: np.ndarray
    slope: float
    intercept: float
    r_squared: float
    prob_oos_loss: float
    partitions: int
    n_strategies: int

    def summary(self) -> dict[str, float | int]:
        """JSON-able digest: the scalars and quantiles of the logit distribution."""
        q = np.quantile(self.logits, [0.05, 0.25, 0.5, 0.75, 0.95]) if self.logits.size else []
        return {
            "pbo": self.pbo,
            "partitions": self.partitions,
            "combinations": int(self.logits.size),
            "strategies": self.n_strategies,
            "logit_mean": float(np.mean(self.logits)),
            **{f"logit_p{p}": float(v) for p, v in zip((5, 25, 50, 75, 95), q, strict=True)},
            "degradation_slope": self.slope,
            "degradation_intercept": self.intercept,
            "degradation_r_squared": self.r_squared,
            "prob_oos_loss": self.prob_oos_loss,
        }


def probability_of_backtest_overfitting(returns: np.ndarray, *, partitions: int = 16) -> PBOResult:
    """PBO of choosing the best of `N` strategies by in-sample Sharpe ratio (CSCV).

    The `T` rows are cut into `partitions` contiguous blocks of nearly equal size
    (`numpy.array_split`: the first `T mod S` blocks get one row more). Every choice of
    `S/2` blocks is an in-sample set, its complement the out-of-sample set: `C(S, S/2)`
    combinations (12,870 for 16). In each, the column with the highest in-sample
    per-period Sharpe ratio (the first on ties) is ranked among all columns out of
    sample (average ranks for ties, 1 = worst), `w = rank / (N + 1)`, and
    `logit = ln(w / (1 - w))`.

    Sharpe ratios are mean / standard deviation (ddof = 1) of the rows in the set, with
    the metrics' x / 0 rule for a flat column. Only per-block sums are kept, so the cost
    is one pass over `returns` plus `C(S, S/2) x N` work.

    Args:
        returns: `(T, N)` per-period returns of `N >= 2` strategies over the same
            `T` periods (per bar, or binned), finite.
        partitions: `S`, even, >= 2, and at most `T / 2` so every block has 2 rows.

    Raises:
        ValueError: wrong shape, too few rows for `partitions`, an odd or too small
            `partitions`, or non-finite returns.
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] < 2:
        raise ValueError(f"returns: need a (T, N) matrix with N >= 2, got shape {r.shape}")
    if partitions < 2 or partitions % 2:
        raise ValueError(f"partitions must be even and >= 2, got {partitions}")
    t, n = r.shape
    if t < 2 * partitions:
        raise ValueError(
            f"returns: {t} rows are too few for {partitions} partitions (need >= {2 * partitions})"
        )
    if not np.isfinite(r).all():
        raise ValueError("returns: contains NaN or infinite values")
    shift = r.mean(axis=0)
    blocks = np.array_split(np.arange(t), partitions)
    cnt = np.array([len(b) for b in blocks], dtype=np.float64)
    s1 = np.empty((partitions, n))
    s2 = np.empty((partitions, n))
    for k, b in enumerate(blocks):
        c = r[b[0] : b[-1] + 1] - shift
        s1[k] = c.sum(axis=0)
        s2[k] = (c * c).sum(axis=0)
    combos = np.array(list(itertools.combinations(range(partitions), partitions // 2)))
    member = np.zeros((len(combos), partitions))
    member[np.arange(len(combos))[:, None], combos] = 1.0
    other = 1.0 - member
    sums = (member @ cnt, member @ s1, member @ s2, other @ cnt, other @ s1, other @ s2)
    best, ranks, is_best, oos_best = _winners(sums, shift)
    w = ranks / (n + 1.0)
    logits = np.log(w / (1.0 - w))
    slope, intercept, r2 = _fit(is_best, oos_best)
    return PBOResult(
        pbo=float(np.mean(logits <= 0.0)),
        logits=logits,
        is_sharpe=is_best,
        oos_sharpe=oos_best,
        best_index=best,
        slope=slope,
        intercept=intercept,
        r_squared=r2,
        prob_oos_loss=float(np.mean(oos_best < 0.0)),
        partitions=partitions,
        n_strategies=n,
    )


def _winners(
    sums: tuple[np.ndarray, ...], shift: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per combination: the in-sample best column, its average out-of-sample rank
    (1 = worst), and its Sharpe ratios in and out of sample, from the sets' count,
    sum and sum-of-squares rows ``sums`` (in sample, then out of sample)."""
    c, n = sums[1].shape
    best = np.empty(c, dtype=np.intp)
    ranks = np.empty(c)
    is_best = np.empty(c)
    oos_best = np.empty(c)
    # Row by row the same arithmetic in chunks of combinations that stay in the cache
    # (the whole (C, N) matrices at once took 1.5x longer: each step a pass over memory).
    step = max(1, _CHUNK_ENTRIES // max(n, 1))
    for lo in range(0, c, step):
        part = slice(lo, min(lo + step, c))
        is_n, is_s1, is_s2, oos_n, oos_s1, oos_s2 = (x[part] for x in sums)
        is_sr = sharpe_from_sums(is_n, is_s1, is_s2, shift)
        oos_sr = sharpe_from_sums(oos_n, oos_s1, oos_s2, shift)
        won = np.argmax(np.nan_to_num(is_sr, posinf=np.finfo(float).max), axis=1)
        rows = np.arange(won.size)
        oos_of_best = oos_sr[rows, won][:, None]
        # The average rank of the winner among the OOS values, without sorting every row.
        below = (oos_sr < oos_of_best).sum(axis=1)
        ties = (oos_sr == oos_of_best).sum(axis=1)
        ranks[part] = below + (ties + 1) / 2.0
        best[part] = won
        is_best[part] = is_sr[rows, won]
        oos_best[part] = oos_of_best[:, 0]
    return best, ranks, is_best, oos_best


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Least squares `y = a + b x`; NaN slope when x is constant or not all finite."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 2:
        return math.nan, math.nan, math.nan
    dx = x - x.mean()
    sxx = float(dx @ dx)
    if sxx == 0.0:
        return math.nan, float(y.mean()), math.nan
    dy = y - y.mean()
    slope = float(dx @ dy) / sxx
    syy = float(dy @ dy)
    r2 = (float(dx @ dy) ** 2 / (sxx * syy)) if syy > 0 else math.nan
    return slope, float(y.mean() - slope * x.mean()), r2

"""Statistics of each column of a return matrix: the one matrix Sharpe ratio and its kin.

Rows are periods (bars, or bins of bars), columns are candidates. Every ratio follows the
metrics' rule for a zero denominator (docs/metrics.md): ``x / 0`` is ``+inf`` or ``-inf``
by the sign of ``x``, and ``0 / 0`` is 0 (a flat column). The engine's streaming Sharpe
ratio (`metrics` kernel) and the Monte Carlo kernel's per-path Sharpe ratio compute the
same number in compiled code; tests/stats/test_matrix.py holds them to it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

__all__ = [
    "SELECTION_METRICS",
    "divide",
    "mean_return",
    "sharpe_from_sums",
    "sharpe_ratio",
    "sortino_ratio",
    "total_return",
]

Matrix = npt.NDArray[np.float64]

# Rounding leaves ~1e-16 relative noise in a variance computed from sums: a variance this
# small against the squares it came from is a flat column.
_FLAT = 1e-12


def divide(num: Matrix, den: Matrix) -> Matrix:
    """``num / den`` element-wise with the metrics' rule for a zero denominator."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(num / den, dtype=np.float64)
    zero = den == 0
    x = num[zero]
    out[zero] = np.where(x > 0, np.inf, np.where(x < 0, -np.inf, x * 0.0))  # NaN stays NaN
    return out


def sharpe_from_sums(n: Matrix, s1: Matrix, s2: Matrix, shift: Matrix) -> Matrix:
    """Per-period Sharpe ratios (mean / std, ddof 1) from sums of shifted returns.

    Args:
        n: ``(S,)`` the number of periods of each set.
        s1, s2: ``(S, K)`` the sums of ``d = r - shift`` and of ``d**2`` over each set.
        shift: ``(K,)`` what was subtracted from each column (its mean keeps the sums
            small, so the variance loses no precision).

    Fewer than 2 periods: the standard deviation is taken as 0.
    """
    counts = np.asarray(n, dtype=np.float64)[:, None]
    mean_d = s1 / counts
    with np.errstate(divide="ignore", invalid="ignore"):
        var = (s2 - s1 * mean_d) / (counts - 1.0)
    std = np.sqrt(np.maximum(var, 0.0))
    std[var <= _FLAT * s2 / counts] = 0.0
    few = counts[:, 0] < 2
    if few.any():
        std[few] = 0.0
    return divide(mean_d + np.asarray(shift)[None, :], std)


def sharpe_ratio(returns: Matrix, periods_per_year: float = 1.0) -> Matrix:
    """Sharpe ratio of each column of ``(T, K)`` returns, ``T >= 1``:
    ``mean / std * sqrt(periods_per_year)``, std with ddof 1; per period by default.

    One period: std 0, so ``+inf``, ``-inf`` or 0 by the sign of the mean.
    """
    shift = returns.mean(axis=0)
    d = returns - shift
    n = np.array([returns.shape[0]], dtype=np.float64)
    per_period = sharpe_from_sums(n, d.sum(axis=0)[None, :], (d * d).sum(axis=0)[None, :], shift)
    return np.asarray(per_period[0] * float(np.sqrt(periods_per_year)), dtype=np.float64)


def sortino_ratio(returns: Matrix, periods_per_year: float = 1.0) -> Matrix:
    """``mean / sqrt(mean(min(r, 0)**2)) * sqrt(periods_per_year)`` per column."""
    downside = np.sqrt((np.minimum(returns, 0.0) ** 2).mean(axis=0))
    return divide(returns.mean(axis=0), downside) * float(np.sqrt(periods_per_year))


def total_return(returns: Matrix, periods_per_year: float = 1.0) -> Matrix:
    """Compounded return ``prod(1 + r) - 1`` per column."""
    return np.asarray(np.prod(1.0 + returns, axis=0) - 1.0, dtype=np.float64)


def mean_return(returns: Matrix, periods_per_year: float = 1.0) -> Matrix:
    """Mean per-period return per column."""
    return np.asarray(returns.mean(axis=0), dtype=np.float64)


SELECTION_METRICS: dict[str, Callable[[Matrix, float], Matrix]] = {
    "sharpe": sharpe_ratio,
    "sortino": sortino_ratio,
    "total_return": total_return,
    "mean_return": mean_return,
}
"""How a CPCV split chooses its candidate on the train bars (higher is better), as in
docs/metrics.md: ``sharpe`` (annualized, ddof 1), ``sortino``, ``total_return``
(compounded), ``mean_return`` (per bar). Each takes ``(returns, periods_per_year)``."""

"""Hansen's test for Superior Predictive Ability over a set of trials, through `arch`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

__all__ = ["SPAResult", "superior_predictive_ability"]


@dataclass(frozen=True)
class SPAResult:
    """Hansen's SPA p-values (null: no trial has a positive expected return over the benchmark).

    Attributes:
        pvalue_lower, pvalue_consistent, pvalue_upper: Hansen's three p-values; the
            consistent one is the test, upper is White's Reality Check (with
            studentization), lower a liberal bound.
        studentized: Whether each trial's mean differential was divided by its
            standard deviation (Hansen's statistic is; `studentize=False` gives the
            Reality Check's raw means).
        bootstrap: `stationary` (Politis & Romano), `circular` or `moving block`.
        block_size: Mean (stationary) or fixed block length, in periods.
        reps: Bootstrap replications.
        seed: Seed of the bootstrap.
        n_periods, n_strategies: Shape of the returns tested.
        best: Column with the highest mean return.
    """

    pvalue_lower: float
    pvalue_consistent: float
    pvalue_upper: float
    studentized: bool
    bootstrap: str
    block_size: int
    reps: int
    seed: int
    n_periods: int
    n_strategies: int
    best: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def superior_predictive_ability(
    returns: np.ndarray,
    *,
    benchmark: np.ndarray | None = None,
    reps: int = 1000,
    block_size: int | None = None,
    bootstrap: Literal["stationary", "circular", "moving block"] = "stationary",
    studentize: bool = True,
    seed: int = 0,
) -> SPAResult:
    """Hansen (2005) SPA test that the best of `N` strategies beats `benchmark`.

    `arch.bootstrap.SPA` works on losses; the loss of a strategy is its negated
    per-period return, so the loss differential is `r_i - benchmark`. The default
    benchmark is 0 (stay flat, risk-free rate 0).

    Args:
        returns: `(T, N)` per-period returns of the trials, finite, `T >= 10`.
        benchmark: `(T,)` per-period returns of the benchmark; default zeros.
        reps: Bootstrap replications (>= 100).
        block_size: Block length in periods; default `arch`'s `sqrt(T)`.
        bootstrap: The resampling scheme.
        studentize: Studentized statistic (Hansen's choice and the default).
        seed: Seed of the bootstrap: the same seed gives the same p-values.

    Raises:
        ValueError: wrong shapes, non-finite values, too few periods or reps.
    """
    from arch.bootstrap import SPA

    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 2 or r.shape[1] < 1 or r.shape[0] < 10:
        raise ValueError(f"returns: need a (T, N) matrix with T >= 10, got shape {r.shape}")
    if not np.isfinite(r).all():
        raise ValueError("returns: contains NaN or infinite values")
    if reps < 100:
        raise ValueError(f"reps must be >= 100, got {reps}")
    bench = np.zeros(r.shape[0]) if benchmark is None else np.asarray(benchmark, np.float64)
    if bench.shape != (r.shape[0],) or not np.isfinite(bench).all():
        raise ValueError(f"benchmark: need {r.shape[0]} finite values, got shape {bench.shape}")
    size = block_size if block_size is not None else max(1, round(float(np.sqrt(r.shape[0]))))
    spa = SPA(
        -bench, -r, block_size=size, reps=reps, bootstrap=bootstrap,
        studentize=studentize, seed=np.random.default_rng(seed),
    )  # fmt: skip
    spa.compute()
    p = spa.pvalues
    return SPAResult(
        pvalue_lower=float(p["lower"]),
        pvalue_consistent=float(p["consistent"]),
        pvalue_upper=float(p["upper"]),
        studentized=studentize,
        bootstrap=bootstrap,
        block_size=size,
        reps=reps,
        seed=seed,
        n_periods=int(r.shape[0]),
        n_strategies=int(r.shape[1]),
        best=int(np.argmax(r.mean(axis=0))),
    )

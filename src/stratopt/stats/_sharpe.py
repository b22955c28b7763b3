"""Sharpe-ratio statistics: PSR, expected maximum, DSR, MinTRL, MinBTL.

Conventions shared by every function here (see docs/validation.md):

* **Sharpe ratios are per period** (mean / standard deviation of the per-period
  returns, risk-free rate 0, no annualization) unless a parameter says otherwise.
  stratopt's `sharpe` metric is annualized: divide it by `sqrt(periods_per_year)`.
* **Kurtosis is raw (Pearson)**: a normal distribution has kurtosis 3. stratopt's
  `kurtosis` metric is *excess* kurtosis: add 3 before passing it here.
* Skewness and kurtosis are the population moment estimators (`g1`, `g2 + 3`), the
  same as the metrics (`sample_moments` computes them from returns).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from stratopt.stats._matrix import sharpe_ratio

__all__ = [
    "ReturnMoments",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "minimum_backtest_length",
    "minimum_track_record_length",
    "probabilistic_sharpe_ratio",
    "sample_moments",
]

EULER_GAMMA = float(np.euler_gamma)


@dataclass(frozen=True)
class ReturnMoments:
    """Per-period Sharpe ratio, skewness and raw kurtosis of one return series."""

    sharpe: float
    skew: float
    kurtosis: float
    n_obs: int


def sample_moments(returns: np.ndarray) -> ReturnMoments:
    """Sharpe (mean / std with ddof=1, per period), skew `g1` and raw kurtosis `g2 + 3`.

    Raises:
        ValueError: fewer than 2 returns, a non-finite return, or zero variance (the
            Sharpe ratio and the moments are undefined).
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1 or r.size < 2:
        raise ValueError(f"returns: need a 1-D series of at least 2 values, got shape {r.shape}")
    if not np.isfinite(r).all():
        raise ValueError("returns: contains NaN or infinite values")
    d = r - r.mean()
    m2 = float(np.mean(d * d))
    # Rounding leaves ~1e-16 relative noise around a constant mean: that is flat too.
    if m2 <= 1e-28 * float(np.mean(r * r)):
        raise ValueError("returns: zero variance; the Sharpe ratio is undefined")
    return ReturnMoments(
        sharpe=float(sharpe_ratio(r[:, None])[0]),
        skew=float(np.mean(d**3)) / m2**1.5,
        kurtosis=float(np.mean(d**4)) / m2**2,
        n_obs=int(r.size),
    )


def _check_moments(skew: float, kurtosis: float) -> None:
    if not (math.isfinite(skew) and math.isfinite(kurtosis)):
        raise ValueError(f"skew and kurtosis must be finite, got ({skew}, {kurtosis})")
    # Pearson's inequality: any distribution has kurtosis >= 1 + skew^2. A smaller
    # value almost always means excess kurtosis was passed where raw is expected.
    if kurtosis < 1.0 + skew * skew - 1e-12:
        raise ValueError(
            f"kurtosis={kurtosis} is below 1 + skew^2 = {1 + skew * skew}; it must be the raw "
            "(Pearson) kurtosis, 3 for a normal distribution (add 3 to excess kurtosis)"
        )


def _sharpe_sd_factor(sharpe: float, skew: float, kurtosis: float) -> float:
    """sqrt(1 - g3 SR + (g4 - 1)/4 SR^2), the non-normal standard-error factor."""
    v = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe * sharpe
    return math.sqrt(max(v, 0.0))


def probabilistic_sharpe_ratio(
    sharpe: float,
    n_obs: int,
    *,
    benchmark: float = 0.0,
    skew: float = 0.0,
    kurtosis: float = 3.0,
) -> float:
    """Probability that the true Sharpe ratio exceeds `benchmark` (Bailey & López de Prado 2012).

        PSR = Phi( (SR - SR*) sqrt(n - 1) / sqrt(1 - g3 SR + (g4 - 1)/4 SR^2) )

    Args:
        sharpe: Observed Sharpe ratio, **per period** (not annualized).
        n_obs: Number of return observations `n` (>= 2).
        benchmark: `SR*`, per period.
        skew: Skewness `g3` of the returns.
        kurtosis: **Raw** kurtosis `g4` of the returns (3 for normal returns).

    Returns:
        A probability in [0, 1]. When the standard-error factor is 0 (only possible at
        Pearson's bound), the x / 0 rule gives 1, 0, or 0.5 when `SR = SR*`.

    Raises:
        ValueError: `n_obs < 2`, non-finite inputs, or kurtosis below `1 + skew^2`.
    """
    if n_obs < 2:
        raise ValueError(f"n_obs must be >= 2, got {n_obs}")
    if not (math.isfinite(sharpe) and math.isfinite(benchmark)):
        raise ValueError(f"sharpe and benchmark must be finite, got ({sharpe}, {benchmark})")
    _check_moments(skew, kurtosis)
    num = (sharpe - benchmark) * math.sqrt(n_obs - 1)
    den = _sharpe_sd_factor(sharpe, skew, kurtosis)
    if den == 0.0:
        return 0.5 if num == 0.0 else (1.0 if num > 0 else 0.0)
    return _normal_cdf(num / den)


def expected_max_sharpe(n_trials: int, *, variance: float = 1.0, mean: float = 0.0) -> float:
    """Expected maximum of `n_trials` Sharpe ratios drawn from N(mean, variance).

        E[max SR] ~ mean + sqrt(V) ((1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e)))

    with gamma the Euler-Mascheroni constant (Bailey & López de Prado 2014, from the
    false strategy theorem; Bailey, Borwein, López de Prado & Zhu 2014 for `V = 1`).
    The result is in the units of the Sharpe ratios whose variance is given (per period
    for the DSR; annualized for MinBTL). `n_trials = 1` gives `mean`.

    Raises:
        ValueError: `n_trials < 1`, or a negative or non-finite variance.
    """
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    if not (math.isfinite(variance) and variance >= 0.0 and math.isfinite(mean)):
        raise ValueError(f"variance must be finite and >= 0, got {variance}")
    if n_trials == 1:
        return float(mean)
    z = (1.0 - EULER_GAMMA) * _normal_quantile(1.0 - 1.0 / n_trials) + EULER_GAMMA * (
        _normal_quantile(1.0 - 1.0 / (n_trials * math.e))
    )
    return float(mean + math.sqrt(variance) * z)


def deflated_sharpe_ratio(
    sharpe: float,
    n_obs: int,
    *,
    n_trials: int,
    trials_variance: float,
    skew: float = 0.0,
    kurtosis: float = 3.0,
) -> float:
    """PSR of the best of `n_trials` against what luck alone gives (Bailey & López de Prado 2014).

        SR0 = expected_max_sharpe(n_trials, variance=trials_variance)
        DSR = PSR(SR, benchmark=SR0)

    Args:
        sharpe: The selected (best) trial's Sharpe ratio, **per period**.
        n_obs: Its number of return observations.
        n_trials: Number of trials run (independent trials in the paper; passing the
            raw count of correlated trials overstates SR0, so the DSR errs low).
        trials_variance: Variance of the trials' Sharpe ratios, **per period squared**
            (an annualized variance divided by `periods_per_year`).
        skew: Skewness of the selected trial's returns.
        kurtosis: Its **raw** kurtosis (3 for normal returns).

    Returns:
        A probability in [0, 1]; 0.95 or more is the paper's significance bar.

    Raises:
        ValueError: as `probabilistic_sharpe_ratio` and `expected_max_sharpe`.
    """
    sr0 = expected_max_sharpe(n_trials, variance=trials_variance)
    return probabilistic_sharpe_ratio(sharpe, n_obs, benchmark=sr0, skew=skew, kurtosis=kurtosis)


def minimum_track_record_length(
    sharpe: float,
    *,
    benchmark: float = 0.0,
    skew: float = 0.0,
    kurtosis: float = 3.0,
    confidence: float = 0.95,
) -> float:
    """Observations needed for PSR(benchmark) to reach `confidence` (Bailey & López de Prado 2012).

        MinTRL = 1 + (1 - g3 SR + (g4 - 1)/4 SR^2) (Phi^-1(confidence) / (SR - SR*))^2

    Args:
        sharpe: Observed Sharpe ratio, **per period**.
        benchmark: `SR*`, per period.
        skew: Skewness of the returns.
        kurtosis: **Raw** kurtosis (3 for normal returns).
        confidence: The probability to reach, in (0, 1).

    Returns:
        A number of **observations** (periods; divide by `periods_per_year` for years),
        not rounded. `inf` when `sharpe <= benchmark`: no track record is long enough.

    Raises:
        ValueError: confidence outside (0, 1), non-finite inputs, or kurtosis below
            `1 + skew^2`.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if not (math.isfinite(sharpe) and math.isfinite(benchmark)):
        raise ValueError(f"sharpe and benchmark must be finite, got ({sharpe}, {benchmark})")
    _check_moments(skew, kurtosis)
    if sharpe <= benchmark:
        return math.inf
    factor = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe * sharpe
    return float(1.0 + factor * (_normal_quantile(confidence) / (sharpe - benchmark)) ** 2)


def minimum_backtest_length(n_trials: int, *, target_sharpe: float = 1.0) -> float:
    """Years of data below which `n_trials` noise trials are expected to reach `target_sharpe`.

        MinBTL ~ ( ((1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e))) / SR_target )^2

    (Bailey, Borwein, López de Prado & Zhu 2014, "Pseudo-Mathematics and Financial
    Charlatanism"). Under the null (true annualized Sharpe 0, unit annualized variance
    over one year), the best of `N` trials on `y` years has an expected annualized Sharpe
    of `E[max_N] / sqrt(y)`; MinBTL is the `y` where that equals `target_sharpe`.
    A backtest shorter than MinBTL can show `target_sharpe` from luck alone.

    Args:
        n_trials: Number of (independent) trials, >= 1.
        target_sharpe: The **annualized** Sharpe ratio the best trial shows, > 0.

    Returns:
        Years (0 for a single trial).

    Raises:
        ValueError: `n_trials < 1` or `target_sharpe` not finite and > 0.
    """
    if not (math.isfinite(target_sharpe) and target_sharpe > 0.0):
        raise ValueError(f"target_sharpe must be finite and > 0, got {target_sharpe}")
    return (expected_max_sharpe(n_trials) / target_sharpe) ** 2


# scipy.special is loaded when a probability is first asked for, not with the package:
# the study file's models import stats, and the engine's users need neither.
def _normal_cdf(x: float) -> float:
    from scipy.special import ndtr

    return float(ndtr(x))


def _normal_quantile(p: float) -> float:
    from scipy.special import ndtri

    return float(ndtri(p))

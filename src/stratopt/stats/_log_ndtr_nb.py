"""log Φ(a), the log of the standard normal CDF, compiled: the expressions of Optuna's
`optuna.samplers._tpe._truncnorm._log_ndtr_single`, in its order, with the same libm
functions (`erf`, `erfc`, `log`), so that each result has the same bits as Optuna's.

Only its series for the far left tail (a <= -20) is left out: it squares `a` with
CPython's `pow`, which numba lowers to a multiplication that rounds differently in a
few cases per thousand. Those elements come back as NaN for the caller to compute
with Optuna's own function (as do NaN inputs, which take the same branch there).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["FAR_TAIL", "log_ndtr_nb"]

FAR_TAIL = -20.0  # at or below this, Optuna's series (not computed here)

# Optuna's constants, written as it writes them (Python evaluates them the same way)
_SQRT2 = 2**0.5
_LOW = -1 / 2**0.5
_HIGH = 1 / 2**0.5


@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def _ndtr_one(a: float) -> float:
    x = a / _SQRT2
    if x < _LOW:
        return 0.5 * math.erfc(-x)
    if x < _HIGH:
        return 0.5 + 0.5 * math.erf(x)
    return 1.0 - 0.5 * math.erfc(x)


@njit(cache=True, error_model="numpy")  # type: ignore[misc]
def log_ndtr_nb(a: np.ndarray) -> np.ndarray:
    out = np.empty(a.size)
    for i in range(a.size):
        v = a[i]
        if v > 6:
            out[i] = -_ndtr_one(-v)
        elif v > FAR_TAIL:
            out[i] = math.log(_ndtr_one(v))
        else:
            out[i] = np.nan
    return out

"""The label: the forward return a model learns to predict."""

from __future__ import annotations

import numpy as np

__all__ = ["forward_returns"]


def forward_returns(close: np.ndarray, *, lag: int, horizon: int) -> np.ndarray:
    """``close[t + lag + horizon] / close[t + lag] - 1`` per bar and asset.

    Qlib's default label is ``lag = 1, horizon = 1``: a prediction made at the close of
    `t` can only trade from bar ``t + 1``. The last ``lag + horizon`` bars have no label
    (NaN). The label of bar `t` reads closes up to ``t + lag + horizon``: that reach is
    the purge a fold needs (`stratopt.ml.plan_folds`).
    """
    c = np.asarray(close, dtype=np.float64)
    out = np.full(c.shape, np.nan)
    reach = lag + horizon
    if c.shape[0] > reach:
        out[: c.shape[0] - reach] = c[reach:] / c[lag : c.shape[0] - horizon] - 1.0
    return out

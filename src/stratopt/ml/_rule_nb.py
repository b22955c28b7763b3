"""Kernels of the stage-2 rule: scores of predictions against their own past, and signals.

Pure functions over 1-D float64 arrays of one asset; NaN means "no prediction".
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Signal codes of stratopt.engine.Signal (kernels cannot read the enum).
_NONE, _LONG, _SHORT, _EXIT, _EXIT_LONG, _EXIT_SHORT = 0, 1, -1, 2, 3, 4


@njit(cache=True)
def past_scores_nb(
    pred: np.ndarray,
    fold: np.ndarray,
    window: int,
    min_periods: int,
    zscore: bool,
    out: np.ndarray,
) -> None:
    """Score of ``pred[t]`` against the `window` predictions before it from the same model.

    The reference is ``pred[s]`` for ``t - window <= s < t`` with ``fold[s] == fold[t]``
    back to the first change of fold (a retrained model starts a new reference). With
    fewer than `min_periods` finite values, or no prediction at `t`, the score is NaN.
    Quantile score: ``(count(ref < p) + count(ref == p) / 2) / n`` in [0, 1]. Z-score:
    ``(p - mean(ref)) / std(ref, ddof=1)`` (NaN when the reference is constant).
    """
    n_bars = pred.shape[0]
    for t in range(n_bars):
        out[t] = np.nan
        p = pred[t]
        if not np.isfinite(p) or fold[t] < 0:
            continue
        lo = max(0, t - window)
        n = 0
        less = 0.0
        equal = 0.0
        total = 0.0
        total2 = 0.0
        s = t - 1
        while s >= lo and fold[s] == fold[t]:
            v = pred[s]
            if np.isfinite(v):
                n += 1
                if v < p:
                    less += 1.0
                elif v == p:
                    equal += 1.0
                total += v
                total2 += v * v
            s -= 1
        if n < min_periods or n < 2:
            continue
        if not zscore:
            out[t] = (less + 0.5 * equal) / n
            continue
        mean = total / n
        var = (total2 - n * mean * mean) / (n - 1)
        if var > 0.0:
            out[t] = (p - mean) / np.sqrt(var)


@njit(cache=True)
def threshold_signals_nb(
    score: np.ndarray,
    entry_long: float,
    entry_short: float,
    exit_long: float,
    exit_short: float,
    hold: int,
    allow_long: bool,
    allow_short: bool,
    out: np.ndarray,
) -> None:
    """Engine signal codes from scores: enter past a threshold, leave on a weaker one.

    Flat: ``score >= entry_long`` goes long, ``score <= entry_short`` goes short (when
    allowed). Long: leaves (EXIT_LONG) when ``score < exit_long``, when `hold` > 0 bars
    have passed since the entry signal, or when the score is NaN; a short entry on the
    same bar reverses instead. Short mirrors it with ``score > exit_short``. Signals are
    emitted on changes only, so an engine stop-out is not re-entered until the rule
    leaves and enters again.
    """
    state = 0
    held = 0
    for t in range(score.shape[0]):
        out[t] = _NONE
        s = score[t]
        finite = np.isfinite(s)
        want_long = finite and allow_long and s >= entry_long
        want_short = finite and allow_short and s <= entry_short
        if state != 0:
            held += 1
        if state == 1:
            if want_short:
                out[t], state, held = _SHORT, -1, 0
            elif not finite or s < exit_long or (hold > 0 and held >= hold):
                out[t], state = _EXIT_LONG, 0
            continue
        if state == -1:
            if want_long:
                out[t], state, held = _LONG, 1, 0
            elif not finite or s > exit_short or (hold > 0 and held >= hold):
                out[t], state = _EXIT_SHORT, 0
            continue
        if want_long:
            out[t], state, held = _LONG, 1, 0
        elif want_short:
            out[t], state, held = _SHORT, -1, 0

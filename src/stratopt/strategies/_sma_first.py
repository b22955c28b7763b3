"""The subset kernel after moving averages not computed yet (`IndicatorCache.fill_rows`'s
`defer`): on several threads both in one launch (see `_sma_first_nb`)."""

from __future__ import annotations

import numpy as np

from stratopt.engine import run_but_tails, subset_launch
from stratopt.strategies._indicators import SmaRows
from stratopt.strategies._sma_first_nb import sma_then_run_but_tails_threads_nb

__all__ = ["run_but_tails_after"]


def run_but_tails_after(
    sma: SmaRows | None,
    ohlc: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    ind: np.ndarray,
    cand: tuple[np.ndarray, np.ndarray, np.ndarray],
    ppy: float,
    out: np.ndarray,
    passes: int,
) -> None:
    """`stratopt.engine.run_but_tails` of the candidates ``cand = (rules, levels, ex)``
    on rows ``ind`` once the moving averages `sma`
    (rows of ``ind``) are written: the same bits, the moving averages shared out
    among the launch's threads when it has several."""
    rules, levels, ex = cand
    if sma is not None:
        assert sma.out is ind, "the moving averages go into the kernel's rows"
        with subset_launch(rules.shape[0], ohlc[3].shape[0]) as threads:
            if threads:
                row_counters = np.zeros(2, dtype=np.int64)  # groups taken, groups written
                counters = np.zeros(2, dtype=np.int64)  # candidates taken, done
                sma_then_run_but_tails_threads_nb(
                    sma.x, sma.windows, sma.rows, row_counters, *ohlc, ind, rules, levels,
                    ex, ppy, out, passes, counters, threads,
                )  # fmt: skip
                return
        sma.compute()
    run_but_tails(ohlc, ind, rules, levels, ex, ppy, out, passes)

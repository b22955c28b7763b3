from __future__ import annotations

import numpy as np

from stratopt.reporting._downsample import MAX_POINTS, minmax_indices, step_change_indices


def test_minmax_keeps_every_extreme_within_the_point_budget() -> None:
    rng = np.random.default_rng(0)
    equity = 10_000 * np.cumprod(1 + rng.normal(0, 0.01, 100_003))
    keep = minmax_indices(equity)
    assert keep.size <= MAX_POINTS
    assert keep[0] == 0 and keep[-1] == equity.size - 1
    assert np.all(np.diff(keep) > 0)
    shown = equity[keep]
    assert shown.max() == equity.max() and shown.min() == equity.min()

    # The deepest drawdown drawn is the curve's deepest drawdown.
    def depth(e: np.ndarray) -> float:
        return float(np.max(1 - e / np.maximum.accumulate(e)))

    assert depth(shown) == depth(equity)


def test_minmax_leaves_short_series_and_skips_nan() -> None:
    assert np.array_equal(minmax_indices(np.arange(10.0)), np.arange(10))
    v = np.full(50_000, np.nan)
    v[123], v[40_000] = 5.0, -5.0
    keep = minmax_indices(v, 100)
    assert {123, 40_000} <= set(keep.tolist())
    assert set(keep.tolist()) <= {0, 123, 40_000, v.size - 1}


def test_step_changes_rebuild_the_step_line_exactly() -> None:
    best = np.maximum.accumulate(np.random.default_rng(1).normal(size=5000))
    keep = step_change_indices(best)
    rebuilt = best[keep][np.searchsorted(keep, np.arange(best.size), side="right") - 1]
    assert np.array_equal(rebuilt, best)
    assert keep.size < 60

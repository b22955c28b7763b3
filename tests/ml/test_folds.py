"""Purge and embargo: no training label window overlaps a test block, for any fold setting."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stratopt.errors import ConfigError
from stratopt.ml import FoldSettings, forward_returns, inner_split, plan_folds

TIME = np.arange(3000).astype("datetime64[D]").astype("datetime64[ns]")


def min_distance(train: np.ndarray, test: np.ndarray) -> int:
    """Smallest |s - t| over training samples s and test samples t."""
    pos = np.searchsorted(test, train)
    left = np.abs(train - test[np.clip(pos - 1, 0, len(test) - 1)])
    right = np.abs(test[np.clip(pos, 0, len(test) - 1)] - train)
    return int(np.minimum(left, right).min())


def overlaps(train: np.ndarray, test: np.ndarray, reach: int) -> bool:
    """Label windows [s, s + reach] and [t, t + reach] intersect for some pair."""
    return min_distance(train, test) <= reach


fold_settings = st.one_of(
    st.builds(
        FoldSettings,
        scheme=st.just("walk_forward"),
        mode=st.sampled_from(["anchored", "rolling"]),
        train=st.integers(20, 400),
        test=st.integers(5, 200),
        step=st.one_of(st.none(), st.integers(5, 200)),
    ),
    st.builds(
        FoldSettings,
        scheme=st.just("cpcv"),
        groups=st.integers(3, 10),
        test_groups=st.integers(1, 2),
    ),
)


@settings(max_examples=150, deadline=None)
@given(
    base=fold_settings,
    lag=st.integers(0, 5),
    horizon=st.integers(1, 30),
    extra=st.integers(0, 10),
    embargo=st.integers(0, 20),
    n=st.integers(200, 1500),
)
def test_no_training_label_overlaps_a_test_block(
    base: FoldSettings, lag: int, horizon: int, extra: int, embargo: int, n: int
) -> None:
    reach = lag + horizon
    s = FoldSettings(**{**base.__dict__, "purge": reach + extra, "embargo": embargo})
    try:
        plan = plan_folds(TIME, n, s)
    except ConfigError:
        return  # spans the data cannot hold are refused, not silently shortened
    for fold in plan.folds:
        assert fold.train.size and fold.test.size
        assert fold.train.max() < n and fold.test.max() < n
        assert not overlaps(fold.train, fold.test, reach)
        if s.scheme == "cpcv":  # training after a block keeps purge + embargo away
            after = fold.train[fold.train > fold.test.min()]
            for start in after:
                before = fold.test[fold.test < start]
                if before.size:
                    assert start - before.max() > reach + embargo
        head, tail = inner_split(fold.train, fraction=0.2, purge=reach)
        if tail.size:
            assert not overlaps(head, tail, reach)


@pytest.mark.parametrize("scheme", ["walk_forward", "cpcv"])
def test_a_purge_below_the_reach_overlaps(scheme: str) -> None:
    # The check above can fail: one bar short of the reach, labels overlap.
    reach = 21
    s = FoldSettings(scheme=scheme, train=300, test=100, groups=6, purge=reach - 1)
    plan = plan_folds(TIME, 1500, s)
    assert any(overlaps(f.train, f.test, reach) for f in plan.folds)


def test_walk_forward_and_cpcv_paths_cover_their_test_blocks() -> None:
    wf = plan_folds(TIME, 1000, FoldSettings(train=400, test=150, purge=5))
    assert wf.paths.shape == (1, 1000)
    for f in wf.folds:
        assert (wf.paths[0, f.test] == f.index).all()
    cv = plan_folds(TIME, 600, FoldSettings(scheme="cpcv", groups=4, test_groups=2, purge=3))
    assert cv.paths.shape == (3, 600)  # C(3, 1) paths, each covering every bar once
    assert (cv.paths >= 0).all()


def test_forward_returns_reads_lag_and_horizon() -> None:
    close = np.array([[100.0], [101.0], [103.0], [106.0], [110.0]])
    label = forward_returns(close, lag=1, horizon=2)
    assert label[0, 0] == pytest.approx(106.0 / 101.0 - 1)
    assert label[1, 0] == pytest.approx(110.0 / 103.0 - 1)
    assert np.isnan(label[2:]).all()

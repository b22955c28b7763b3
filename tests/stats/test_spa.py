"""Hansen's SPA through arch: noise is not superior, a planted edge is; seeded."""

from __future__ import annotations

import numpy as np
import pytest

from stratopt.stats import superior_predictive_ability


def test_noise_is_not_superior_and_an_edge_is() -> None:
    rng = np.random.default_rng(5)
    r = rng.normal(0.0, 0.01, size=(500, 50))
    noise = superior_predictive_ability(r, reps=300, seed=1)
    assert noise.studentized
    assert noise.pvalue_consistent > 0.05
    assert noise.pvalue_lower <= noise.pvalue_consistent <= noise.pvalue_upper
    r[:, 3] += 0.003
    edge = superior_predictive_ability(r, reps=300, seed=1)
    assert edge.pvalue_consistent < 0.01
    assert edge.best == 3


def test_same_seed_same_pvalues() -> None:
    r = np.random.default_rng(6).normal(0.0002, 0.01, size=(300, 20))
    a = superior_predictive_ability(r, reps=200, seed=9)
    b = superior_predictive_ability(r, reps=200, seed=9)
    assert a == b
    assert a.block_size == 17  # round(sqrt(300))
    raw = superior_predictive_ability(r, reps=200, seed=9, studentize=False)
    assert not raw.studentized


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="T >= 10"):
        superior_predictive_ability(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="benchmark"):
        superior_predictive_ability(np.zeros((50, 3)), benchmark=np.zeros(10))

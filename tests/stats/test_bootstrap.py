"""Block-bootstrap indices: the shapes of blocks each scheme promises."""

from __future__ import annotations

import numpy as np
import pytest

from stratopt.stats import bootstrap_indices


def test_stationary_indices_are_wrapped_blocks_of_the_mean_length() -> None:
    idx = bootstrap_indices(1000, 200, block_size=20, rng=np.random.default_rng(0))
    steps = (idx[:, 1:] - idx[:, :-1]) % 1000
    breaks = steps != 1  # a new block (or a new start landing right after: rare)
    mean_block = idx.size / (breaks.sum() + idx.shape[0])
    assert mean_block == pytest.approx(20, rel=0.1)
    assert idx.min() >= 0 and idx.max() < 1000


@pytest.mark.parametrize("method", ["stationary", "circular", "moving block"])
def test_bootstrap_indices(method: str) -> None:
    idx = bootstrap_indices(100, 50, block_size=10, method=method,
                            rng=np.random.default_rng(0))  # fmt: skip
    assert idx.shape == (50, 100) and idx.dtype == np.int64
    assert idx.min() >= 0 and idx.max() < 100
    steps = np.diff(idx, axis=1)
    if method == "moving block":
        # Blocks of exactly 10 consecutive periods that never wrap.
        assert (steps[:, np.arange(99) % 10 != 9] == 1).all()
    elif method == "circular":
        assert (steps[:, np.arange(99) % 10 != 9] % 100 == 1).all()
    else:
        # A new block starts with probability 1/10: about 10 % of steps jump.
        assert 0.05 < float(np.mean(steps % 100 != 1)) < 0.15


def test_bad_input() -> None:
    rng = np.random.default_rng()
    with pytest.raises(ValueError, match="method"):
        bootstrap_indices(10, 2, block_size=2, method="nope", rng=rng)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="block_size"):
        bootstrap_indices(10, 2, block_size=0.5, rng=rng)
    with pytest.raises(ValueError, match="exceeds"):
        bootstrap_indices(10, 2, block_size=11, method="circular", rng=rng)

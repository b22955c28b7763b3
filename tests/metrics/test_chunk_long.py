"""The long series' metrics pass (`metrics_chunk_long_nb`): `metrics_chunk_nb`'s bits,
with the returns computed inside the drawdown scan."""

from __future__ import annotations

import numpy as np
import pytest

from stratopt.metrics._chunk_long_nb import metrics_chunk_long_nb
from stratopt.metrics._nb import (
    _A_STORED,
    N_ACC,
    _sample_size,
    metrics_begin_nb,
    metrics_chunk_nb,
)


def _curves(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """A random walk; one with flat stretches (zero returns); one that is ruined (an
    equity at 0, then below); one that sets new peaks on every bar."""
    walk = 1e4 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    flat = walk.copy()
    for s in rng.integers(0, n, 4):
        flat[s : s + 300] = flat[s]
    ruined = walk.copy()
    ruined[n // 2 :] -= ruined[n // 2]
    rising = 1e4 + np.arange(n, dtype=np.float64)
    return [walk, flat, ruined, rising]


def _first_pass(chunk_nb, equity: np.ndarray, cash: float, chunk: int):  # type: ignore[no-untyped-def]
    """``chunk_nb`` over ``equity`` in chunks of ``chunk`` bars: the accumulator, every
    chunk's returns, the sample and the stored returns."""
    n = equity.shape[0]
    acc = np.empty(N_ACC)
    sample = np.full(_sample_size(n), np.nan)
    stored = np.full(n, np.nan)
    rbuf = np.empty(chunk)
    returns = []
    metrics_begin_nb(cash, acc)
    prev = cash
    for j0 in range(0, n, chunk):
        j1 = min(n, j0 + chunk)
        chunk_nb(equity[j0:j1], prev, j0, n, rbuf, sample, stored, acc)
        returns.append(rbuf[: j1 - j0].copy())
        prev = float(equity[j1 - 1])
    return acc, np.concatenate(returns), sample, stored[: int(acc[_A_STORED])]


@pytest.mark.parametrize("n", [1, 63, 64, 65, 1000, 1024, 4097, 3 * 8192 + 11, 40_000])
@pytest.mark.parametrize("chunk", [1024, 8192])
def test_long_chunk_gives_the_same_bits(n: int, chunk: int) -> None:
    """Accumulator, returns, sample and stored returns: bit for bit those of
    `metrics_chunk_nb`, on chunks of either size (whole segments but the last)."""
    rng = np.random.default_rng(n)
    for equity in _curves(rng, n):
        cash = float(equity[0]) * (1.0 + rng.normal(0.0, 0.01))
        ref = _first_pass(metrics_chunk_nb, equity, cash, chunk)
        got = _first_pass(metrics_chunk_long_nb, equity, cash, chunk)
        for a, b in zip(ref, got, strict=True):
            np.testing.assert_array_equal(b.view(np.int64), a.view(np.int64))

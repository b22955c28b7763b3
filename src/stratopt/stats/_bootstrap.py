"""Block-bootstrap resampling indices: stationary, circular block and moving block.

One generator serves the Monte Carlo of returns and the SPA test, so both resample a
history the same way. Each row of the result is one resampled history of length `T`,
as positions into the original; the rows are drawn from `rng` in order, so a seeded
generator gives the same indices on every machine.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["BootstrapMethod", "bootstrap_indices"]

BootstrapMethod = Literal["stationary", "circular", "moving block"]


def bootstrap_indices(
    t: int,
    reps: int,
    *,
    block_size: float,
    method: BootstrapMethod = "stationary",
    rng: np.random.Generator,
) -> np.ndarray:
    """`(reps, t)` int64 positions into a history of `t` periods.

    * `stationary` (Politis & Romano 1994): a block starts at a uniform random period
      and runs on, wrapping past the end, for a geometric number of periods with mean
      `block_size` (a new block starts at each period with probability `1/block_size`).
    * `circular` (Politis & Romano 1992): blocks of exactly `round(block_size)` periods
      from uniform starts, wrapping past the end.
    * `moving block` (Künsch 1989): blocks of exactly `round(block_size)` periods from
      uniform starts in `[0, t - block)`, never wrapping.

    Raises:
        ValueError: `t < 1`, `reps < 1`, `block_size < 1` (or above `t` for the fixed
            blocks), or an unknown method.
    """
    if t < 1 or reps < 1:
        raise ValueError(f"need t >= 1 and reps >= 1, got t={t}, reps={reps}")
    if not block_size >= 1.0:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    if method == "stationary":
        return _stationary(rng, reps, t, 1.0 / block_size)
    if method in ("circular", "moving block"):
        block = round(block_size)
        if block > t:
            raise ValueError(f"block_size {block_size} exceeds the {t} periods")
        return _fixed_blocks(rng, reps, t, block, wrap=method == "circular")
    raise ValueError(f"method must be 'stationary', 'circular' or 'moving block', got {method!r}")


def _stationary(rng: np.random.Generator, k: int, t: int, p: float) -> np.ndarray:
    starts = rng.integers(0, t, size=(k, t), dtype=np.int64)
    new = rng.random((k, t)) < p
    new[:, 0] = True
    pos = np.arange(t, dtype=np.int64)
    begin = np.maximum.accumulate(np.where(new, pos, 0), axis=1)
    first = np.take_along_axis(starts, begin, axis=1)
    out: np.ndarray = (first + (pos - begin)) % t
    return out


def _fixed_blocks(
    rng: np.random.Generator, k: int, t: int, block: int, *, wrap: bool
) -> np.ndarray:
    n_blocks = -(-t // block)
    high = t if wrap else t - block + 1
    starts = rng.integers(0, high, size=(k, n_blocks), dtype=np.int64)
    pos = np.arange(t, dtype=np.int64)
    out: np.ndarray = (starts[:, pos // block] + pos % block) % t
    return out

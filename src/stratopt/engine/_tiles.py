"""Candidates in tiles that share indicator rows, for the many-candidates kernel.

On a long series the kernel's batch of candidates goes through the bars a chunk at a
time, and each candidate reads its indicator rows' chunk (64 KB per row): the rows a
batch shares are read from memory once, the others once per candidate. A grid in the
order it was planned (one slow window with every fast one, say) shares one row per
batch; square tiles of it (4 fast x 4 slow windows: 16 candidates, 8 rows) read a
third of the rows per candidate. The order only changes which candidates run side by
side: every candidate's metrics are computed on their own, the same bits.
"""

from __future__ import annotations

import numpy as np

__all__ = ["tiles"]

_NONE = np.iinfo(np.int64).max


def tiles(rules: np.ndarray, side: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The candidates of ``rules`` (int64[k, R, 5], the engine's rule table) in tiles.

    Each candidate is placed by the lowest and the highest indicator row its rules
    read (both rows of a two-row rule set), ranked among the candidates' lowest and
    highest rows; a tile is ``side`` ranks of each, at most ``side * side``
    candidates. Returns the order (candidate positions, tile by tile) and the
    ``(start, end)`` of each tile in it.
    """
    k = rules.shape[0]
    if k == 0:
        return np.zeros(0, dtype=np.int64), []
    active = rules[:, :, 0] != 0
    a = np.where(active, rules[:, :, 1], _NONE)
    b = np.where(active & (rules[:, :, 2] >= 0), rules[:, :, 2], _NONE)
    lo = np.minimum(a.min(axis=1), b.min(axis=1))
    a_hi = np.where(a == _NONE, -1, a)
    b_hi = np.where(b == _NONE, -1, b)
    hi = np.maximum(a_hi.max(axis=1), b_hi.max(axis=1))
    rank_lo = np.unique(lo, return_inverse=True)[1].reshape(k)
    rank_hi = np.unique(hi, return_inverse=True)[1].reshape(k)
    tile = (rank_lo // side) * (k + 1) + rank_hi // side
    order = np.lexsort((np.arange(k), tile))
    cut = np.flatnonzero(np.diff(tile[order])) + 1
    bounds: list[tuple[int, int]] = []
    size = side * side
    for t0, t1 in zip([0, *cut.tolist()], [*cut.tolist(), k], strict=True):
        bounds.extend((s, min(t1, s + size)) for s in range(t0, t1, size))
    return order, bounds

"""Tiles of candidates that share indicator rows (engine/_tiles.py)."""

from __future__ import annotations

import numpy as np

from stratopt.engine import _many
from stratopt.engine._nb import RULE_CROSS_ABOVE, RULE_CROSS_BELOW
from stratopt.engine._tiles import tiles


def _grid(n_fast: int, n_slow: int) -> np.ndarray:
    """A crossover grid as the planner orders it: each slow row with every fast one."""
    rules = np.zeros((n_fast * n_slow, 8, 5), dtype=np.int64)
    for k, (s, f) in enumerate((s, f) for s in range(n_slow) for f in range(n_fast)):
        rules[k, 0] = (RULE_CROSS_ABOVE, f, n_fast + s, 1, 0)
        rules[k, 1] = (RULE_CROSS_BELOW, f, n_fast + s, -1, 0)
    return rules


def test_a_grid_goes_in_square_tiles_of_every_candidate_once() -> None:
    rules = _grid(20, 13)
    order, parts = tiles(rules, 4)
    assert sorted(order.tolist()) == list(range(len(rules)))
    assert [p[0] for p in parts] == [0, *(p[1] for p in parts[:-1])]
    assert parts[-1][1] == len(rules)
    rows = [set(rules[order[a:b], :2, 1:3].ravel().tolist()) for a, b in parts]
    sizes = [b - a for a, b in parts]
    # 5 x 3 tiles of 4 x 4 (8 rows for 16 candidates), 5 of 4 x 1 (5 rows for 4)
    assert sorted(zip(sizes, map(len, rows), strict=True)) == [(4, 5)] * 5 + [(16, 8)] * 15


def test_candidates_on_the_same_rows_are_split_to_the_tile_size() -> None:
    rules = np.repeat(_grid(1, 1), 40, axis=0)
    order, parts = tiles(rules, 4)
    assert order.tolist() == list(range(40))
    assert parts == [(0, 16), (16, 32), (32, 40)]


def test_tiles_shrink_with_the_series_so_the_stored_returns_stay_bounded() -> None:
    # a thread keeps float64[n] of stored returns per candidate of its batch
    assert _many._tile_side(2_000) == 0  # short series: batches in the given order
    assert _many._tile_side(1_000_000) == 5
    assert _many._tile_side(4_000_000) == 2
    assert _many._tile_side(20_000_000) < 2  # a batch of 4 would take 640 MB

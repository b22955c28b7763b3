from __future__ import annotations

from collections.abc import Hashable

from stratopt.engine._grouping import group_by_rows


def _grid(n_fast: int, n_slow: int) -> list[frozenset[Hashable]]:
    return [frozenset({("f", f), ("s", s)}) for f in range(n_fast) for s in range(n_slow)]


def test_every_candidate_exactly_once_and_within_budget() -> None:
    needs = _grid(20, 50)
    groups = group_by_rows(needs, 32)
    flat = sorted(k for g in groups for k in g)
    assert flat == list(range(len(needs)))
    for g in groups:
        assert len(frozenset().union(*(needs[k] for k in g))) <= 32


def test_grid_is_tiled_so_rows_are_rarely_recomputed() -> None:
    needs = _grid(20, 50)
    groups = group_by_rows(needs, 32)
    row_loads = sum(len(frozenset().union(*(needs[k] for k in g))) for g in groups)
    # A naive scan in (fast, slow) order loads about one row per candidate (~1,000).
    assert row_loads < 300
    assert len(groups) <= 8


def test_deterministic_and_handles_oversized_and_empty_needs() -> None:
    needs = [*_grid(3, 4), frozenset(range(10)), frozenset()]
    assert group_by_rows(needs, 4) == group_by_rows(list(needs), 4)
    groups = group_by_rows(needs, 4)
    assert sorted(k for g in groups for k in g) == list(range(len(needs)))
    assert [len(needs) - 2] in groups

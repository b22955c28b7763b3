from __future__ import annotations

from collections.abc import Hashable

from stratopt.backtest import _RowSlots
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
    # Candidates sharing no pinned row: the greedy square tiles.
    needs = [frozenset({("f", k), ("s", k // 7)}) for k in range(400)]
    needs += [frozenset({("a", a), ("b", b)}) for a in range(20) for b in range(20)]
    groups = group_by_rows(needs, 32)
    assert sorted(k for g in groups for k in g) == list(range(len(needs)))
    loads = sum(len(frozenset().union(*(needs[k] for k in g))) for g in groups)
    assert loads < len(needs)  # a naive scan loads about one row per candidate


def test_deterministic_and_handles_oversized_and_empty_needs() -> None:
    needs = [*_grid(3, 4), frozenset(range(10)), frozenset()]
    assert group_by_rows(needs, 4) == group_by_rows(list(needs), 4)
    groups = group_by_rows(needs, 4)
    assert sorted(k for g in groups for k in g) == list(range(len(needs)))
    assert [len(needs) - 2] in groups


def test_rows_kept_in_place_are_computed_about_once() -> None:
    # 20 fast x 50 slow windows (70 rows) under a 32-row budget, the benchmark's grid.
    needs = _grid(20, 50)
    slots = _RowSlots(32, 1)
    computed = 0
    for g in group_by_rows(needs, 32):
        keys = sorted(frozenset().union(*(needs[k] for k in g)), key=repr)
        where, missing = slots.place(keys)
        assert sorted(where.values()) == sorted(set(where.values()))  # one slot per row
        computed += len(missing)
    assert computed == 70  # every row once; without pinned rows, about 170


def test_row_slots_evict_the_least_recently_used_row_not_needed() -> None:
    slots = _RowSlots(3, 1)
    where, missing = slots.place(["a", "b", "c"])
    assert missing == ["a", "b", "c"]
    where, missing = slots.place(["b", "d"])  # a (least recent, not needed) makes room
    assert missing == ["d"] and where["d"] == 0 and where["b"] == 1
    where, missing = slots.place(["c", "b", "e"])  # d is now the only one not needed
    assert missing == ["e"] and where["e"] == 0
    where, missing = slots.place(["p", "q", "r", "s"])  # more than the budget: all anew
    assert missing == ["p", "q", "r", "s"] and sorted(where.values()) == [0, 1, 2, 3]

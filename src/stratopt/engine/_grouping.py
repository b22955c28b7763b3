"""Grouping candidates so each kernel call reads a bounded set of indicator rows.

A sweep over long data cannot hold every distinct indicator at once (1,000,000 bars
x 70 moving-average windows is 560 MB). Candidates are packed into groups whose
union of rows fits a budget, choosing rows greedily by how many candidates they
complete, which turns a fast x slow grid into square tiles: each row is computed
about sqrt(candidates per tile) times fewer than with a naive scan.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence

__all__ = ["group_by_rows"]


def group_by_rows(needs: Sequence[frozenset[Hashable]], budget: int) -> list[list[int]]:
    """Partition candidate positions into groups of at most `budget` distinct rows.

    Args:
        needs: Per candidate, the rows (any hashable keys) it reads.
        budget: Maximum distinct rows per group (a single candidate needing more
            forms a group of its own).

    Returns:
        Groups of candidate positions; every position appears exactly once, and the
        result depends only on `needs` and `budget` (deterministic).
    """
    order = sorted(range(len(needs)), key=lambda k: sorted(map(repr, needs[k])))
    users: dict[Hashable, list[int]] = defaultdict(list)
    for k in order:
        for row in needs[k]:
            users[row].append(k)
    done = [False] * len(needs)
    groups: list[list[int]] = []
    cursor = 0
    while cursor < len(order):
        seed = order[cursor]
        if done[seed]:
            cursor += 1
            continue
        groups.append(_grow(seed, needs, users, done, budget))
    return groups


def _grow(
    seed: int,
    needs: Sequence[frozenset[Hashable]],
    users: dict[Hashable, list[int]],
    done: list[bool],
    budget: int,
) -> list[int]:
    rows: set[Hashable] = set()
    group: list[int] = []
    missing: dict[int, int] = {}
    # Per row outside the group: candidates that need only that row to complete.
    completes: dict[Hashable, int] = defaultdict(int)

    def add_row(row: Hashable) -> None:
        rows.add(row)
        completes.pop(row, None)
        for k in users[row]:
            if done[k]:
                continue
            left = missing.get(k, len(needs[k])) - 1
            missing[k] = left
            if left == 0:
                done[k] = True
                group.append(k)
            elif left == 1:
                (last,) = needs[k] - rows
                completes[last] += 1

    for row in sorted(needs[seed], key=repr):
        add_row(row)
    if not done[seed]:  # a candidate needing no rows at all
        done[seed] = True
        group.append(seed)
    while completes and len(rows) < budget:
        best = max(completes.items(), key=lambda kv: (kv[1], _neg_repr(kv[0])))[0]
        add_row(best)
    return group


def _neg_repr(key: Hashable) -> tuple[int, ...]:
    # Ties broken by the smallest repr, deterministically across runs.
    return tuple(-ord(ch) for ch in repr(key))

"""Grouping candidates so each kernel call reads a bounded set of indicator rows.

A sweep over long data cannot hold every distinct indicator at once (1,000,000 bars
x 70 moving-average windows is 560 MB). Candidates are packed into groups whose
union of rows fits a budget, in two phases:

1. Pinned sweep. The most used rows (used by at least half as many candidates as the
   most used one) are pinned in every group, and the candidates needing at most one
   other row are swept through in chunks of those other rows. A caller that keeps
   rows in place between groups (`stratopt.backtest.evaluate_many` does) then computes
   every row once: a 20 x 50 fast x slow grid under a 32-row budget pins the 20 fast
   windows and streams the 50 slow ones, 12 at a time.
2. Greedy tiles for the rest: rows chosen by how many candidates they complete, which
   turns a grid into square tiles, each row computed about sqrt(candidates per tile)
   times fewer than with a naive scan.
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
    groups = _pinned_sweep(order, needs, users, done, budget)
    cursor = 0
    while cursor < len(order):
        seed = order[cursor]
        if done[seed]:
            cursor += 1
            continue
        groups.append(_grow(seed, needs, users, done, budget))
    return groups


def _pinned_sweep(
    order: Sequence[int],
    needs: Sequence[frozenset[Hashable]],
    users: dict[Hashable, list[int]],
    done: list[bool],
    budget: int,
) -> list[list[int]]:
    top = max((len(v) for v in users.values()), default=0)
    if budget < 4 or top < 2:
        return []
    shared = sorted((r for r, v in users.items() if 2 * len(v) >= top),
                    key=lambda r: (-len(users[r]), repr(r)))  # fmt: skip
    pinned = set(shared[: budget - max(1, budget // 4)])
    room = budget - len(pinned)
    first: list[int] = []
    by_row: dict[Hashable, list[int]] = defaultdict(list)
    for k in order:
        rest = needs[k] - pinned
        if len(rest) > 1 or not needs[k] & pinned:
            continue  # left to the greedy tiles
        if rest:
            (row,) = rest
            by_row[row].append(k)
        else:
            first.append(k)
    streamed = sorted(by_row, key=repr)
    groups: list[list[int]] = []
    for start in range(0, len(streamed), room):
        group = first if start == 0 else []
        for row in streamed[start : start + room]:
            group.extend(by_row[row])
        groups.append(group)
    if not streamed and first:
        groups.append(first)
    for group in groups:
        for k in group:
            done[k] = True
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

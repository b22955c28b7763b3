"""The metrics of trials told in this process, kept as rows of the evaluator's float blocks.

A grid of 10,000 plain candidates records 10,000 metrics dicts, each made from one row of
a batch's float block (`Outcome.row`). The ranking then puts those cells back into float
columns: reading 290,000 cells out of the dicts, checking their names and converting
them took ~20 ms of S1's ranking. A run keeps, beside its in-memory study, which block
row each recorded dict was made from; the ranking takes the rows from the blocks when
every dict it ranks is one of them (the very objects: a study read back from a database,
or trials another run told, are not) and reads the dicts otherwise.

A dict is recorded only when it is exactly its row: its names the block's names (distinct
text), in order, its values the row's floats (`ndarray.tolist` of it; the same bits).
Finished trials' records are never changed in place (Optuna refuses to set a finished
trial's attributes; stratopt's re-scoring builds new rows), so a recorded dict that is
still a trial's is still its row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["MetricRows"]


class MetricRows:
    """Recorded metrics dicts (kept alive here, so their ids stay theirs) and their rows."""

    def __init__(self) -> None:
        self._rows: dict[int, tuple[dict[str, Any], int]] = {}  # id(dict) -> it, its row
        self._blocks: list[np.ndarray] = []
        self._starts: dict[int, int] = {}  # id(block) -> the number of its first row
        self._names: dict[int, tuple[str, ...]] = {}
        self._count = 0

    def add(self, metrics: dict[str, Any], row: tuple[np.ndarray, tuple[str, ...], int]) -> None:
        """`metrics` (a dict made for a trial's record) is row `row[2]` of block `row[0]`,
        whose columns are named `row[1]`."""
        block, names, at = row
        start = self._starts.get(id(block))
        if start is None:
            start = self._starts[id(block)] = self._count
            self._blocks.append(block)
            self._names[id(block)] = names
            self._count += len(block)
        self._rows[id(metrics)] = (metrics, start + at)

    def gather(self, metrics: Sequence[Any], names: Sequence[str]) -> np.ndarray | None:
        """The rows of `metrics` stacked (row i: `metrics[i]`'s cells), when each is a dict
        recorded here and every block's columns are `names`; else None."""
        if not self._blocks or any(n != tuple(names) for n in self._names.values()):
            return None
        rows = self._rows
        at: list[int] = []
        for m in metrics:
            found = rows.get(id(m))
            if found is None or found[0] is not m:
                return None
            at.append(found[1])
        stacked = self._blocks[0] if len(self._blocks) == 1 else np.concatenate(self._blocks)
        gathered: np.ndarray = stacked[np.array(at, dtype=np.intp)]
        return gathered

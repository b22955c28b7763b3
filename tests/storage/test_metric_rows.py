"""`MetricRows`: the ranking's metrics taken from the evaluator's rows are the records'."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import stratopt.operations._summary as summary
from stratopt.config import load_study
from stratopt.operations import optimize_study
from stratopt.storage import MetricRows


def _recorded() -> tuple[MetricRows, list[dict[str, float]]]:
    rows = MetricRows()
    dicts = []
    for start in (0.0, 10.0):  # two blocks: rows numbered across them
        block = np.arange(6.0).reshape(3, 2) + start
        for i in range(3):
            d = dict(zip(("a", "b"), block[i].tolist(), strict=True))
            rows.add(d, (block, ("a", "b"), i))
            dicts.append(d)
    return rows, dicts


def test_the_rows_of_recorded_dicts_are_gathered_in_the_order_asked() -> None:
    rows, dicts = _recorded()
    order = [4, 0, 5, 2, 1, 3]
    got = rows.gather([dicts[i] for i in order], ("a", "b"))
    assert got is not None
    assert got.tolist() == [list(dicts[i].values()) for i in order]


def test_a_dict_not_recorded_or_other_names_read_the_records() -> None:
    rows, dicts = _recorded()
    twin = dict(dicts[1])  # equal, but not the recorded object
    assert rows.gather([dicts[0], twin], ("a", "b")) is None
    assert rows.gather(dicts, ("b", "a")) is None
    assert MetricRows().gather([], ("a", "b")) is None


@pytest.mark.parametrize("batch", [7, 64])
def test_a_memory_grid_ranks_from_the_evaluators_rows_as_from_its_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({
        "name": "rows", "data": {"synthetic": {"bars": 800, "seed": 4}},
        "strategy": "sma_cross", "space": {"fast": [3, 5, 8, 13], "slow": [21, 34, 55, 89, 144]},
        "search": {"method": "grid", "batch": batch}, "output": str(tmp_path / "runs"),
    }))  # fmt: skip
    gathered: list[Any] = []
    real_gather = MetricRows.gather

    def spy(self: MetricRows, *args: Any) -> Any:
        got = real_gather(self, *args)
        gathered.append(got)
        return got

    real_ranked = summary.ranked_frame

    def both(study: Any, directions: Any, rows: MetricRows | None = None) -> pd.DataFrame:
        from_rows = real_ranked(study, directions, rows)
        pd.testing.assert_frame_equal(from_rows, real_ranked(study, directions), check_exact=True)
        return from_rows

    monkeypatch.setattr(MetricRows, "gather", spy)
    monkeypatch.setattr(summary, "ranked_frame", both)
    res = optimize_study(load_study(path), storage="memory", analyze=False)
    assert res.counts["complete"] == 20
    assert len(gathered) == 1 and gathered[0] is not None and gathered[0].shape[0] == 20

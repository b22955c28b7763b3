from __future__ import annotations

import numpy as np

from stratopt.reporting._bins import MAX_BINS, axis_bins, binned_median
from stratopt.search import SearchSpace


def test_bins_follow_the_searched_range_not_the_values_seen() -> None:
    space = SearchSpace.from_config({
        "stop": [0.05, 0.03, 0.08], "fast": {"low": 2, "high": 100},
        "slow": {"low": 10, "high": 60, "step": 5}, "x": {"low": 0.001, "high": 0.1, "log": True},
        "mode": ["b", "a"],
    })  # fmt: skip
    dim = {d.name: d for d in space.dimensions}
    small = axis_bins("stop", [0.05], dim=dim["stop"])  # unvisited values keep their bins
    assert small.labels == ("0.03", "0.05", "0.08")
    assert small.bin_of([0.08, 0.03, 0.04]).tolist() == [2, 0, -1]
    ints = axis_bins("fast", [3, 4], dim=dim["fast"])
    assert len(ints.labels) == MAX_BINS and ints.labels[0] == "2–6" and ints.labels[-1] == "97–100"
    assert ints.bin_of([2, 6, 7, 100]).tolist() == [0, 0, 1, MAX_BINS - 1]
    assert axis_bins("slow", [], dim=dim["slow"]).labels == tuple(map(str, range(10, 61, 5)))
    floats = axis_bins("x", [0.01], dim=dim["x"])
    assert floats.log and floats.edges is not None
    assert np.allclose(np.diff(np.log(floats.edges)), np.log(100) / MAX_BINS)
    assert axis_bins("mode", ["a"], dim=dim["mode"]).labels == ("b", "a")
    assert axis_bins("seen", [3.5, 1.5, 3.5]).labels == ("1.5", "3.5")


def test_cells_hold_the_median_and_count_of_their_trials() -> None:
    x = axis_bins("a", [1, 2])
    y = axis_bins("b", ["u", "v"])
    grid = binned_median(x, y, [1, 1, 1, 2, 2], ["u", "u", "u", "v", "u"],
                         np.array([1.0, 5.0, 2.0, 7.0, np.nan]))  # fmt: skip
    assert grid.count.tolist() == [[3, 0], [0, 1]]
    assert grid.median[0, 0] == 2.0 and grid.median[1, 1] == 7.0
    assert np.isnan(grid.median[0, 1]) and grid.trials == 4

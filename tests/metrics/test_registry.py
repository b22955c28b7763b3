"""The metric registry: ids, order, lookups, and its agreement with kernels and docs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import numpy as np
import pytest

from stratopt.errors import ConfigError
from stratopt.metrics import (
    METRIC_IDS,
    METRICS,
    N_METRICS,
    MetricInfo,
    Unit,
    _nb,
    get_metric,
    metric_index,
    metrics_to_dict,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def test_ids_unique_snake_case_and_complete() -> None:
    assert len(METRICS) == N_METRICS == len(set(METRIC_IDS))
    for info in METRICS:
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", info.id), info.id
        assert info.label and info.description
        assert info.unit in get_args(Unit)
        assert isinstance(info.higher_is_better, bool)


def test_order_matches_kernel_constants() -> None:
    constants = {name: getattr(_nb, name) for name in dir(_nb) if name.startswith("M_")}
    assert len(constants) == N_METRICS
    for name, index in constants.items():
        assert METRICS[index].id == name[2:].lower()


@pytest.mark.parametrize("info", METRICS, ids=METRIC_IDS)
def test_lookups(info: MetricInfo) -> None:
    assert METRICS[metric_index(info.id)] is info
    assert get_metric(info.id) is info


@pytest.mark.parametrize(
    ("wrong", "suggestion"),
    [("sharp", "sharpe"), ("Sharpe", "sharpe"), ("max_dd", "max_drawdown"),
     ("profitfactor", "profit_factor"), ("cvar", "cvar_95"), ("var", "var_95"),
     ("sharpe_ratio", "sharpe")],
)  # fmt: skip
def test_unknown_id_suggests(wrong: str, suggestion: str) -> None:
    with pytest.raises(
        ConfigError, match=rf"unknown metric '{wrong}'; did you mean '{suggestion}'\?"
    ):
        metric_index(wrong)
    with pytest.raises(ConfigError, match="did you mean"):
        get_metric(wrong)


def test_unknown_id_without_suggestion_lists_ids() -> None:
    with pytest.raises(ConfigError, match="expected one of: total_return, cagr, "):
        get_metric("zzzzzz")
    with pytest.raises(ConfigError, match="unknown metric 'None'"):
        metric_index(None)  # type: ignore[arg-type]


def test_metrics_to_dict() -> None:
    d = metrics_to_dict(np.arange(N_METRICS, dtype=float))
    assert list(d) == list(METRIC_IDS)
    assert d["sharpe"] == float(metric_index("sharpe"))
    assert all(type(v) is float for v in d.values())
    with pytest.raises(ValueError, match=r"shape \(29,\)"):
        metrics_to_dict(np.zeros(3))


def test_docs_table_lists_every_metric_in_order() -> None:
    """docs/metrics.md has one table row per metric, same order, label, unit, direction."""
    rows = re.findall(
        r"^\|\s*(\d+)\s*\|\s*`(\w+)`\s*\|([^|]*)\|([^|]*)\|([^|]*)\|", DOCS.read_text(), re.M
    )
    assert [r[1] for r in rows] == list(METRIC_IDS)
    for (index, _, label, unit, direction), info in zip(rows, METRICS, strict=True):
        assert int(index) == metric_index(info.id)
        assert label.strip() == info.label
        assert unit.strip() == info.unit
        assert direction.strip() == ("higher" if info.higher_is_better else "lower")


def test_docs_list_the_infinite_metrics() -> None:
    text = DOCS.read_text()
    section = text.split("## Infinite values", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`(\w+)`", section)) & set(METRIC_IDS)
    assert listed == {m.id for m in METRICS if m.may_be_infinite}

"""`StudyEvaluator` of a built-in strategy: what its outcomes promise the trial loop."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from stratopt._jsonable import clean
from stratopt.config import parse_study
from stratopt.evaluation import Router, StudyEvaluator
from stratopt.strategies import get_strategy

STUDY: dict[str, Any] = {
    "name": "s",
    "data": {"synthetic": {"bars": 400, "seed": 5, "interval": "1D"}},
    "strategy": "sma_cross",
    "params": {"mode": "reversal"},
    "backtest": {"cash": 10000, "commission": 0.001},
}


def test_json_safe_outcomes_are_what_clean_copies(tmp_path: Path) -> None:
    """`json_safe` marks exactly the outcomes whose metrics `clean` copies as they are:
    text keys, finite Python floats (a candidate without a losing trade has an infinite
    profit factor; one that fails has no metrics)."""
    study = parse_study(STUDY, source="s.yaml", base_dir=tmp_path)
    router = Router(study, get_strategy("sma_cross"), ("fast", "slow", "backtest.stop_loss"))
    evaluator = StudyEvaluator(study, router, jobs=1, timeout=None)
    params = [{"fast": f, "slow": s, "backtest.stop_loss": 0.05} for f in (2, 9) for s in (20, 390)]
    params.append({"fast": 30, "slow": 300, "backtest.stop_loss": 0.5})  # no loss: inf
    params.append({"fast": 3, "slow": 30, "backtest.stop_loss": -1.0})  # an invalid setting
    try:
        outcomes = evaluator.evaluate(params)
    finally:
        evaluator.close()
    safe = [o for o in outcomes if o.json_safe]
    assert 0 < len(safe) < len(outcomes) - 1
    for o in outcomes:
        finite = o.metrics is not None and all(math.isfinite(v) for v in o.metrics.values())
        assert o.json_safe == (o.error is None and finite)
        if o.json_safe:
            assert o.metrics is not None
            assert type(o.metrics) is dict
            assert {type(k) for k in o.metrics} == {str}
            assert {type(v) for v in o.metrics.values()} == {float}
            assert clean(o.metrics) == o.metrics
    assert outcomes[-1].error is not None and not outcomes[-1].json_safe

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


def test_a_plain_sweep_batch_gives_the_outcomes_of_routing_each_candidate(tmp_path: Path) -> None:
    """A batch naming bare strategy parameters is routed and finished at once; its
    outcomes are those of the same parameters named ``strategy.x`` (routed candidate by
    candidate): metrics, rows per symbol, errors, refusals, `json_safe`; in a batch
    where every candidate runs, and in one where some do not."""
    study = parse_study(STUDY, source="s.yaml", base_dir=tmp_path)
    strategy = get_strategy("sma_cross")
    runs = [{"fast": f, "slow": s} for f in (2, 9, 30) for s in (60, 100)]
    some_fail = [*runs, {"fast": 40, "slow": 20}, {"fast": -3, "slow": 50}]  # refused; invalid
    for plain in (runs, some_fail):
        prefixed = [{f"strategy.{k}": v for k, v in p.items()} for p in plain]
        got = []
        for names, params in (
            (("fast", "slow"), plain),
            (("strategy.fast", "strategy.slow"), prefixed),
        ):
            router = Router(study, strategy, names)
            evaluator = StudyEvaluator(study, router, jobs=1, timeout=None)
            try:
                got.append(evaluator.evaluate(params))
            finally:
                evaluator.close()
        batch, one_by_one = got
        # a candidate without a losing trade has an infinite profit factor: not json_safe
        assert any(o.json_safe for o in batch) and not all(o.json_safe for o in batch[:6])
        for a, b in zip(batch, one_by_one, strict=True):
            assert (a.error, a.infeasible, a.json_safe) == (b.error, b.infeasible, b.json_safe)
            assert str(a.per_symbol) == str(b.per_symbol)  # NaN rows compare as text
            assert a.metrics == b.metrics
            if a.metrics is not None:
                assert a.metrics is next(iter(a.per_symbol.values()))  # one series: its row
    assert batch[-2].infeasible is not None and batch[-1].error is not None

import math
import warnings
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import stratopt
from stratopt.config import METHODS, SearchConfig
from stratopt.search import SAMPLERS, make_sampler


@pytest.mark.parametrize("method", sorted(SAMPLERS))
def test_building_a_sampler_warns_nothing(method: str) -> None:
    """The options stratopt picks are its own choice: Optuna's experimental-feature
    warnings about them would only be noise in every run."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_sampler(SearchConfig(method=method), seed=3, n_objectives=1)


def test_every_method_of_the_study_file_has_a_sampler() -> None:
    assert list(SAMPLERS) == list(METHODS)
    for name, info in SAMPLERS.items():
        assert info.multi_objective == METHODS[name].multi_objective
        assert info.default_batch == METHODS[name].default_batch


def _planted(p: dict[str, float]) -> dict[str, float]:
    """Sharpe pulls towards x = -5; only a disc of radius 0.83 around (4, 4), 2 % of the
    box, has the trades the requirement asks for (random draws rarely land there)."""
    d2 = (p["x"] - 4.0) ** 2 + (p["y"] - 4.0) ** 2
    return {"sharpe": -p["x"], "trades": 100.0 * math.exp(-d2)}


@pytest.mark.parametrize("method", ["tpe", "tpe_optuna"])
def test_requirements_reach_the_tpe_samplers_as_constraints(method: str, tmp_path: Path) -> None:
    """Every backtested trial carries the `requirements` constraint (0 feasible, > 0 by
    how far), and TPE uses it: without it, the pruned trials fill TPE's "good" group in
    trial order and the search wanders (83 attempts for 3 feasible trials with tpe,
    103 with tpe_optuna, at this seed); with it, it walks to the feasible disc (22, 26)."""
    space = {"x": {"low": -5.0, "high": 5.0}, "y": {"low": -5.0, "high": 5.0}}
    res = stratopt.optimize(_planted, space, method=method, trials=3, seed=0,
                            require={"trades": ">= 50"}, max_attempts=150,
                            output=str(tmp_path))  # fmt: skip
    trials = optuna.load_study(study_name=res.study_name, storage=res.storage).trials
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    assert pruned and all(t.constraints["requirements"] > 0 for t in pruned)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 3 and all(t.constraints == {"requirements": 0.0} for t in complete)
    assert res.attempts <= 40


def test_without_requirements_no_constraint_is_set(tmp_path: Path) -> None:
    """A study without `require:` samples as before: its trials carry no constraint."""
    space = {"x": {"low": -5.0, "high": 5.0}, "y": {"low": -5.0, "high": 5.0}}
    res = stratopt.optimize(_planted, space, method="tpe", trials=12, seed=0,
                            output=str(tmp_path))  # fmt: skip
    trials = optuna.load_study(study_name=res.study_name, storage=res.storage).trials
    assert len(trials) == 12 and all(t.constraints == {} for t in trials)

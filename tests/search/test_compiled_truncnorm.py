"""Optuna's log Φ, compiled: the same bits as Optuna's, so the same TPE trials."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest
from optuna.samplers._tpe import _truncnorm

from stratopt.config import SearchConfig
from stratopt.search import _compiled_truncnorm as compiled
from stratopt.search._samplers import make_sampler
from stratopt.search._tpe_batch import BatchTPESampler

optuna.logging.set_verbosity(optuna.logging.WARNING)

OPTUNAS = compiled._OPTUNAS


@pytest.fixture
def optunas_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Optuna's own function in place, and `install` not yet run, for this test only."""
    assert OPTUNAS is not None
    monkeypatch.setattr(_truncnorm, "_log_ndtr", OPTUNAS)
    monkeypatch.setattr(compiled, "_state", {})


def _bits(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).view(np.int64)


def test_every_value_has_optunas_bits() -> None:
    """Values as TPE meets them (standardized distances, mostly within ±10) and the
    whole range of each branch, in the shapes Optuna passes."""
    assert OPTUNAS is not None
    rng = np.random.default_rng(7)
    values = np.concatenate(
        [
            rng.normal(0.0, 4.0, 60_000),
            rng.uniform(-30.0, 40.0, 40_000),
            rng.normal(0.0, 1e-3, 5_000),
            compiled.PROBES,
        ]
    )
    ours = compiled.log_ndtr(values)
    np.testing.assert_array_equal(_bits(ours), _bits(OPTUNAS(values)))
    square = values[:10_000].reshape(100, 100)
    assert compiled.log_ndtr(square).shape == (100, 100)
    np.testing.assert_array_equal(_bits(compiled.log_ndtr(square)), _bits(OPTUNAS(square)))
    assert math.isnan(compiled.log_ndtr(np.array([math.nan]))[0])


def _study(sampler: optuna.samplers.BaseSampler, n: int = 60) -> list[dict[str, object]]:
    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_int("x", 0, 40)
        y = trial.suggest_float("y", -3.0, 3.0)
        z = trial.suggest_float("z", 1e-3, 10.0, log=True)
        return -((x - 29) ** 2) - (y - 0.7) ** 2 + math.log(z)

    study = optuna.create_study(direction="maximize", sampler=sampler)
    while len(study.trials) < n:  # batches of 4, as stratopt's runner asks them
        asked = [study.ask() for _ in range(4)]
        for trial in asked:
            study.tell(trial, objective(trial))
    return [t.params for t in study.trials]


@pytest.mark.usefixtures("optunas_own")
@pytest.mark.parametrize("which", ["batch", "optuna"])
def test_both_tpes_make_the_same_trials_with_it(
    which: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def sampler() -> optuna.samplers.BaseSampler:
        if which == "batch":
            return BatchTPESampler(seed=3, n_startup_trials=5)
        return optuna.samplers.TPESampler(seed=3, n_startup_trials=5, multivariate=True)

    monkeypatch.setattr(compiled, "_state", {"ok": False})  # as if refused: Optuna's own
    before = _study(sampler())
    assert not compiled.installed()
    monkeypatch.setattr(compiled, "_state", {})
    assert compiled.install()
    after = _study(sampler())
    assert compiled.installed()
    assert after == before


@pytest.mark.usefixtures("optunas_own")
def test_an_optuna_whose_function_differs_keeps_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    assert OPTUNAS is not None

    def other(a: np.ndarray) -> np.ndarray:
        out = OPTUNAS(a)
        out[np.asarray(a) == 1.0] += 1e-16  # one probe value one bit apart
        return out

    monkeypatch.setattr(compiled, "_OPTUNAS", other)
    monkeypatch.setattr(_truncnorm, "_log_ndtr", other)
    assert not compiled.install()
    assert _truncnorm._log_ndtr is other


@pytest.mark.usefixtures("optunas_own")
@pytest.mark.parametrize("method", ["tpe", "tpe_optuna"])
def test_a_tpe_installs_it_at_its_first_fit_not_when_built(method: str) -> None:
    """Building a sampler checks (and compiles) nothing: a cold start's background child
    compiles log Φ meanwhile. The first fit, after the startup trials, installs it."""

    def sampler() -> optuna.samplers.BaseSampler:
        return make_sampler(SearchConfig(method=method, startup_trials=5), seed=3, n_objectives=1)

    _study(sampler(), n=4)  # the startup trials only: no fit
    assert compiled._state == {}
    assert not compiled.installed()
    _study(sampler(), n=12)
    assert compiled._state == {"ok": True}
    assert compiled.installed()

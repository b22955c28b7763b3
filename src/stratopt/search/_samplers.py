"""The search methods' samplers: one registry from method name to an Optuna sampler.

The method names and what each supports come from `stratopt.config.METHODS`; this
module adds how each is built, from the study file's `search:` section and a seed.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

from optuna.exceptions import ExperimentalWarning
from optuna.samplers import (
    BaseSampler,
    CmaEsSampler,
    NSGAIISampler,
    QMCSampler,
    RandomSampler,
    TPESampler,
)

from stratopt.config import METHODS, SearchConfig, method_list
from stratopt.errors import ConfigError
from stratopt.search._compiled_truncnorm import install_on_first_use
from stratopt.search._tpe_batch import BatchTPESampler

__all__ = ["SAMPLERS", "MethodInfo", "make_sampler"]

Build = Callable[[SearchConfig, int], BaseSampler]


@dataclass(frozen=True)
class MethodInfo:
    """One search method: how to build it and what it supports."""

    name: str
    description: str
    multi_objective: bool
    default_batch: int
    build: Build


def _tpe(o: SearchConfig, seed: int) -> BaseSampler:
    install_on_first_use()  # log Φ compiled at the first fit, not now
    return TPESampler(
        seed=seed,
        n_startup_trials=10 if o.startup_trials is None else o.startup_trials,
        n_ei_candidates=o.ei_candidates or 24,
        multivariate=True,
        constant_liar=True,
    )


def _tpe_batch(o: SearchConfig, seed: int) -> BaseSampler:
    return BatchTPESampler(
        seed=seed,
        n_startup_trials=10 if o.startup_trials is None else o.startup_trials,
        n_ei_candidates=o.ei_candidates or 24,
    )


def _cmaes(o: SearchConfig, seed: int) -> BaseSampler:
    return CmaEsSampler(
        seed=seed,
        n_startup_trials=1 if o.startup_trials is None else o.startup_trials,
        popsize=o.population,
        independent_sampler=RandomSampler(seed=seed),
        warn_independent_sampling=False,
    )


def _nsga2(o: SearchConfig, seed: int) -> BaseSampler:
    return NSGAIISampler(seed=seed, population_size=o.population or 50)


def _qmc(o: SearchConfig, seed: int) -> BaseSampler:
    # Optuna marks QMCSampler experimental; the user chose `qmc`, not its interface,
    # so the warning would only be noise on every run
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        return QMCSampler(
            seed=seed,
            scramble=True,
            independent_sampler=RandomSampler(seed=seed),
            warn_asynchronous_seeding=False,
            warn_independent_sampling=False,
        )


def _random(o: SearchConfig, seed: int) -> BaseSampler:
    return RandomSampler(seed=seed)


# Grid candidates come from stratopt's own queue; its sampler only fills the gaps.
_BUILDERS: dict[str, Build] = {
    "grid": _random,
    "random": _random,
    "tpe": _tpe_batch,
    "tpe_optuna": _tpe,
    "cmaes": _cmaes,
    "nsga2": _nsga2,
    "qmc": _qmc,
}

SAMPLERS: dict[str, MethodInfo] = {
    name: MethodInfo(name, m.description, m.multi_objective, m.default_batch, _BUILDERS[name])
    for name, m in METHODS.items()
}


def make_sampler(settings: SearchConfig, *, seed: int, n_objectives: int) -> BaseSampler:
    """The Optuna sampler of `settings.method`, seeded with `seed`.

    With requirements, each backtested trial carries the Optuna constraint
    `requirements` (`_tell.REQUIREMENTS`, set by the runner when it tells the trial):
    both TPEs rank infeasible trials by it when they fill their "good" group; NSGA-II
    reads constraints only on COMPLETE trials, which are all feasible here. The other
    methods ignore it.
    """
    info = SAMPLERS[settings.method]  # a SearchConfig names a known method
    if n_objectives > 1 and not info.multi_objective:
        raise ConfigError(
            f"search.method: {settings.method!r} cannot optimize several objectives; "
            f"use {method_list(multi_objective=True)}"
        )
    return info.build(settings, seed)

"""The search methods: one registry from method name to an Optuna sampler."""

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

from stratopt.errors import ConfigError
from stratopt.search._tpe_batch import BatchTPESampler

__all__ = ["SAMPLERS", "MethodInfo", "SamplerOptions", "make_sampler"]


@dataclass(frozen=True)
class SamplerOptions:
    """The options of `search:` that samplers read."""

    seed: int
    startup_trials: int | None = None
    ei_candidates: int | None = None
    population: int | None = None


@dataclass(frozen=True)
class MethodInfo:
    """One search method: how to build it and what it supports."""

    name: str
    description: str
    multi_objective: bool
    default_batch: int
    build: Callable[[SamplerOptions], BaseSampler]


def _tpe(o: SamplerOptions) -> BaseSampler:
    return TPESampler(
        seed=o.seed,
        n_startup_trials=10 if o.startup_trials is None else o.startup_trials,
        n_ei_candidates=o.ei_candidates or 24,
        multivariate=True,
        constant_liar=True,
    )


def _tpe_batch(o: SamplerOptions) -> BaseSampler:
    return BatchTPESampler(
        seed=o.seed,
        n_startup_trials=10 if o.startup_trials is None else o.startup_trials,
        n_ei_candidates=o.ei_candidates or 24,
    )


def _cmaes(o: SamplerOptions) -> BaseSampler:
    return CmaEsSampler(
        seed=o.seed,
        n_startup_trials=1 if o.startup_trials is None else o.startup_trials,
        popsize=o.population,
        independent_sampler=RandomSampler(seed=o.seed),
        warn_independent_sampling=False,
    )


def _nsga2(o: SamplerOptions) -> BaseSampler:
    return NSGAIISampler(seed=o.seed, population_size=o.population or 50)


def _qmc(o: SamplerOptions) -> BaseSampler:
    # Optuna marks QMCSampler experimental; the user chose `qmc`, not its interface,
    # so the warning would only be noise on every run
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        return QMCSampler(
            seed=o.seed,
            scramble=True,
            independent_sampler=RandomSampler(seed=o.seed),
            warn_asynchronous_seeding=False,
            warn_independent_sampling=False,
        )


def _random(o: SamplerOptions) -> BaseSampler:
    return RandomSampler(seed=o.seed)


SAMPLERS: dict[str, MethodInfo] = {
    m.name: m
    for m in (
        MethodInfo("grid", "every combination of the space exactly once", True, 256, _random),
        MethodInfo("random", "independent uniform draws (seeded)", True, 256, _random),
        # `tpe` is the batch TPE: within 2 % of Optuna's TPE (benchmarks/tpe_quality.py)
        # at a cost per trial that does not grow with the study; `tpe_optuna` is
        # Optuna's own, refitted on every ask
        MethodInfo("tpe", "Bayesian: tree-structured Parzen estimator", True, 8, _tpe_batch),
        MethodInfo("tpe_optuna", "Optuna's TPE, refitted on every ask", True, 4, _tpe),
        MethodInfo("cmaes", "evolution strategy (CMA-ES), one objective", False, 4, _cmaes),
        MethodInfo("nsga2", "genetic algorithm for Pareto fronts (NSGA-II)", True, 8, _nsga2),
        MethodInfo("qmc", "quasi-Monte-Carlo (scrambled Sobol)", True, 64, _qmc),
    )
}


def make_sampler(method: str, options: SamplerOptions, *, n_objectives: int) -> BaseSampler:
    """The Optuna sampler of `method` (for grid, candidates come from stratopt's queue).

    Requirements reach the samplers that use feasibility (TPE, NSGA-II) through each
    trial's `requirements` constraint value, set by the runner.
    """
    info = SAMPLERS.get(method)
    if info is None:
        raise ConfigError(
            f"search.method: unknown method {method!r}; expected one of {list(SAMPLERS)}"
        )
    if n_objectives > 1 and not info.multi_objective:
        raise ConfigError(
            f"search.method: {method!r} cannot optimize several objectives; "
            "use nsga2, tpe, qmc or random"
        )
    return info.build(options)

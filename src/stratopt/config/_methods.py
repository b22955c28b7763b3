"""The search methods a study file may name: the one list the CLI, config and errors read.

`stratopt.search` builds each method's Optuna sampler (`SAMPLERS`, keyed by these names).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["METHODS", "SearchMethod", "method_list"]


@dataclass(frozen=True)
class SearchMethod:
    """One search method: what it does, whether it handles several objectives, and how
    many candidates it asks at a time by default (`search.batch`)."""

    name: str
    description: str
    multi_objective: bool
    default_batch: int


METHODS: dict[str, SearchMethod] = {
    m.name: m
    for m in (
        SearchMethod("grid", "every combination of the space exactly once", True, 256),
        SearchMethod("random", "independent uniform draws (seeded)", True, 256),
        # `tpe` is the batch TPE: within 2 % of Optuna's TPE (benchmarks/tpe_quality.py)
        # at a cost per trial that does not grow with the study; `tpe_optuna` is
        # Optuna's own, refitted on every ask
        SearchMethod("tpe", "Bayesian: tree-structured Parzen estimator", True, 8),
        SearchMethod("tpe_optuna", "Optuna's TPE, refitted on every ask", True, 4),
        SearchMethod("cmaes", "evolution strategy (CMA-ES), one objective", False, 4),
        SearchMethod("nsga2", "genetic algorithm for Pareto fronts (NSGA-II)", True, 8),
        SearchMethod("qmc", "quasi-Monte-Carlo (scrambled Sobol)", True, 64),
    )
}


def method_list(*, multi_objective: bool = False) -> str:
    """The methods as text, e.g. ``"grid, random, tpe, cmaes, nsga2 or qmc"``; with
    `multi_objective`, only those that optimize several objectives."""
    names = [m.name for m in METHODS.values() if m.multi_objective or not multi_objective]
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]

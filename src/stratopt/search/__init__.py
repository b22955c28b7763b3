"""Search: the space of searched parameters and the constraints between them."""

from __future__ import annotations

from stratopt.search._constraints import (
    MAX_CONSTRAINT_DEPTH,
    MAX_CONSTRAINT_LENGTH,
    Constraint,
    check_satisfiable,
    parse_constraints,
)
from stratopt.search._samplers import SAMPLERS, MethodInfo, SamplerOptions, make_sampler
from stratopt.search._space import (
    Choice,
    Dimension,
    FloatRange,
    IntRange,
    SearchSpace,
    flatten,
    nest,
)

__all__ = [
    "MAX_CONSTRAINT_DEPTH",
    "MAX_CONSTRAINT_LENGTH",
    "SAMPLERS",
    "Choice",
    "Constraint",
    "Dimension",
    "FloatRange",
    "IntRange",
    "MethodInfo",
    "SamplerOptions",
    "SearchSpace",
    "check_satisfiable",
    "flatten",
    "make_sampler",
    "nest",
    "parse_constraints",
]

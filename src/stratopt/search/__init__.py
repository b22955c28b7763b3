"""Search: the Optuna seam. What to search, how, and the loops that run it.

A `SearchPlan` (`compile_search` from a study file, `plan_search` from its parts) holds
the validated space, constraints, objective, requirements, settings and target;
`open_study` creates or resumes the Optuna study; `run_search` (one process,
deterministic) and `work` (many processes sharing a study) run trials through any
`stratopt.evaluation.Evaluator`, and `tell` records one candidate's outcome. Optuna's
types stay behind this package and `stratopt.storage`.
"""

from __future__ import annotations

from stratopt.search._constraints import (
    MAX_CONSTRAINT_DEPTH,
    MAX_CONSTRAINT_LENGTH,
    Constraint,
    check_satisfiable,
    parse_constraints,
)
from stratopt.search._dimensions import is_number
from stratopt.search._heartbeat import ask, fail_stale
from stratopt.search._objective import Direction, Objective, ObjectiveValues, parse_objective
from stratopt.search._plan import (
    STUDY_FIELDS,
    PlanFields,
    SearchPlan,
    compile_search,
    default_trials,
    plan_search,
)
from stratopt.search._progress import Progress, RunResult
from stratopt.search._requirements import Requirements, Verdict, parse_requirements
from stratopt.search._runner import run_search, run_trials
from stratopt.search._samplers import SAMPLERS, MethodInfo, make_sampler
from stratopt.search._space import (
    Choice,
    Dimension,
    FloatRange,
    IntRange,
    SearchSpace,
    flatten,
    nest,
)
from stratopt.search._study import open_study
from stratopt.search._tell import (
    DUPLICATE,
    INFEASIBLE,
    BatchTrial,
    Pending,
    evaluate_with_retries,
    prune,
    restore_normalizer,
    save_normalizer,
    tell,
    valid_keys,
)
from stratopt.search._worker import OVER_TARGET, WorkerOptions, default_worker_id, work, worker_seed
from stratopt.storage import ATTR, ATTR_NORMALIZER, record

__all__ = [
    "ATTR",
    "ATTR_NORMALIZER",
    "DUPLICATE",
    "INFEASIBLE",
    "MAX_CONSTRAINT_DEPTH",
    "MAX_CONSTRAINT_LENGTH",
    "OVER_TARGET",
    "SAMPLERS",
    "STUDY_FIELDS",
    "BatchTrial",
    "Choice",
    "Constraint",
    "Dimension",
    "Direction",
    "FloatRange",
    "IntRange",
    "MethodInfo",
    "Objective",
    "ObjectiveValues",
    "Pending",
    "PlanFields",
    "Progress",
    "Requirements",
    "RunResult",
    "SearchPlan",
    "SearchSpace",
    "Verdict",
    "WorkerOptions",
    "ask",
    "check_satisfiable",
    "compile_search",
    "default_trials",
    "default_worker_id",
    "evaluate_with_retries",
    "fail_stale",
    "flatten",
    "is_number",
    "make_sampler",
    "nest",
    "open_study",
    "parse_constraints",
    "parse_objective",
    "parse_requirements",
    "plan_search",
    "prune",
    "record",
    "restore_normalizer",
    "run_search",
    "run_trials",
    "save_normalizer",
    "tell",
    "valid_keys",
    "work",
    "worker_seed",
]

"""Hard requirements on metrics: the ``require:`` section of a study file.

A requirement compares one metric with a number (``trades: ">= 50"``). A candidate is
*feasible* when at most ``max_violations`` requirements fail: 0 in ``strict`` mode (the
default), 1 in ``lenient`` mode, any N with ``max_violations: N``. A NaN or missing
metric always fails its requirement. Failing candidates are kept and marked by the
runner with the messages of `Verdict.violations`, never given a sentinel score.

Shortfall (the continuous violation score): every failed requirement adds a term

* ``(threshold - value) / scale`` for ``>=`` and ``>``,
* ``(value - threshold) / scale`` for ``<=`` and ``<``,
* ``|value - threshold| / scale`` for ``==``, and ``0`` for ``!=``,

with ``scale = max(|threshold|, 1e-9)``; each term is then raised to at least
``MIN_TERM`` (so a failed requirement always counts, even exactly at the boundary of a
strict inequality) and capped at ``MAX_TERM``, which is also the term of a NaN or
missing metric (an undefined metric is as far from the target as it gets). Requirements
that hold add nothing, so ``shortfall == 0`` exactly when every requirement holds.

Example:
    >>> req = parse_requirements({"trades": ">= 50", "sharpe": ">= 1.0", "mode": "lenient"})
    >>> v = req.check({"trades": 12.0, "sharpe": 1.2})
    >>> v.violations, v.feasible, round(v.shortfall, 2)
    (('trades 12 < 50 (required >= 50)',), True, 0.76)
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from stratopt._suggest import did_you_mean
from stratopt.errors import ConfigError
from stratopt.metrics import get_metric

__all__ = [
    "MAX_TERM",
    "MIN_TERM",
    "Op",
    "Requirement",
    "Requirements",
    "Verdict",
    "parse_requirements",
]

Op = Literal[">=", ">", "<=", "<", "==", "!="]

MIN_TERM = 1e-9
"""Smallest shortfall term of a failed requirement."""

MAX_TERM = 1e6
"""Largest shortfall term; also the term of a NaN or missing metric."""

_OPS: tuple[str, ...] = get_args(Op)
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
_PATTERN = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(\S+)\s*$")
# The relation that holds when a requirement with this operator fails.
_NEGATED: dict[str, str] = {">=": "<", ">": "<=", "<=": ">", "<": ">=", "==": "!=", "!=": "=="}
# Fractions that live in [0, 1]: a threshold above 1 is a percentage written by mistake.
_UNIT_INTERVAL = frozenset({"win_rate", "exposure", "max_drawdown"})
_MODES: dict[str, int] = {"strict": 0, "lenient": 1}


def _fmt_threshold(value: float, metric: str) -> str:
    unit = get_metric(metric).unit
    if unit in ("count", "bars") and value.is_integer():
        return str(int(value))
    return repr(value)


def _fmt_value(value: float, metric: str, threshold: float) -> str:
    unit = get_metric(metric).unit
    if unit in ("count", "bars") and value.is_integer():
        return str(int(value))
    # Shortest form that does not look equal to a different threshold, floats as floats.
    for digits in range(4, 18):
        text = format(value, f".{digits}g")
        if value == threshold or text != format(threshold, f".{digits}g"):
            return text if any(c in text for c in ".eni") else f"{text}.0"
    return repr(value)  # pragma: no cover


@dataclass(frozen=True)
class Requirement:
    """One comparison ``metric op value``, e.g. ``trades >= 50``.

    Attributes:
        metric: a metric id of `stratopt.metrics.METRICS`.
        op: one of ``>=``, ``>``, ``<=``, ``<``, ``==``, ``!=``.
        value: the threshold, a finite number.
    """

    metric: str
    op: Op
    value: float

    def holds(self, actual: float) -> bool:
        """Whether ``actual`` satisfies the requirement (NaN never does)."""
        if math.isnan(actual):
            return False
        return _COMPARE[self.op](actual, self.value)

    def term(self, actual: float | None) -> float:
        """The shortfall term of this requirement (see the module docstring)."""
        if actual is None or math.isnan(actual):
            return MAX_TERM
        if self.holds(actual):
            return 0.0
        t = self.value
        if self.op in (">=", ">"):
            gap = t - actual
        elif self.op in ("<=", "<"):
            gap = actual - t
        elif self.op == "==":
            gap = abs(actual - t)
        else:
            gap = 0.0
        return min(max(gap / max(abs(t), 1e-9), MIN_TERM), MAX_TERM)

    def message(self, actual: float | None) -> str:
        """Why ``actual`` fails, e.g. ``trades 12 < 50 (required >= 50)``."""
        required = f"(required {self})"
        if actual is None:
            return f"{self.metric} is missing {required}"
        if math.isnan(actual):
            return f"{self.metric} is NaN {required}"
        shown = _fmt_value(actual, self.metric, self.value)
        return f"{self.metric} {shown} {_NEGATED[self.op]} {self._threshold} {required}"

    @property
    def _threshold(self) -> str:
        return _fmt_threshold(self.value, self.metric)

    def __str__(self) -> str:
        return f"{self.op} {self._threshold}"


@dataclass(frozen=True)
class Verdict:
    """The outcome of `Requirements.check` for one candidate.

    Attributes:
        violations: one message per failed requirement, in the order of the study file.
        feasible: at most ``max_violations`` requirements failed.
        shortfall: sum of the terms of the failed requirements (>= 0; 0 when all hold).
        constraint: the value for Optuna's ``constraints_func`` (feasible iff <= 0): 0
            when feasible, otherwise the sum of the smallest terms that must be fixed to
            become feasible (the ``len(violations) - max_violations`` smallest), > 0.
    """

    violations: tuple[str, ...]
    feasible: bool
    shortfall: float
    constraint: float


# What `check` gives without requirements (`math.fsum` of no terms is 0.0).
_NONE_BROKEN = Verdict((), True, 0.0, 0.0)


@dataclass(frozen=True)
class Requirements:
    """All requirements of a study and how many of them may fail.

    Attributes:
        requirements: the comparisons, in the order of the study file.
        max_violations: how many may fail for a feasible candidate (0 = strict).
    """

    requirements: tuple[Requirement, ...] = ()
    max_violations: int = 0

    @property
    def mode(self) -> str:
        """``"strict"`` (0 allowed), ``"lenient"`` (1) or ``"max_violations=N"``."""
        for name, n in _MODES.items():
            if n == self.max_violations:
                return name
        return f"max_violations={self.max_violations}"

    @property
    def metric_ids(self) -> tuple[str, ...]:
        """The metrics read, without repetition, in order."""
        return tuple(dict.fromkeys(r.metric for r in self.requirements))

    @property
    def min_trades(self) -> int | None:
        """The least number of trades any feasible candidate has, or None.

        From ``trades >= N`` (N rounded up), ``trades > N`` (the next integer above N)
        and ``trades == N``. Only the runner's early pruning reads it; in lenient mode a
        candidate may still be feasible with fewer trades, so it is None unless strict.
        """
        if self.max_violations > 0:
            return None
        bounds = [
            math.floor(r.value) + 1 if r.op == ">" else math.ceil(r.value)
            for r in self.requirements
            if r.metric == "trades" and r.op in (">=", ">", "==")
        ]
        return max(0, *bounds) if bounds else None

    def check(self, metrics: Mapping[str, float]) -> Verdict:
        """Compare a candidate's metrics with every requirement.

        Args:
            metrics: ``{metric id: value}``; a missing or NaN metric fails.

        Returns:
            The `Verdict`.
        """
        if not self.requirements:  # every trial of a study without any
            return _NONE_BROKEN
        messages: list[str] = []
        terms: list[float] = []
        for req in self.requirements:
            raw = metrics.get(req.metric)
            actual = None if raw is None else float(raw)
            if actual is not None and req.holds(actual):
                continue
            messages.append(req.message(actual))
            terms.append(req.term(actual))
        excess = len(terms) - self.max_violations
        feasible = excess <= 0
        constraint = 0.0 if feasible else math.fsum(sorted(terms)[:excess])
        return Verdict(tuple(messages), feasible, math.fsum(terms), constraint)

    def describe(self) -> str:
        """One line, e.g. ``trades >= 50, sharpe >= 1.0 (strict)``."""
        if not self.requirements:
            return "no requirements"
        items = ", ".join(f"{r.metric} {r}" for r in self.requirements)
        return f"{items} ({self.mode})"


def _parse_one(text: Any, metric: str, where: str) -> Requirement:
    match = _PATTERN.match(text) if isinstance(text, str) else None
    if match is None:
        raise ConfigError(
            f"{where}: expected a comparison like '>= 50' (one of {', '.join(_OPS)} and a "
            f"number), got {text!r}"
        )
    op, number = match.groups()
    try:
        value = float(number)
    except ValueError:
        raise ConfigError(f"{where}: {number!r} in {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"{where}: the threshold must be finite, got {text!r}")
    if metric in _UNIT_INTERVAL and abs(value) > 1.0:
        raise ConfigError(
            f"{where}: {metric} is a fraction between 0 and 1 (0.2 = 20 %), got {text!r}"
        )
    return Requirement(metric, op, value)  # type: ignore[arg-type]


def _parse_allowance(raw: Mapping[str, Any], field: str) -> int:
    if "mode" in raw and "max_violations" in raw:
        raise ConfigError(f"{field}: give either 'mode' or 'max_violations', not both")
    if "max_violations" in raw:
        n = raw["max_violations"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ConfigError(f"{field}.max_violations: expected an integer >= 0, got {n!r}")
        return n
    mode = raw.get("mode", "strict")
    if mode not in _MODES:
        hint = did_you_mean(mode, _MODES)
        raise ConfigError(f"{field}.mode: expected 'strict' or 'lenient', got {mode!r}{hint}")
    return _MODES[mode]


def parse_requirements(raw: Mapping[str, Any] | None, *, field: str = "require") -> Requirements:
    """Parse the ``require:`` mapping of a study file.

    Each key is a metric id whose value is a comparison (``">= 50"``) or a list of them
    (``[">= 0.4", "<= 0.7"]``); the reserved keys ``mode`` (``strict`` | ``lenient``)
    and ``max_violations`` (an integer >= 0) set how many may fail (default: none).

    Args:
        raw: the mapping, or None for no requirements.
        field: the dotted path of the mapping, used in error messages.

    Returns:
        The parsed `Requirements`.

    Raises:
        ConfigError: not a mapping, an unknown metric (with a "did you mean"
            suggestion), a malformed comparison, a bad mode or max_violations.
    """
    if raw is None:
        return Requirements()
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{field}: expected a mapping of metric to comparison, got {type(raw).__name__}"
        )
    max_violations = _parse_allowance(raw, field)
    items: list[Requirement] = []
    for key, spec in raw.items():
        if key in ("mode", "max_violations"):
            continue
        where = f"{field}.{key}"
        try:
            get_metric(key)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        if isinstance(spec, Sequence) and not isinstance(spec, str):
            if not spec:
                raise ConfigError(f"{where}: empty list of comparisons")
            items += [_parse_one(s, key, f"{where}[{i}]") for i, s in enumerate(spec)]
        else:
            items.append(_parse_one(spec, key, where))
    return Requirements(tuple(items), max_violations)

"""Signal rules: conditions over indicators, compiled to the arrays the engine reads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from stratopt.engine import Signal, kernels
from stratopt.strategies._indicators import Indicator, source

__all__ = [
    "MAX_RULES",
    "Condition",
    "Rule",
    "above",
    "below",
    "compile_rules",
    "crosses_above",
    "crosses_below",
    "indicators_of",
    "on",
]

MAX_RULES = 8

Operand = Indicator | str | float | int


@dataclass(frozen=True)
class Condition:
    """A test of `a` against `b` (an indicator or a constant level) at each bar."""

    kind: int
    a: Indicator
    b: Indicator | float
    shift: int = 0


@dataclass(frozen=True)
class Rule:
    """Emit `signal` on every bar where `when` holds."""

    when: Condition
    signal: Signal


def _ind(x: Operand) -> Indicator:
    if isinstance(x, Indicator):
        return x
    if isinstance(x, str):
        return source(x)
    raise TypeError(f"the first operand must be an indicator or a price name, got {x!r}")


def _operand(x: Operand) -> Indicator | float:
    return float(x) if isinstance(x, int | float) else _ind(x)


def crosses_above(a: Operand, b: Operand) -> Condition:
    """`a[i-1] < b[i-1] and a[i] > b[i]` (backtesting.py's definition)."""
    return Condition(kernels.RULE_CROSS_ABOVE, _ind(a), _operand(b))


def crosses_below(a: Operand, b: Operand) -> Condition:
    """`a[i-1] > b[i-1] and a[i] < b[i]`."""
    return Condition(kernels.RULE_CROSS_BELOW, _ind(a), _operand(b))


def above(a: Operand, b: Operand, *, shift: int = 0) -> Condition:
    """`a[i] > b[i - shift]` (shift 1 compares with the previous bar's level)."""
    return Condition(kernels.RULE_ABOVE, _ind(a), _operand(b), int(shift))


def below(a: Operand, b: Operand, *, shift: int = 0) -> Condition:
    """`a[i] < b[i - shift]`."""
    return Condition(kernels.RULE_BELOW, _ind(a), _operand(b), int(shift))


def on(when: Condition, signal: Signal) -> Rule:
    """The rule "emit `signal` when `when` holds"; earlier rules win on the same bar."""
    return Rule(when, signal if type(signal) is Signal else Signal(signal))


def indicators_of(rules: Sequence[Rule]) -> list[Indicator]:
    """The distinct indicators `rules` read, in first-use order."""
    seen: dict[Indicator, None] = {}
    for rule in rules:
        seen[rule.when.a] = None
        if isinstance(rule.when.b, Indicator):
            seen[rule.when.b] = None
    return list(seen)


def compile_rules(
    rules: Sequence[Rule], row_of: Callable[[Indicator], int]
) -> tuple[np.ndarray, np.ndarray]:
    """(int64[MAX_RULES, 5], float64[MAX_RULES]) for the kernel; `row_of` maps indicators."""
    if not 0 < len(rules) <= MAX_RULES:
        raise ValueError(f"a strategy needs 1 to {MAX_RULES} rules, got {len(rules)}")
    table = np.zeros((MAX_RULES, 5), dtype=np.int64)
    levels = np.zeros(MAX_RULES, dtype=np.float64)
    for r, rule in enumerate(rules):
        cond = rule.when
        table[r, 0] = cond.kind
        table[r, 1] = row_of(cond.a)
        if isinstance(cond.b, Indicator):
            table[r, 2] = row_of(cond.b)
        else:
            table[r, 2] = -1
            levels[r] = cond.b
        table[r, 3] = int(rule.signal)
        table[r, 4] = cond.shift
    return table, levels

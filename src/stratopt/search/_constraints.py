"""Constraints between parameters: `fast < slow`, `take_profit < 3 * stop_loss`.

A constraint is a small expression parsed with `ast` and checked against an explicit
whitelist: parameter names (dotted for groups, `risk.per_trade`), numbers, unary `- + not`,
binary `+ - * / // % **`, comparisons (chained too: `5 <= fast < slow`), `and`/`or`,
parentheses and calls of `abs`, `min`, `max`. The validated tree is compiled into plain
Python closures; user text is never given to `eval`, `exec` or `compile`.

A constraint whose arithmetic is undefined for some parameters (division by zero, overflow,
`(-8) ** 0.5`) does not hold for them.
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
import logging
import math
import numbers
import operator
import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from stratopt._suggest import did_you_mean
from stratopt.errors import ConfigError
from stratopt.search._dimensions import Dimension
from stratopt.search._space import SearchSpace

__all__ = [
    "MAX_CONSTRAINT_DEPTH",
    "MAX_CONSTRAINT_LENGTH",
    "Constraint",
    "check_satisfiable",
    "parse_constraints",
]

MAX_CONSTRAINT_LENGTH = 500
"""Longest accepted constraint text, in characters."""
MAX_CONSTRAINT_DEPTH = 50
"""Deepest accepted nesting of the expression tree."""

_log = logging.getLogger(__name__)

_ALLOWED = "only parameter names, numbers, arithmetic, comparisons, and/or/not, abs/min/max"

_Eval = Callable[[Mapping[str, Any]], Any]


class _Undefined(ArithmeticError):
    """Arithmetic without a real result (math domain error): the constraint does not hold."""


def _number(value: Any) -> Any:
    if type(value) is int or type(value) is float:  # the common case, without the ABC check
        return value
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{value!r:.40} is not a number")
    return value


def _pow(base: Any, exponent: Any) -> float:
    # Through floats: a huge result overflows at once instead of building a giant int.
    try:
        return math.pow(base, exponent)
    except ValueError:
        raise _Undefined(f"{base!r} ** {exponent!r}") from None


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: _pow,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int]] = {
    "abs": (abs, 1, 1),  # function, fewest and most arguments
    "min": (min, 2, 100),
    "max": (max, 2, 100),
}
_SYMBOLS: dict[type[ast.AST], str] = {
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.MatMult: "@",
    ast.Invert: "~",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
}


def _piece(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


def _dotted(node: ast.AST) -> str | None:
    """`risk.per_trade` for an attribute chain over a name; None for anything else."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


class _Compiler:
    """Checks a parsed expression against the whitelist and turns it into closures."""

    def __init__(self, names: Collection[str], where: str) -> None:
        self.known = list(dict.fromkeys(names))
        self.where = where
        self.used: dict[str, None] = {}

    def fail(self, message: str) -> NoReturn:
        raise ConfigError(f"{self.where}: {message}")

    def forbid(self, piece: str) -> NoReturn:
        self.fail(f"{piece!r} is not allowed in a constraint ({_ALLOWED})")

    def node(self, node: ast.AST, depth: int) -> _Eval:
        if depth > MAX_CONSTRAINT_DEPTH:
            self.fail(f"too deeply nested (more than {MAX_CONSTRAINT_DEPTH} levels)")
        if isinstance(node, ast.Constant):
            value = node.value
            if not isinstance(value, int | float):  # bool is an int; str, None, complex are not
                self.forbid(_piece(node))
            return lambda params: value
        if isinstance(node, ast.Name | ast.Attribute):
            return self.name(node)
        if isinstance(node, ast.BinOp):
            return self.binary(node, depth)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node, depth)
        if isinstance(node, ast.Compare):
            return self.compare(node, depth)
        if isinstance(node, ast.BoolOp):
            return self.boolean(node, depth)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        self.forbid(_piece(node))

    def name(self, node: ast.Name | ast.Attribute) -> _Eval:
        dotted = _dotted(node)
        if dotted is None:
            self.forbid(_piece(node))
        if dotted not in self.known:
            parts = dotted.split(".")
            groups = (".".join(parts[:i]) for i in range(1, len(parts)))
            if any(p.startswith("__") for p in parts) or any(g in self.known for g in groups):
                self.forbid(dotted)
            hint = did_you_mean(dotted, self.known)
            if hint:
                self.fail(f"unknown parameter {dotted!r}{hint}")
            shown = ", ".join(self.known[:20]) + (", ..." if len(self.known) > 20 else "")
            self.fail(f"unknown parameter {dotted!r} (parameters: {shown or 'none'})")
        self.used[dotted] = None
        return lambda params: params[dotted]

    def binary(self, node: ast.BinOp, depth: int) -> _Eval:
        func = _BINARY.get(type(node.op))
        if func is None:
            self.forbid(_SYMBOLS.get(type(node.op), _piece(node)))
        left, right = self.node(node.left, depth + 1), self.node(node.right, depth + 1)
        return lambda params: func(_number(left(params)), _number(right(params)))

    def unary(self, node: ast.UnaryOp, depth: int) -> _Eval:
        operand = self.node(node.operand, depth + 1)
        if isinstance(node.op, ast.Not):
            return lambda params: not operand(params)
        if isinstance(node.op, ast.USub):
            return lambda params: -_number(operand(params))
        if isinstance(node.op, ast.UAdd):
            return lambda params: +_number(operand(params))
        self.forbid(_SYMBOLS.get(type(node.op), _piece(node)))

    def compare(self, node: ast.Compare, depth: int) -> _Eval:
        funcs = []
        for op in node.ops:
            func = _COMPARE.get(type(op))
            if func is None:
                self.forbid(_SYMBOLS.get(type(op), _piece(node)))
            funcs.append(func)
        first = self.node(node.left, depth + 1)
        rest = [self.node(c, depth + 1) for c in node.comparators]
        pairs = list(zip(funcs, rest, strict=True))

        def run(params: Mapping[str, Any]) -> bool:
            left = first(params)
            for func, operand in pairs:  # like Python: each operand evaluated once, lazily
                right = operand(params)
                if not func(left, right):
                    return False
                left = right
            return True

        return run

    def boolean(self, node: ast.BoolOp, depth: int) -> _Eval:
        values = [self.node(v, depth + 1) for v in node.values]
        if isinstance(node.op, ast.And):
            return lambda params: all(v(params) for v in values)
        return lambda params: any(v(params) for v in values)

    def call(self, node: ast.Call, depth: int) -> _Eval:
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
            self.forbid(_piece(node.func))
        if node.keywords:
            self.forbid(_piece(node.keywords[0]))
        name = node.func.id
        func, fewest, most = _FUNCTIONS[name]
        if not fewest <= len(node.args) <= most:
            wanted = "one argument" if most == 1 else f"{fewest} to {most} arguments"
            self.fail(f"{name}() takes {wanted}, got {len(node.args)}")
        args = [self.node(a, depth + 1) for a in node.args]
        return lambda params: func(*(_number(a(params)) for a in args))


@dataclass(frozen=True)
class Constraint:
    """A condition on parameters, such as `fast < slow`; build one with `Constraint.parse`.

    Attributes:
        text: The condition as written.
        names: The parameters it reads, in order of first use.
        field: Where it came from, for messages (`constraints[0]`).
    """

    text: str
    names: tuple[str, ...]
    field: str
    _check: _Eval = dataclasses.field(repr=False, compare=False)

    @classmethod
    def parse(cls, text: str, names: Collection[str], *, field: str) -> Constraint:
        """Validate `text` and compile it.

        Args:
            text: A comparison or boolean condition over parameter names.
            names: The parameter names it may use (dotted for groups).
            field: The field path used in error messages, e.g. `constraints[0]`.

        Raises:
            ConfigError: syntax error, a construct outside the whitelist, an unknown name
                (with a suggestion), or an expression that is not a condition.
        """
        compiler = _Compiler(names, field)
        if not isinstance(text, str):
            compiler.fail(f"expected a condition such as 'fast < slow', got {text!r:.60}")
        if len(text) > MAX_CONSTRAINT_LENGTH:
            compiler.fail(f"too long ({len(text)} characters, at most {MAX_CONSTRAINT_LENGTH})")
        body = _parse_expression(" ".join(text.split()), compiler)  # one line, as in YAML
        check = compiler.node(body, 0)
        is_not = isinstance(body, ast.UnaryOp) and isinstance(body.op, ast.Not)
        if not (isinstance(body, ast.Compare | ast.BoolOp) or is_not):
            compiler.fail(
                f"{_piece(body)!r} is not a condition; write a comparison such as 'fast < slow'"
            )
        return cls(text, tuple(compiler.used), field, check)

    def holds(self, params: Mapping[str, Any]) -> bool:
        """Whether the condition is true for `params` (flat, dotted names).

        Undefined arithmetic (division by zero, overflow, math domain errors) makes it false.

        Raises:
            KeyError: a parameter it reads is missing from `params`.
            ConfigError: a value has the wrong type for the expression (e.g. text in arithmetic).
        """
        try:
            return bool(self._check(params))
        except ArithmeticError:
            return False
        except KeyError as exc:
            raise KeyError(f"{self.field}: {self.text!r} needs parameter {exc.args[0]!r}") from None
        except TypeError as exc:
            values = ", ".join(f"{n}={params[n]!r:.30}" for n in self.names)
            raise ConfigError(
                f"{self.field}: cannot evaluate {self.text!r} with {values}: {exc}"
            ) from None

    def __reduce__(self) -> tuple[Any, ...]:
        # Closures do not pickle; a worker process re-parses the text instead.
        return (_rebuild, (self.text, self.names, self.field))


def _rebuild(text: str, names: tuple[str, ...], where: str) -> Constraint:
    return Constraint.parse(text, names, field=where)


def _parse_expression(text: str, compiler: _Compiler) -> ast.expr:
    if not text:
        compiler.fail("empty constraint")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. invalid escape sequences in strings
            tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        compiler.fail(f"not a valid expression: {text!r:.80} ({exc.msg})")
    except (ValueError, RecursionError, MemoryError):
        compiler.fail(f"not a valid expression: {text!r:.80}")
    return tree.body


def parse_constraints(
    items: Sequence[str] | None, names: Collection[str], field: str = "constraints"
) -> tuple[Constraint, ...]:
    """Parse the `constraints:` list of a study file (`field[i]` names each in messages).

    Raises:
        ConfigError: `items` is not a list of strings, or one constraint is invalid.
    """
    if items is None:
        return ()
    if isinstance(items, str) or not isinstance(items, Sequence):
        raise ConfigError(
            f'{field}: expected a list of conditions such as ["fast < slow"], got {items!r:.60}'
        )
    return tuple(Constraint.parse(t, names, field=f"{field}[{i}]") for i, t in enumerate(items))


def check_satisfiable(
    constraints: Sequence[Constraint],
    space: SearchSpace,
    *,
    fixed: Mapping[str, Any] | None = None,
    field: str = "constraints",
    max_combinations: int = 1_000_000,
) -> None:
    """Fail early when no combination of a discrete space satisfies every constraint.

    Constraints that share no parameter are checked separately, each group over only the
    parameters it reads. A group is skipped when one of them is continuous or when it has more
    than `max_combinations` combinations; constraints reading a parameter neither in `space`
    nor in `fixed` are skipped too (they cannot be evaluated here).

    Args:
        constraints: The parsed constraints.
        space: The search space.
        fixed: Values of fixed (not searched) parameters the constraints may read.
        field: The field path used in the error message.
        max_combinations: The most combinations enumerated for one group.

    Raises:
        ConfigError: no combination satisfies all constraints.
    """
    base = dict(fixed or {})
    known = {*space.names, *base}
    usable = [c for c in constraints if all(n in known for n in c.names)]
    for group in _groups(usable):
        read = {n for c in group for n in c.names}
        dims = tuple(d for d in space.dimensions if d.name in read)
        if not all(d.is_discrete for d in dims):
            continue
        size = math.prod(d.grid_size() for d in dims)
        if size > max_combinations:
            _log.debug("constraints: %d combinations, satisfiability not checked", size)
            continue
        ever = _scan(group, dims, base)
        if ever is not None:
            raise ConfigError(
                f"{field}: no parameter combination of the space satisfies all constraints "
                f"({size:,} combinations checked){_culprits(group, ever)}"
            )


def _groups(constraints: Sequence[Constraint]) -> list[list[Constraint]]:
    """The constraints split into groups that share no parameter, in order."""
    groups: list[tuple[set[str], list[Constraint]]] = []
    for c in constraints:
        names, members = set(c.names), [c]
        for other in [g for g in groups if g[0] & names]:
            groups.remove(other)
            names |= other[0]
            members = [*other[1], *members]
        groups.append((names, members))
    return [sorted(members, key=constraints.index) for _, members in groups]


def _scan(
    constraints: Sequence[Constraint], dims: tuple[Dimension, ...], base: dict[str, Any]
) -> list[bool] | None:
    """None when some combination satisfies every constraint, else which ever held alone."""
    names = [d.name for d in dims]
    params = dict(base)
    ever = [False] * len(constraints)
    indexed = list(enumerate(constraints))
    for combo in itertools.product(*(d.grid_values() for d in dims)):
        params.update(zip(names, combo, strict=True))
        satisfied = True
        for i, c in indexed:  # no short cut: `ever` names the culprits at no extra pass
            if c.holds(params):
                ever[i] = True
            else:
                satisfied = False
        if satisfied:
            return None
    return ever


def _culprits(constraints: Sequence[Constraint], ever: list[bool]) -> str:
    """Which constraints are false on their own, for the error message."""
    never = [c for c, e in zip(constraints, ever, strict=True) if not e]
    if never:
        return "; never true on its own: " + ", ".join(f"{c.field} {c.text!r}" for c in never)
    together = ", ".join(f"{c.field} {c.text!r}" for c in constraints)
    return f"; each holds somewhere, but never all together: {together}"

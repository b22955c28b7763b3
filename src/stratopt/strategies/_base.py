"""The Strategy base class."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from stratopt._suggest import did_you_mean
from stratopt.data import Bars
from stratopt.engine import eval_signals
from stratopt.errors import InfeasibleError, StrategyError
from stratopt.strategies._indicators import IndicatorCache
from stratopt.strategies._params import Param
from stratopt.strategies._rules import Rule, compile_rules, indicators_of

__all__ = ["Strategy", "infeasible", "validated"]


class Strategy:
    """A trading rule with declared parameters.

    Declare parameters as class attributes (`fast = IntParam(10, low=2)`), then either

    * return signal `rules(p)` over named indicators — the fast path: the engine
      evaluates the rules inside its compiled loop and every distinct indicator is
      computed once per data series, however many candidates use it; or
    * override `signals(bars, p, cache)` to return one int8 `Signal` code per bar,
      computed with numpy from data up to each bar (never later bars).

    `p` is a plain dict of validated parameter values.
    """

    name: ClassVar[str] = ""
    parameters: ClassVar[dict[str, Param]] = {}
    # True when `rules(p)` passes each number parameter, unchanged, into indicator
    # arguments, rule levels or shifts, and the rules' shape depends on the choice and
    # bool parameters alone: `evaluate_many` then traces the rules once per choice and
    # fills in all candidates' numbers as arrays. A subclass that defines its own
    # `rules` must say so again.
    vectorized: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        params: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            for key, value in vars(klass).items():
                if isinstance(value, Param):
                    params[key] = value
        cls.parameters = params
        if "rules" in vars(cls) and "vectorized" not in vars(cls):
            cls.vectorized = False
        if not cls.name:
            cls.name = cls.__name__

    def resolve(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults filled in, values type-checked, then `validate` called.

        Raises:
            StrategyError: an unknown parameter (with a suggestion) or a bad value.
        """
        given = dict(params or {})
        for key in given:
            if key not in self.parameters:
                more = did_you_mean(key, self.parameters)
                known = ", ".join(self.parameters) or "none"
                raise StrategyError(
                    f"strategy {self.name!r} has no parameter {key!r}{more} (known: {known})"
                )
        out = {
            key: param.coerce(key, given.get(key, param.default))
            for key, param in self.parameters.items()
        }
        return validated(self, out)

    def validate(self, p: dict[str, Any]) -> None:
        """Check relations between parameters; raise StrategyError naming them."""

    def rules(self, p: dict[str, Any]) -> Sequence[Rule]:
        """Signal rules for parameters `p` (the compiled path)."""
        raise NotImplementedError

    @property
    def uses_rules(self) -> bool:
        """True when the strategy defines `rules` (and can run fully compiled)."""
        return type(self).rules is not Strategy.rules

    def signals(self, bars: Bars, p: dict[str, Any], cache: IndicatorCache) -> np.ndarray:
        """int8[n] signal codes for every bar (default: evaluate `rules`)."""
        rules = self.rules(p)
        keys = indicators_of(rules)
        ind = np.stack([cache.get(k) for k in keys]) if keys else np.zeros((1, len(bars)))
        table, levels = compile_rules(rules, keys.index)
        return eval_signals(ind, table, levels, len(bars))

    def __repr__(self) -> str:
        return f"<Strategy {self.name}>"


def validated(strat: Strategy, p: dict[str, Any]) -> dict[str, Any]:
    """`p` (coerced parameters) after `strat.validate`; its StrategyError or
    ValueError raised as InfeasibleError (the strategy's own rule, not a bug)."""
    try:
        strat.validate(p)
    except Exception as exc:
        err = infeasible(exc)
        if err is exc:
            raise
        raise err from None
    return p


def infeasible(exc: Exception) -> Exception:
    """What `validated` raises for `exc` raised by `validate`: a StrategyError or
    ValueError as InfeasibleError, anything else as it is."""
    if isinstance(exc, (StrategyError, ValueError)) and not isinstance(exc, InfeasibleError):
        return InfeasibleError(str(exc))
    return exc

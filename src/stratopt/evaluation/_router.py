"""Where each searched parameter goes: the strategy, the backtest settings or the data.

Space names route by their first part: `backtest.x` / `risk.x` set the backtest
setting `x`, `data.x` a data option (`timeframe`, `start`, `end`), `strategy.x` and
bare names a strategy parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stratopt._suggest import did_you_mean
from stratopt.config import StudyConfig
from stratopt.engine import ExecSettings
from stratopt.errors import ConfigError, StrategyError
from stratopt.strategies import Strategy

__all__ = ["Candidate", "Router"]

_BACKTEST_PREFIXES = ("backtest", "risk")
_DATA_FIELDS = ("timeframe", "start", "end")


@dataclass(slots=True)  # not frozen: made for every candidate, and never changed
class Candidate:
    """One parameter set, split by destination."""

    params: dict[str, Any]
    strategy_params: dict[str, Any]
    settings: ExecSettings
    data: tuple[tuple[str, Any], ...] = field(default=())


class Router:
    """Checks space names once, then splits each candidate's parameters.

    `strategy`: the study's strategy, or None for a study that names an external
    evaluator; its parameters are then `parameters` (the names it declares; None: any
    name), and neither backtest settings nor data options can be searched.
    """

    def __init__(
        self,
        study: StudyConfig,
        strategy: Strategy | None,
        names: Iterable[str],
        *,
        parameters: Iterable[str] | None = None,
    ) -> None:
        self.study = study
        self.strategy = strategy
        self.names = tuple(names)
        self.parameters = None if parameters is None else tuple(parameters)
        # the settings of every candidate that searches no backtest setting (frozen)
        self._settings = study.backtest.to_settings()
        self._places: dict[str, tuple[int, str]] = {}  # `_place` of each name routed
        if strategy is None:
            self._check_external()
            return
        for name in self.names:
            self._check(name)
        for name, value in study.params.items():
            param = strategy.parameters.get(name)
            if param is None:
                raise ConfigError(
                    f"params.{name}: strategy {strategy.name!r} has no such parameter"
                    f"{did_you_mean(name, strategy.parameters)} ({_known(strategy)})"
                )
            try:
                param.coerce(name, value)
            except StrategyError as exc:
                raise ConfigError(f"params.{name}: {exc}") from None

    def _check_external(self) -> None:
        """Names of a study whose candidates an external evaluator runs."""
        known = self.parameters
        for section, name in [
            *(("space", n) for n in self.names),
            *(("params", n) for n in self.study.params),
        ]:
            head, _, rest = name.partition(".")
            if rest and head in (*_BACKTEST_PREFIXES, "data", "strategy"):
                raise ConfigError(
                    f"{section}.{name}: the study runs an external evaluator; only its own "
                    "parameters can be set or searched (stratopt's backtest settings and "
                    "data options do not reach it)"
                )
            if known is not None and name not in known:
                target = self.study.evaluator.target if self.study.evaluator else "the evaluator"
                raise ConfigError(
                    f"{section}.{name}: {target} has no parameter {name!r}"
                    f"{did_you_mean(name, known)}"
                    f" (its parameters: {', '.join(known) or 'none'})"
                )

    def _check(self, name: str) -> None:
        head, _, rest = name.partition(".")
        if head in _BACKTEST_PREFIXES and rest:
            known = ExecSettings.field_names()
            if rest not in known:
                hint = did_you_mean(rest, known)
                raise ConfigError(f"space.{name}: unknown backtest setting{hint}")
        elif head == "data" and rest:
            if rest not in _DATA_FIELDS:
                raise ConfigError(f"space.{name}: only {list(_DATA_FIELDS)} can be searched")
        else:
            pname = rest if head == "strategy" and rest else name
            assert self.strategy is not None
            if pname not in self.strategy.parameters:
                known = tuple(self.strategy.parameters)
                raise ConfigError(
                    f"space.{name}: strategy {self.strategy.name!r} has no parameter "
                    f"{pname!r}{did_you_mean(pname, known)} ({_known(self.strategy)})"
                )

    @property
    def settings(self) -> ExecSettings:
        """The settings of every candidate that searches no backtest setting."""
        return self._settings

    def strategy_params_all(
        self, params: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]] | None:
        """Each candidate's ``route(p).strategy_params`` when every name in `params` is a
        bare strategy parameter (so each candidate runs with `settings` on the study's
        data), else None: a batch of a plain sweep routed at once."""
        places = self._places
        for name in set().union(*params):
            place = places.get(name)
            if place is None:
                place = places[name] = _place(name)
            if place[0] != _STRATEGY or place[1] != name:
                return None
        base = self.study.params
        return [{**base, **p} for p in params]

    def route(self, params: Mapping[str, Any]) -> Candidate:
        """Split `params`; invalid backtest values raise ConfigError (the candidate fails)."""
        strategy_params = dict(self.study.params)
        settings: dict[str, Any] = {}
        data: dict[str, Any] = {}
        places = self._places
        for name, value in params.items():
            place = places.get(name)
            if place is None:
                place = places[name] = _place(name)
            dest, key = place
            if dest == _STRATEGY:
                strategy_params[key] = value
            elif dest == _SETTINGS:
                settings[key] = value
            else:
                data[key] = value
        return Candidate(
            params=dict(params),
            strategy_params=strategy_params,
            settings=self.study.backtest.to_settings(**settings) if settings else self._settings,
            data=tuple(sorted(data.items())),
        )


_STRATEGY, _SETTINGS, _DATA = range(3)


def _place(name: str) -> tuple[int, str]:
    """Where a parameter goes (`_STRATEGY`, `_SETTINGS`, `_DATA`) and under which name."""
    head, _, rest = name.partition(".")
    if head in _BACKTEST_PREFIXES and rest:
        return _SETTINGS, rest
    if head == "data" and rest:
        return _DATA, rest
    return _STRATEGY, rest if head == "strategy" and rest else name


def _known(strategy: Strategy) -> str:
    """The strategy's parameters, for an error about one it does not have."""
    names = ", ".join(strategy.parameters) or "none"
    return f"its parameters: {names}; `stratopt strategies NAME` describes a built-in"

"""Strategies: the Strategy base, parameters, indicators, rules and the built-ins."""

from __future__ import annotations

from stratopt.strategies._base import Strategy
from stratopt.strategies._builtin import (
    BollingerReversion,
    DonchianBreakout,
    EmaCross,
    Macd,
    RsiReversion,
    SmaCross,
)
from stratopt.strategies._grid import GRID_MODES, GridStrategy, HedgeGrid
from stratopt.strategies._indicators import (
    Indicator,
    IndicatorCache,
    adx,
    atr,
    bollinger,
    ema,
    highest,
    lowest,
    macd,
    rsi,
    sma,
    source,
    stdev,
)
from stratopt.strategies._params import BoolParam, ChoiceParam, FloatParam, IntParam, Param
from stratopt.strategies._plan import RulePlans, describe_error, plan_candidates
from stratopt.strategies._registry import (
    BUILTIN_STRATEGIES,
    get_strategy,
    load_reference,
    reference_file,
)
from stratopt.strategies._rules import (
    MAX_RULES,
    Rule,
    above,
    below,
    compile_rules,
    crosses_above,
    crosses_below,
    indicators_of,
    on,
)
from stratopt.strategies._sma_first import run_but_tails_after
from stratopt.strategies._template import RuleTemplate, number_columns, trace_template

__all__ = [
    "BUILTIN_STRATEGIES",
    "GRID_MODES",
    "MAX_RULES",
    "BollingerReversion",
    "BoolParam",
    "ChoiceParam",
    "DonchianBreakout",
    "EmaCross",
    "FloatParam",
    "GridStrategy",
    "HedgeGrid",
    "Indicator",
    "IndicatorCache",
    "IntParam",
    "Macd",
    "Param",
    "RsiReversion",
    "Rule",
    "RulePlans",
    "RuleTemplate",
    "SmaCross",
    "Strategy",
    "above",
    "adx",
    "atr",
    "below",
    "bollinger",
    "compile_rules",
    "crosses_above",
    "crosses_below",
    "describe_error",
    "ema",
    "get_strategy",
    "highest",
    "indicators_of",
    "load_reference",
    "lowest",
    "macd",
    "number_columns",
    "on",
    "plan_candidates",
    "reference_file",
    "rsi",
    "run_but_tails_after",
    "sma",
    "source",
    "stdev",
    "trace_template",
]

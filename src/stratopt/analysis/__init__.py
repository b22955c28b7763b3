"""A deep look at a few backtests: trades, drawdowns, distribution, correlation, luck.

Every figure is defined in docs/analysis.md; those the metrics package already defines
(Sharpe, max drawdown, win rate, ...) are the candidate's metrics, and the Monte Carlo
paths are `stratopt.stats`'. The section functions are pure: they take a `Curve` (bar
times, equity, cash, trades, metrics) and return JSON-ready dicts.
"""

from __future__ import annotations

from stratopt.analysis._analyze import (
    SECTIONS,
    SUMMARY_METRICS,
    Analysis,
    AnalysisOptions,
    analyze_results,
    curve_of,
    parse_sections,
)
from stratopt.analysis._breakdown import breakdown_section
from stratopt.analysis._correlation import correlation_section, effective_candidates
from stratopt.analysis._curve import Curve, period_returns, under_water
from stratopt.analysis._distribution import (
    cornish_fisher_cvar,
    cornish_fisher_var,
    distribution_section,
    monthly_grid,
)
from stratopt.analysis._drawdowns import Episode, drawdown_episodes, drawdown_section
from stratopt.analysis._monte_carlo import monte_carlo_section, percentile_rank
from stratopt.analysis._trades import trade_section

__all__ = [
    "SECTIONS",
    "SUMMARY_METRICS",
    "Analysis",
    "AnalysisOptions",
    "Curve",
    "Episode",
    "analyze_results",
    "breakdown_section",
    "cornish_fisher_cvar",
    "cornish_fisher_var",
    "correlation_section",
    "curve_of",
    "distribution_section",
    "drawdown_episodes",
    "drawdown_section",
    "effective_candidates",
    "monte_carlo_section",
    "monthly_grid",
    "parse_sections",
    "percentile_rank",
    "period_returns",
    "trade_section",
    "under_water",
]

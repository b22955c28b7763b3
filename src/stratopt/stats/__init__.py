"""Overfitting statistics and Monte Carlo: how likely is the winner of a search a fluke?

Sharpe ratios are **per period** and kurtosis is **raw** (3 for normal returns)
everywhere in this package unless a name says otherwise; docs/validation.md gives each
formula, its units and its paper. `stratopt.operations.study_statistics` computes all
of them for a finished study from its own trials.

Example:
    >>> from stratopt.stats import deflated_sharpe_ratio
    >>> # Bailey & López de Prado (2014): annualized SR 2.5 on 1250 daily returns,
    >>> # best of 100 trials whose annualized Sharpe ratios have variance 0.5.
    >>> round(deflated_sharpe_ratio(2.5 / 250**0.5, 1250, n_trials=100,
    ...       trials_variance=0.5 / 250, skew=-3, kurtosis=10), 4)
    0.9004
"""

from __future__ import annotations

from typing import Any

from stratopt._moved import forward
from stratopt.stats._bootstrap import BootstrapMethod, bootstrap_indices
from stratopt.stats._matrix import (
    SELECTION_METRICS,
    mean_return,
    sharpe_from_sums,
    sharpe_ratio,
    sortino_ratio,
    total_return,
)
from stratopt.stats._monte_carlo import (
    BootstrapFan,
    MonteCarloResult,
    bootstrap_fan,
    bootstrap_returns,
    reshuffle_trades,
)
from stratopt.stats._pbo import PBOResult, probability_of_backtest_overfitting
from stratopt.stats._sharpe import (
    ReturnMoments,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    minimum_backtest_length,
    minimum_track_record_length,
    probabilistic_sharpe_ratio,
    sample_moments,
)
from stratopt.stats._spa import (
    SPAResult,
    automatic_block_size,
    import_block_length,
    long_run_variance,
    spa_label,
    spa_name,
    superior_predictive_ability,
)

# study_statistics re-runs a study's candidates (it needs the study and its data), so it
# moved to stratopt.operations; the old name forwards there with a FutureWarning.
_MOVED = {"study_statistics": "stratopt.operations"}

__all__ = [
    "SELECTION_METRICS",
    "BootstrapFan",
    "BootstrapMethod",
    "MonteCarloResult",
    "PBOResult",
    "ReturnMoments",
    "SPAResult",
    "automatic_block_size",
    "import_block_length",
    "bootstrap_fan",
    "bootstrap_indices",
    "bootstrap_returns",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "long_run_variance",
    "mean_return",
    "minimum_backtest_length",
    "minimum_track_record_length",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "reshuffle_trades",
    "sample_moments",
    "sharpe_from_sums",
    "sharpe_ratio",
    "sortino_ratio",
    "spa_label",
    "spa_name",
    "superior_predictive_ability",
    "total_return",
    *sorted(_MOVED),
]


def __getattr__(name: str) -> Any:
    return forward(__name__, _MOVED, name)

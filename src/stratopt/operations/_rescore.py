"""One scale for ranking: re-score every trial on the objective's final bounds.

A weighted score with adaptive normalization stores each trial's value on the bounds
that were current when it finished; values from different refresh windows are on
different scales, and ranking them mixes the scales. Before a study's trials are
ranked for anything that selects (the best config, the holdout's top, the statistics,
a walk-forward window's choice) they are re-scored from their stored metrics on the
final bounds. The value Optuna saw stays in `value`; the final score is `score_final`
beside it, and the rank follows it.
"""

from __future__ import annotations

import math

import pandas as pd

from stratopt.search import Objective

__all__ = ["SCORE_FINAL", "rescore"]

SCORE_FINAL = "score_final"


def rescore(ranked: pd.DataFrame, objective: Objective) -> pd.DataFrame:
    """`ranked` (`ranked_frame`) with `score_final` and re-ranked by it when the
    objective's bounds drift (`Objective.drifts`); otherwise `ranked` itself.

    Completed trials come first, best final score first (then trial number), then the
    other trials in their previous order.
    """
    if ranked.empty or not objective.drifts or "state" not in ranked:
        return ranked
    scores = [
        _score(row, objective) if state == "complete" else math.nan
        for state, (_, row) in zip(ranked["state"], ranked.iterrows(), strict=True)
    ]
    out = ranked.assign(**{SCORE_FINAL: scores})
    done = (out["state"] == "complete") & out[SCORE_FINAL].notna()
    best_first = out[done].sort_values(
        [SCORE_FINAL, "trial"], ascending=[False, True], kind="stable"
    )
    out = pd.concat([best_first, out[~done]], ignore_index=True)
    out["rank"] = range(1, len(out) + 1)
    return out


def _score(row: pd.Series, objective: Objective) -> float:
    metrics = {m: float(row.get(f"metrics.{m}", math.nan)) for m in objective.metric_ids}
    values = objective.values(metrics).values
    return math.nan if values is None else float(values[0])

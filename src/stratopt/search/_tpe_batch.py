"""A TPE whose cost per trial does not grow with the study (`method: tpe_batch`).

Optuna's `TPESampler` rebuilds its Parzen estimators on every ask: it walks every
finished trial in Python (split into "below" and "above", each trial's parameters
converted one by one) and evaluates its candidates against a mixture with one kernel
per trial. After a few thousand trials that is most of a study's time (optuna#2172).

`BatchTPESampler` is the same estimator with three changes:

* **One fit per batch.** The estimators are rebuilt only when trials have finished
  since the last fit (stratopt's runner asks a whole batch before it tells any);
  the asks of one batch draw from the same fit, each the best of its own
  `n_ei_candidates` draws (sampled and scored for several asks in one call). Instead
  of Optuna's constant liar (running trials counted as bad ones), an ask skips the
  candidates that earlier asks of the same fit already took, so a batch does not
  repeat itself.
* **Trials converted once.** Each finished trial's values, score and parameters go
  into arrays the first time the sampler sees it; splitting is a numpy sort.
* **A bounded "above" mixture.** When more than `max_above` trials are above the
  split, an evenly spaced subset of them (in trial order) stands for the rest, each
  kernel's weight scaled so the subset carries the whole group's weight. The "below"
  group is at most 25 trials, as in Optuna.

Storage, trial records and the seeded determinism are Optuna's: the same study and
seed give the same trials. Multi-objective studies use Optuna's own per-ask path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import TPESampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

__all__ = ["BatchTPESampler"]

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)

# Asks whose draws are sampled and scored together.
_BLOCK = 8

# Order of the groups when "below" is filled: complete, then pruned, then infeasible.
_COMPLETE, _PRUNED, _INFEASIBLE = 0, 1, 2


@dataclass
class _Fit:
    """The estimators of one fit and the candidates its asks already took."""

    below: Any
    above: Any
    taken: set[tuple[float, ...]] = field(default_factory=set)
    # candidates drawn for the next asks, each (draws, acquisition values)
    pending: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)


class BatchTPESampler(TPESampler):
    """Multivariate TPE fitted once per batch, on trials converted once (see module)."""

    def __init__(
        self,
        *,
        seed: int | None = None,
        n_startup_trials: int = 10,
        n_ei_candidates: int = 24,
        max_above: int = 1000,
    ) -> None:
        super().__init__(
            seed=seed,
            n_startup_trials=n_startup_trials,
            n_ei_candidates=n_ei_candidates,
            multivariate=True,
            constant_liar=False,
        )
        self._max_above = max_above
        self._seen: dict[int, int] = {}  # trial number -> its row in the arrays below
        self._kind: list[int] = []  # _COMPLETE, _PRUNED or _INFEASIBLE
        self._score: list[float] = []  # sort key within the group, smaller is better
        self._internal: list[dict[str, float]] = []  # params in Optuna's internal repr
        self._fit_key: tuple[Any, ...] | None = None
        self._fit: _Fit | None = None

    def _sample(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if study._is_multi_objective():
            return super()._sample(study, trial, search_space)
        finished = study._get_trials(deepcopy=False, states=_FINISHED, use_cache=True)
        key = (len(finished), tuple(search_space))
        if key != self._fit_key or self._fit is None:
            self._fit = self._fit_estimators(study, finished, search_space)
            self._fit_key = key
        return self._draw(self._fit, search_space)

    def _fit_estimators(
        self, study: Study, finished: Sequence[FrozenTrial], space: dict[str, BaseDistribution]
    ) -> _Fit:
        self._convert(study, finished)
        numbers = np.fromiter((t.number for t in finished), dtype=np.int64, count=len(finished))
        rows = np.fromiter(
            (self._seen[t.number] for t in finished), dtype=np.int64, count=len(finished)
        )
        group = np.asarray(self._kind, dtype=np.int64)[rows]
        score = np.asarray(self._score, dtype=np.float64)[rows]
        n = len(finished)
        gamma = self._gamma(n) if self._gamma else min(math.ceil(0.1 * n), 25)
        # Optuna's `_split_trials`: the best complete trials, then pruned ones, then the
        # least infeasible, up to gamma; the stable sort keeps trial order among ties.
        order = np.lexsort((score, group))
        below_idx = order[:gamma]
        above_idx = order[gamma:]
        below_idx = below_idx[np.argsort(numbers[below_idx], kind="stable")]
        above_idx = above_idx[np.argsort(numbers[above_idx], kind="stable")]
        below = self._estimator(rows[below_idx], space, None)
        weights = None
        if len(above_idx) > self._max_above:
            full = np.asarray(self._parzen_estimator_parameters.weights(len(above_idx)), float)
            pick = np.unique(
                np.linspace(0, len(above_idx) - 1, self._max_above).round().astype(int)
            )
            weights = full[pick] * (full.sum() / full[pick].sum())
            above_idx = above_idx[pick]
        above = self._estimator(rows[above_idx], space, weights)
        return _Fit(below, above)

    def _estimator(
        self, rows: np.ndarray, space: dict[str, BaseDistribution], weights: np.ndarray | None
    ) -> Any:
        # Optuna leaves out trials without every parameter of the space (its weights too)
        keep = [i for i, r in enumerate(rows) if space.keys() <= self._internal[r].keys()]
        observations = {
            name: np.asarray([self._internal[rows[i]][name] for i in keep], dtype=float)
            for name in space
        }
        if weights is not None:
            weights = weights[keep]
        return self._parzen_estimator_cls(
            observations, space, self._parzen_estimator_parameters, weights
        )

    def _convert(self, study: Study, finished: Sequence[FrozenTrial]) -> None:
        """Append the trials not seen yet to the arrays (their group, score and params)."""
        maximize = study.direction == StudyDirection.MAXIMIZE
        for t in finished:
            if t.number in self._seen:
                continue
            self._seen[t.number] = len(self._kind)
            infeasible = sum(v for v in t.constraints.values() if v > 0)
            if infeasible > 0:
                self._kind.append(_INFEASIBLE)
                self._score.append(float(infeasible))
            elif t.state == TrialState.COMPLETE:
                value = float(t.value)  # type: ignore[arg-type]
                self._kind.append(_COMPLETE)
                self._score.append(-value if maximize else value)
            else:
                self._kind.append(_PRUNED)
                self._score.append(_pruned_score(t, maximize))
            self._internal.append(
                {k: float(t.distributions[k].to_internal_repr(v)) for k, v in t.params.items()}
            )

    def _draw(self, fit: _Fit, space: dict[str, BaseDistribution]) -> dict[str, Any]:
        """The next ask's candidate: the best of its own `n_ei_candidates` draws that no
        earlier ask of this fit took. The draws of `_BLOCK` asks are sampled and scored
        in one call (one mixture evaluation instead of `_BLOCK`)."""
        if not fit.pending:
            n = self._n_ei_candidates
            samples = fit.below.sample(self._rng.rng, n * _BLOCK)
            acq = fit.below.log_pdf(samples) - fit.above.log_pdf(samples)
            columns = np.column_stack([samples[name] for name in space])
            fit.pending = [(columns[i : i + n], acq[i : i + n]) for i in range(0, n * _BLOCK, n)]
        columns, acq = fit.pending.pop(0)
        best = None
        for i in np.argsort(-acq, kind="stable"):
            if tuple(columns[i].tolist()) not in fit.taken:
                best = i
                break
        if best is None:  # every candidate already taken: the best one again
            best = int(np.argmax(acq))
        fit.taken.add(tuple(columns[best].tolist()))
        return {
            name: space[name].to_external_repr(columns[best, j]) for j, name in enumerate(space)
        }


def _pruned_score(trial: FrozenTrial, maximize: bool) -> float:
    """Optuna's order of pruned trials when they have no intermediate values: all equal.

    stratopt's pruned trials (constraints, requirements, duplicates) report none, so they
    keep trial order; one with intermediate values sorts by its last one.
    """
    if not trial.intermediate_values:
        return math.inf
    _step, value = max(trial.intermediate_values.items())
    if math.isnan(value):
        return math.inf
    return -value if maximize else value

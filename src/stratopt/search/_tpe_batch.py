"""A TPE whose cost per trial does not grow with the study (`method: tpe`).

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
  candidates that earlier asks of the same fit took or that earlier trials tried, so
  a batch does not repeat itself and few asks are duplicates (in a discrete space
  Optuna's TPE keeps proposing the points it already ran, which stratopt prunes).
* **Trials converted once.** Each finished trial's values, score and parameters go
  into arrays the first time the sampler sees it; splitting is a numpy sort. Between
  tells the study is not read at all (Optuna reads every trial on every ask, twice).
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

from stratopt.search._compiled_truncnorm import install_on_first_use

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


class _Trials:
    """The finished trials a sampler has seen, as growable arrays (one row per trial, in
    the order seen): number, group, score and each parameter's internal value (NaN:
    the trial has no such parameter)."""

    def __init__(self) -> None:
        self.n = 0
        self.seen: set[int] = set()
        self.number = np.empty(64, dtype=np.int64)
        self.kind = np.empty(64, dtype=np.int64)
        self.score = np.empty(64)
        self.values: dict[str, np.ndarray] = {}
        # the parameter sets already tried, as {param: internal value} items
        self.points: set[frozenset[tuple[str, float]]] = set()

    def add(self, trial: FrozenTrial, kind: int, score: float) -> None:
        if self.n == len(self.number):
            self.number = np.resize(self.number, 2 * self.n)
            self.kind = np.resize(self.kind, 2 * self.n)
            self.score = np.resize(self.score, 2 * self.n)
            self.values = {k: np.resize(v, 2 * self.n) for k, v in self.values.items()}
        i = self.n
        self.number[i], self.kind[i], self.score[i] = trial.number, kind, score
        for name in trial.params.keys() - self.values.keys():
            self.values[name] = np.full(len(self.number), np.nan)
        for name, column in self.values.items():
            value = trial.params.get(name)
            column[i] = (
                np.nan if value is None else trial.distributions[name].to_internal_repr(value)
            )
        self.points.add(
            frozenset(
                (name, float(trial.distributions[name].to_internal_repr(v)))
                for name, v in trial.params.items()
            )
        )
        self.seen.add(trial.number)
        self.n += 1


class BatchTPESampler(TPESampler):
    """Multivariate TPE fitted once per batch, on trials converted once (see module).

    It refits when trials were told since its last fit (`after_trial`), or on its first
    ask in a process; trials other processes finish are seen at the next refit.
    """

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
        self._trials = _Trials()
        self._settled = 0  # the study's trials before this one are seen or failed
        self._fit: _Fit | None = None
        self._fit_space: tuple[str, ...] = ()
        self._told = True  # trials finished since the last fit (or none made yet)
        self._space: dict[str, BaseDistribution] | None = None
        install_on_first_use()  # log Φ compiled at the first fit, not now

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        # Optuna's intersection reads every trial on each ask; it only changes when
        # trials finish
        if self._space is None or self._told:
            self._space = super().infer_relative_search_space(study, trial)
        return self._space

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._told = True
        super().after_trial(study, trial, state, values)

    def _sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if search_space == {} or study._is_multi_objective():
            return super()._sample_relative(study, trial, search_space)
        return self._sample(study, trial, search_space)

    def _sample(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if study._is_multi_objective():
            return super()._sample(study, trial, search_space)
        if self._fit is None or self._told or self._fit_space != tuple(search_space):
            # every trial, unfiltered: the cached list itself, where a filter by state
            # would walk the whole study on every fit
            self._convert(study, study._get_trials(deepcopy=False, use_cache=True))
            if self._trials.n < self._n_startup_trials:
                return {}
            self._fit = self._fit_estimators(search_space)
            self._fit_space = tuple(search_space)
            self._told = False
        return self._draw(self._fit, search_space)

    def _fit_estimators(self, space: dict[str, BaseDistribution]) -> _Fit:
        t = self._trials
        n = t.n
        numbers, group, score = t.number[:n], t.kind[:n], t.score[:n]
        gamma = self._gamma(n) if self._gamma else min(math.ceil(0.1 * n), 25)
        # Optuna's `_split_trials`: the best complete trials, then pruned ones, then the
        # least infeasible, up to gamma; ties in trial order. Each side in trial order.
        order = np.lexsort((numbers, score, group))
        below_idx = order[:gamma]
        above_idx = order[gamma:]
        below_idx = below_idx[np.argsort(numbers[below_idx], kind="stable")]
        above_idx = above_idx[np.argsort(numbers[above_idx], kind="stable")]
        below = self._estimator(below_idx, space, None)
        weights = None
        if len(above_idx) > self._max_above:
            full = np.asarray(self._parzen_estimator_parameters.weights(len(above_idx)), float)
            pick = np.unique(
                np.linspace(0, len(above_idx) - 1, self._max_above).round().astype(int)
            )
            weights = full[pick] * (full.sum() / full[pick].sum())
            above_idx = above_idx[pick]
        above = self._estimator(above_idx, space, weights)
        return _Fit(below, above)

    def _estimator(
        self, rows: np.ndarray, space: dict[str, BaseDistribution], weights: np.ndarray | None
    ) -> Any:
        values = self._trials.values
        columns = {
            name: values[name][rows] if name in values else np.full(len(rows), np.nan)
            for name in space
        }
        # Optuna leaves out trials without every parameter of the space (its weights too)
        keep = np.ones(len(rows), dtype=np.bool_)
        for column in columns.values():
            keep &= ~np.isnan(column)
        observations = {name: column[keep] for name, column in columns.items()}
        if weights is not None:
            weights = weights[keep]
        return self._parzen_estimator_cls(
            observations, space, self._parzen_estimator_parameters, weights
        )

    def _convert(self, study: Study, trials: Sequence[FrozenTrial]) -> None:
        """Add the finished trials not seen yet. `trials` is the study's, in trial order;
        those before `self._settled` are all seen or failed, so only the rest is read
        (the last batches, and any trial still running from before them)."""
        maximize = study.direction == StudyDirection.MAXIMIZE
        seen = self._trials.seen
        for t in trials[self._settled :]:
            if t.number in seen or t.state not in _FINISHED:
                continue
            infeasible = sum(v for v in t.constraints.values() if v > 0)
            if infeasible > 0:
                self._trials.add(t, _INFEASIBLE, float(infeasible))
            elif t.state == TrialState.COMPLETE:
                value = float(t.value)  # type: ignore[arg-type]
                self._trials.add(t, _COMPLETE, -value if maximize else value)
            else:
                self._trials.add(t, _PRUNED, _pruned_score(t, maximize))
        settled = self._settled
        while settled < len(trials) and (
            trials[settled].number in seen or trials[settled].state == TrialState.FAIL
        ):
            settled += 1
        self._settled = settled

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
        names = list(space)
        tried = self._trials.points
        best = None
        for i in np.argsort(-acq, kind="stable"):
            point = tuple(columns[i].tolist())
            if point not in fit.taken and frozenset(zip(names, point, strict=True)) not in tried:
                best = i
                break
        if best is None:  # every candidate already taken or tried: the best one again
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

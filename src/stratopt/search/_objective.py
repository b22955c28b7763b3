"""What a candidate is scored by: one metric, a weighted score, or a Pareto front.

Forms of the study file's ``objective:`` (see `parse_objective`):

* ``sharpe`` or ``{metric: sharpe, direction: maximize}``: one metric, its direction
  from the registry unless given. ``+inf``/``-inf`` are legitimate values (e.g. a profit
  factor without losing trades) and go to Optuna as they are; only a NaN or missing
  metric makes a candidate unscorable. The same holds for each metric of a Pareto front.
* ``{weights: {sharpe: 0.3, max_drawdown: -0.2}, normalize: adaptive, refresh: 20,
  percentiles: [5, 95], bounds: {...}}``: one score, maximized (`WeightedObjective`).
* ``{maximize: [sharpe], minimize: [max_drawdown]}``: several metrics, a Pareto front.

Weighted score. A metric value ``x`` becomes a *goodness* ``g`` in ``[0, 1]``, 1 always
good: ``g = (clip(x, lo, hi) - lo) / (hi - lo)`` if the registry says higher is better,
``1 - that`` if lower is better; infinite values clip to the bounds. The sign of a weight
never changes which way a metric is good, only how its term is written:

* ``w > 0``, a bonus: ``w * g``;
* ``w < 0``, a penalty: ``w * (1 - g)``, ``|w|`` times the badness. Allowed only on
  lower-is-better metrics (``max_drawdown: -0.2``: a higher drawdown lowers the score);
  on a higher-is-better metric it would read "prefer lower", so it is rejected.

``max_drawdown: 0.2`` and ``max_drawdown: -0.2`` rank candidates identically (the terms
differ by the constant 0.2). The score is the sum of the terms; a better value of any
metric, everything else fixed, never lowers it.

Bounds ``(lo, hi)``. ``adaptive`` (default): `DEFAULT_BOUNDS` or the study file's
``bounds:`` until, every ``refresh`` completed trials, they are replaced by the given
percentiles of the finite values observed so far (when those differ; else the previous
bounds stay). Between refreshes they are fixed, so scores in one window are comparable.
``fixed``: the initial bounds for the whole study. ``none``: no bounds, ``g = x`` or
``g = -x``, and the penalty is ``w * (0 - g)`` (``-0.2 * max_drawdown`` literally); a
weighted infinite metric then makes the candidate unscorable. A metric with no default bounds
(``trades``, the ``bars`` and ``currency`` metrics) needs ``bounds:`` in ``fixed`` mode;
in ``adaptive`` mode its goodness is 0.5 until the first refresh gives it bounds.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

import numpy as np

from stratopt._suggest import did_you_mean
from stratopt.errors import ConfigError
from stratopt.metrics import get_metric

__all__ = [
    "DEFAULT_BOUNDS",
    "Direction",
    "MetricObjective",
    "Normalize",
    "Objective",
    "ObjectiveValues",
    "ScoreNormalizer",
    "WeightedObjective",
    "parse_objective",
]

Direction = Literal["maximize", "minimize"]
Normalize = Literal["adaptive", "fixed", "none"]
Bounds = tuple[float, float]

# fmt: off
DEFAULT_BOUNDS: dict[str, Bounds] = {
    # Initial normalization bounds (raw metric units). Missing: trades, bars, currency.
    "total_return": (-0.5, 1.0),  "cagr": (-0.3, 0.5),         "volatility": (0.0, 0.6),
    "sharpe": (-1.0, 3.0),        "sortino": (-1.0, 4.0),      "calmar": (-1.0, 3.0),
    "max_drawdown": (0.0, 0.5),   "win_rate": (0.0, 1.0),      "profit_factor": (0.0, 3.0),
    "avg_trade": (-0.02, 0.02),   "sqn": (-2.0, 5.0),          "exposure": (0.0, 1.0),
    "return_on_risk": (-1.0, 2.0), "best_trade": (0.0, 0.3),   "worst_trade": (-0.3, 0.0),
    "avg_win": (0.0, 0.1),        "avg_loss": (-0.1, 0.0),     "skew": (-2.0, 2.0),
    "kurtosis": (0.0, 10.0),      "var_95": (-0.05, 0.0),      "cvar_95": (-0.08, 0.0),
    "ulcer_index": (0.0, 0.3),    "omega": (0.5, 2.0),         "tail_ratio": (0.5, 2.0),
}
# fmt: on

_STATE_VERSION = 1


def _num(x: float) -> str:
    return format(x, ".6g")


@dataclass(frozen=True)
class ObjectiveValues:
    """What `Objective.values` gives for one candidate.

    Attributes:
        values: one value per direction, or None when the candidate cannot be scored (a
            needed metric missing or NaN, or a non-finite weighted score). The runner
            marks such a candidate failed; it never ranks above a scored one.
        components: weighted score only: ``"<id>.norm"`` (the goodness) and
            ``"<id>.weighted"`` (the term) per metric; the terms sum to the score.
        reason: why ``values`` is None, e.g. ``"sharpe is NaN"``.
    """

    values: tuple[float, ...] | None
    components: dict[str, float] = field(default_factory=dict)
    reason: str | None = None


class ScoreNormalizer:
    """Normalization bounds of a weighted score, adapted from completed trials.

    Deterministic: the same observations in the same order give the same bounds.

    Args:
        initial: ``{metric: (lo, hi) or None}``, the bounds before the first refresh
            (None: goodness 0.5 until then).
        percentiles: the lower and upper percentile, ``0 <= lo < hi <= 100``.
        refresh: recompute the bounds after every ``refresh`` observations; None keeps
            the initial bounds for good (``normalize: fixed``).
    """

    def __init__(
        self,
        initial: Mapping[str, Bounds | None],
        *,
        percentiles: Bounds = (5.0, 95.0),
        refresh: int | None = 20,
    ) -> None:
        self.initial: dict[str, Bounds | None] = dict(initial)
        self.percentiles = percentiles
        self.refresh = refresh
        self.n_observed = 0
        self._history: dict[str, list[float]] = {m: [] for m in self.initial}
        self._bounds: dict[str, Bounds | None] = dict(self.initial)

    def observe(self, metrics: Mapping[str, float]) -> None:
        """Record one completed trial; refresh the bounds if it is the N-th since the last.

        Non-finite (NaN, infinite) and missing values are not recorded, but the trial
        still counts toward the refresh period. Fixed bounds only count the trials.
        """
        self.n_observed += 1
        if self.refresh is None:
            return
        for m, history in self._history.items():
            v = metrics.get(m)
            if v is not None and math.isfinite(v):
                history.append(float(v))
        if self.refresh is not None and self.n_observed % self.refresh == 0:
            for m, history in self._history.items():
                if len(history) >= 2:
                    lo, hi = np.percentile(np.asarray(history), self.percentiles).tolist()
                    if lo < hi:
                        self._bounds[m] = (lo, hi)

    def bounds(self) -> dict[str, Bounds | None]:
        """The current ``{metric: (lo, hi) or None}``."""
        return dict(self._bounds)

    def goodness(self, metric: str, value: float) -> float:
        """``value`` mapped to ``[0, 1]`` with the current bounds, 1 = good (not NaN)."""
        b = self._bounds[metric]
        if b is None:
            return 0.5
        lo, hi = b
        g = (min(max(value, lo), hi) - lo) / (hi - lo)
        return g if get_metric(metric).higher_is_better else 1.0 - g

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to restore the normalizer, as plain JSON-able data."""
        return {
            "version": _STATE_VERSION,
            "percentiles": list(self.percentiles),
            "refresh": self.refresh,
            "initial": {m: None if b is None else list(b) for m, b in self.initial.items()},
            "n_observed": self.n_observed,
            "history": {m: list(h) for m, h in self._history.items()},
            "bounds": {m: None if b is None else list(b) for m, b in self._bounds.items()},
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ScoreNormalizer:
        """Rebuild a normalizer from `state_dict` output.

        Raises:
            ValueError: the state is not one `state_dict` produced.
        """
        try:
            if state["version"] != _STATE_VERSION:
                raise ValueError(f"unsupported version {state['version']!r}")
            lo, hi = state["percentiles"]
            initial = {m: _opt_bounds(b) for m, b in state["initial"].items()}
            norm = cls(initial, percentiles=(float(lo), float(hi)), refresh=state["refresh"])
            norm.n_observed = int(state["n_observed"])
            norm._history = {m: [float(v) for v in state["history"][m]] for m in initial}
            norm._bounds = {m: _opt_bounds(state["bounds"][m]) for m in initial}
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a ScoreNormalizer state: {exc!r}") from None
        return norm


def _opt_bounds(b: Sequence[float] | None) -> Bounds | None:
    return None if b is None else (float(b[0]), float(b[1]))


class Objective(ABC):
    """Base of the objectives; the runner reads only this interface."""

    @property
    @abstractmethod
    def directions(self) -> tuple[Direction, ...]:
        """One direction per value: 1 for a single metric or a weighted score."""

    @property
    @abstractmethod
    def metric_ids(self) -> tuple[str, ...]:
        """The metrics the objective reads."""

    @property
    def is_multi(self) -> bool:
        """Several values, a Pareto front (NSGA-II) rather than one best."""
        return len(self.directions) > 1

    @property
    def value_names(self) -> tuple[str, ...]:
        """What each value is, for a column header: a metric id, or "score"."""
        return ("score",) * len(self.directions)

    @abstractmethod
    def values(self, metrics: Mapping[str, float]) -> ObjectiveValues:
        """Score one candidate from its ``{metric id: value}``."""

    @abstractmethod
    def describe(self) -> str:
        """One line for the terminal and summary.json."""

    def observe(self, metrics: Mapping[str, float]) -> None:  # noqa: B027
        """Tell the objective about a completed trial (only a weighted score uses it)."""

    @property
    def drifts(self) -> bool:
        """Whether a trial's value depends on when it was scored (adaptive bounds), so
        trials must be re-scored on one final set of bounds before they are ranked."""
        return False

    def state_dict(self) -> dict[str, Any]:
        """The state to persist with the study; empty unless adaptive."""
        return {}

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore `state_dict` output saved with the study.

        Raises:
            ConfigError: the state belongs to a different objective.
        """
        if state:
            raise ConfigError(
                "objective: the study holds the normalization state of a weighted score, "
                f"but the objective is now: {self.describe()}"
            )

    def __str__(self) -> str:
        return self.describe()


@dataclass(frozen=True)
class MetricObjective(Objective):
    """One metric, or several for a Pareto front: ``((id, direction), ...)``."""

    targets: tuple[tuple[str, Direction], ...]

    @property
    def directions(self) -> tuple[Direction, ...]:
        return tuple(d for _, d in self.targets)

    @property
    def metric_ids(self) -> tuple[str, ...]:
        return tuple(m for m, _ in self.targets)

    @property
    def value_names(self) -> tuple[str, ...]:
        return self.metric_ids

    def values(self, metrics: Mapping[str, float]) -> ObjectiveValues:
        out: list[float] = []
        for m, _ in self.targets:  # not `metric_ids`: a tuple made per trial
            v = metrics.get(m)
            if v is None or math.isnan(v):
                return ObjectiveValues(None, reason=f"{m} is {'missing' if v is None else 'NaN'}")
            out.append(float(v))
        return ObjectiveValues(tuple(out))

    def describe(self) -> str:
        text = ", ".join(f"{d} {m}" for m, d in self.targets)
        return f"Pareto front: {text}" if self.is_multi else text


class WeightedObjective(Objective):
    """A weighted sum of normalized metrics, maximized (see the module docstring).

    Args:
        weights: ``{metric id: weight}`` in the order of the study file.
        normalize: ``adaptive``, ``fixed`` or ``none``.
        normalizer: the bounds (None exactly when ``normalize`` is ``none``).
    """

    def __init__(
        self,
        weights: Mapping[str, float],
        *,
        normalize: Normalize = "adaptive",
        normalizer: ScoreNormalizer | None = None,
    ) -> None:
        self.weights = dict(weights)
        self.normalize = normalize
        self.normalizer = normalizer

    @property
    def directions(self) -> tuple[Direction, ...]:
        return ("maximize",)

    @property
    def metric_ids(self) -> tuple[str, ...]:
        return tuple(self.weights)

    def goodness(self, metric: str, value: float) -> float:
        """The normalized value of a metric (``<id>.norm``)."""
        if self.normalizer is None:
            return value if get_metric(metric).higher_is_better else -value
        return self.normalizer.goodness(metric, value)

    def values(self, metrics: Mapping[str, float]) -> ObjectiveValues:
        top = 0.0 if self.normalizer is None else 1.0
        components: dict[str, float] = {}
        terms: list[float] = []
        for m, w in self.weights.items():
            v = metrics.get(m)
            if v is None or math.isnan(v):
                return ObjectiveValues(None, reason=f"{m} is {'missing' if v is None else 'NaN'}")
            g = self.goodness(m, float(v))
            term = 0.0 if w == 0 else w * g if w > 0 else w * (top - g)
            if not math.isfinite(term):  # only without bounds: normalize: none
                return ObjectiveValues(None, reason=f"{m} is {v} (no bounds with normalize: none)")
            components[f"{m}.norm"] = g
            components[f"{m}.weighted"] = term
            terms.append(term)
        try:
            return ObjectiveValues((math.fsum(terms),), components)
        except OverflowError:  # only without bounds: huge raw values
            return ObjectiveValues(None, reason="the score overflows (normalize: none)")

    def observe(self, metrics: Mapping[str, float]) -> None:
        if self.normalizer is not None:
            self.normalizer.observe(metrics)

    @property
    def drifts(self) -> bool:
        return self.normalizer is not None and self.normalizer.refresh is not None

    def bounds(self) -> dict[str, Bounds | None]:
        """The current normalization bounds (empty for ``normalize: none``)."""
        return {} if self.normalizer is None else self.normalizer.bounds()

    def state_dict(self) -> dict[str, Any]:
        norm = self.normalizer
        return {} if norm is None or norm.refresh is None else norm.state_dict()

    def load_state(self, state: Mapping[str, Any]) -> None:
        if self.normalizer is None or self.normalizer.refresh is None or not state:
            super().load_state(state)
            return
        try:
            restored = ScoreNormalizer.from_state(state)
        except ValueError as exc:
            raise ConfigError(f"objective: cannot restore the normalization: {exc}") from None
        mine, theirs = self.normalizer, restored
        settings = (mine.initial, mine.percentiles, mine.refresh)
        if settings != (theirs.initial, theirs.percentiles, theirs.refresh):
            raise ConfigError(
                "objective: the study was started with other normalization settings "
                "(bounds, percentiles or refresh); restore them or start a new study"
            )
        self.normalizer = restored

    def describe(self) -> str:
        parts: list[str] = []
        for m, w in self.weights.items():
            sign = "-" if w < 0 else "+"
            parts.append(f"{sign} {_num(abs(w))}*{m}")
        text = " ".join(parts).removeprefix("+ ")
        norm = self.normalizer
        if norm is None:
            how = "raw values, no normalization"
        elif norm.refresh is None:
            how = "fixed normalization bounds"
        else:
            lo, hi = norm.percentiles
            how = (
                f"adaptive normalization: percentiles {_num(lo)}-{_num(hi)} of completed "
                f"trials, refreshed every {norm.refresh}"
            )
        return f"maximize {text} ({how})"


# ======================================================================================
# Parsing
# ======================================================================================
def _suggest(value: object, choices: Sequence[str]) -> str:
    return did_you_mean(value, choices) or f"; expected one of: {', '.join(choices)}"


def _check_keys(raw: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in raw:
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key {key!r}{_suggest(key, allowed)}")


def _metric(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a metric id, got {value!r}")
    try:
        get_metric(value)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def _low_high(raw: Any, where: str) -> Bounds:
    if isinstance(raw, str) or not isinstance(raw, Sequence) or len(raw) != 2:
        raise ConfigError(f"{where}: expected [low, high], got {raw!r}")
    lo, hi = (_number(v, where) for v in raw)
    if not lo < hi:
        raise ConfigError(f"{where}: low < high must hold, got {list(raw)!r}")
    return lo, hi


def _choice(value: Any, choices: Sequence[str], where: str) -> str:
    if value not in choices:
        raise ConfigError(f"{where}: invalid value {value!r}{_suggest(value, choices)}")
    return str(value)


def _direction(value: Any, where: str) -> Direction:
    return "maximize" if _choice(value, get_args(Direction), where) == "maximize" else "minimize"


def _parse_single(raw: Mapping[str, Any], where: str) -> MetricObjective:
    _check_keys(raw, ("metric", "direction"), where)
    metric = _metric(raw["metric"], f"{where}.metric")
    default = "maximize" if get_metric(metric).higher_is_better else "minimize"
    return MetricObjective(((metric, _direction(raw.get("direction", default), where)),))


def _parse_pareto(raw: Mapping[str, Any], where: str) -> MetricObjective:
    _check_keys(raw, ("maximize", "minimize"), where)
    targets: list[tuple[str, Direction]] = []
    for key, ids in raw.items():
        items = [ids] if isinstance(ids, str) else ids
        if not isinstance(items, Sequence):
            raise ConfigError(f"{where}.{key}: expected a list of metric ids, got {ids!r}")
        for i, item in enumerate(items):
            metric = _metric(item, f"{where}.{key}[{i}]")
            if metric in (m for m, _ in targets):
                raise ConfigError(f"{where}.{key}[{i}]: metric {metric!r} given twice")
            targets.append((metric, _direction(key, where)))
    if not targets:
        raise ConfigError(f"{where}: no metric to maximize or minimize")
    return MetricObjective(tuple(targets))


def _parse_weights(raw: Any, where: str) -> dict[str, float]:
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(f"{where}: expected a non-empty mapping of metric to weight, got {raw!r}")
    weights: dict[str, float] = {}
    for key, value in raw.items():
        metric = _metric(key, f"{where}.{key}")
        w = _number(value, f"{where}.{key}")
        if w < 0 and get_metric(metric).higher_is_better:
            raise ConfigError(
                f"{where}.{key}: a negative weight is a penalty, allowed only on metrics "
                f"where lower is better; higher {metric} is better, give a positive weight "
                f"(got {value!r})"
            )
        weights[metric] = w
    if all(w == 0 for w in weights.values()):
        raise ConfigError(f"{where}: all weights are zero")
    return weights


def _parse_bounds(raw: Any, weights: Mapping[str, float], where: str) -> dict[str, Bounds]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping of metric to [low, high], got {raw!r}")
    for key in raw:
        if _metric(key, f"{where}.{key}") not in weights:
            raise ConfigError(f"{where}.{key}: {key!r} has no weight")
    return {key: _low_high(pair, f"{where}.{key}") for key, pair in raw.items()}


_WEIGHTED_KEYS = ("weights", "normalize", "refresh", "percentiles", "bounds")


def _parse_weighted(raw: Mapping[str, Any], where: str) -> WeightedObjective:
    _check_keys(raw, _WEIGHTED_KEYS, where)
    weights = _parse_weights(raw["weights"], f"{where}.weights")
    mode = _choice(raw.get("normalize", "adaptive"), get_args(Normalize), f"{where}.normalize")
    only = {"refresh": ("adaptive",), "percentiles": ("adaptive",), "bounds": ("adaptive", "fixed")}
    for key, modes in only.items():
        if key in raw and mode not in modes:
            raise ConfigError(
                f"{where}.{key}: applies only to normalize: {' or '.join(modes)}, not {mode}"
            )
    if mode == "none":
        return WeightedObjective(weights, normalize="none")
    given = _parse_bounds(raw.get("bounds", {}), weights, f"{where}.bounds")
    initial = {m: given.get(m, DEFAULT_BOUNDS.get(m)) for m in weights}
    refresh: int | None = None
    percentiles: Bounds = (5.0, 95.0)
    if mode == "adaptive":
        refresh = raw.get("refresh", 20)
        if isinstance(refresh, bool) or not isinstance(refresh, int) or refresh < 1:
            raise ConfigError(f"{where}.refresh: expected an integer >= 1, got {refresh!r}")
        percentiles = _low_high(raw.get("percentiles", [5, 95]), f"{where}.percentiles")
        if not 0 <= percentiles[0] < percentiles[1] <= 100:
            raise ConfigError(
                f"{where}.percentiles: 0 <= low < high <= 100 must hold, got {list(percentiles)}"
            )
    else:
        for m, b in initial.items():
            if b is None:
                raise ConfigError(
                    f"{where}.weights.{m}: no default normalization bounds for {m!r}; "
                    f"give them as {where}.bounds.{m}: [low, high]"
                )
    normalizer = ScoreNormalizer(initial, percentiles=percentiles, refresh=refresh)
    return WeightedObjective(weights, normalize=cast(Normalize, mode), normalizer=normalizer)


def parse_objective(raw: str | Mapping[str, Any], *, field: str = "objective") -> Objective:
    """Parse the study file's ``objective:`` (forms in the module docstring).

    Args:
        raw: a metric id or a mapping.
        field: the dotted path of the value, used in error messages.

    Returns:
        A `MetricObjective` (one metric or a Pareto front) or a `WeightedObjective`.

    Raises:
        ConfigError: unknown metric (with a "did you mean" suggestion) or key, bad
            direction, empty or all-zero weights, a negative weight on a higher-is-better
            metric, bad percentiles, refresh or bounds; the message names the field.
    """
    if isinstance(raw, str):
        return _parse_single({"metric": _metric(raw, field)}, field)
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{field}: expected a metric id or a mapping, got {raw!r}")
    if "weights" in raw:
        return _parse_weighted(raw, field)
    if "metric" in raw:
        return _parse_single(raw, field)
    if "maximize" in raw or "minimize" in raw:
        return _parse_pareto(raw, field)
    _check_keys(raw, ("metric", "direction", "maximize", "minimize", *_WEIGHTED_KEYS), field)
    raise ConfigError(
        f"{field}: expected a metric id, {{metric: ...}}, {{weights: ...}} or "
        f"{{maximize: [...], minimize: [...]}}, got {dict(raw)!r}"
    )

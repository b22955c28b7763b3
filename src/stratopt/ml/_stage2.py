"""Stage 2: the trading rule on cached predictions, run through stratopt's engine only.

Rule `signal_threshold` (`RULE_DEFAULTS`): each prediction is scored against the same
model's predictions of the `window` bars before it, as a quantile in [0, 1] (`score:
quantile`) or a z-score (`score: zscore`); raw prediction units never reach a threshold,
so thresholds carry over between retrained models. Quantile: long at ``score >= entry``,
short at ``score <= 1 - entry``, a long leaves below `exit` and a short above
``1 - exit``. Z-score: long at ``z >= entry``, short at ``z <= -entry``, leave below
`exit` / above ``-exit``. `hold` > 0 leaves after that many bars. `stop_loss`,
`take_profit`, `trailing_stop`, `direction` and `size` (alias `leverage`) are the
engine's settings (stage2.backtest gives the rest).

Several assets: cash is split evenly, each asset is simulated by `stratopt.engine.simulate`,
and the metrics are those of the summed equity (`stratopt.metrics.compute_metrics`) with
every trade and fee. Several backtest paths (CPCV): each metric is the mean over paths
and the returns are the per-bar mean.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from stratopt.engine import ExecSettings, simulate
from stratopt.errors import ConfigError
from stratopt.metrics import compute_metrics
from stratopt.ml._config import ENGINE_PARAMS, RULE_PARAMS
from stratopt.ml._panel import Panel
from stratopt.ml._rule_nb import past_scores_nb, threshold_signals_nb

__all__ = [
    "ENGINE_PARAMS",
    "RULE_DEFAULTS",
    "PredictionSet",
    "RuleBacktester",
    "RuleRun",
]

RULE_DEFAULTS: dict[str, Any] = {
    "score": "quantile",
    "entry": 0.8,
    "exit": 0.5,
    "window": 100,
    "min_periods": None,  # default: half the window
    "hold": 0,
}
MODEL_TRIAL = "model_trial"
assert tuple(RULE_DEFAULTS) == RULE_PARAMS


@dataclass(frozen=True, eq=False)
class PredictionSet:
    """Predictions of one model on a span of bars, per path.

    Attributes:
        values: (paths, T, N) predictions over the whole panel, NaN where none.
        fold: (paths, T) model (fold) index of each prediction, -1 where none.
    """

    values: np.ndarray
    fold: np.ndarray


@dataclass(frozen=True, eq=False)
class RuleRun:
    """One rule candidate on one span: its metrics and its per-bar portfolio returns."""

    metrics: dict[str, float]
    returns: np.ndarray


@dataclass(frozen=True)
class _Rule:
    zscore: bool
    entry: float
    exit: float
    window: int
    min_periods: int
    hold: int


def _rule(params: Mapping[str, Any]) -> _Rule:
    p = {**RULE_DEFAULTS, **{k: v for k, v in params.items() if k in RULE_DEFAULTS}}
    if p["score"] not in ("quantile", "zscore"):
        raise ConfigError(f"score: expected quantile or zscore, got {p['score']!r}")
    zscore = p["score"] == "zscore"
    entry, exit_ = float(p["entry"]), float(p["exit"])
    if not zscore and not (0.5 < entry <= 1.0 and 1.0 - entry <= exit_ <= entry):
        raise ConfigError(
            f"entry/exit: quantile rules need 0.5 < entry <= 1 and 1 - entry <= exit <= "
            f"entry, got entry={entry}, exit={exit_}"
        )
    if zscore and not (entry > 0 and -entry <= exit_ <= entry):
        raise ConfigError(
            f"entry/exit: z-score rules need entry > 0 and -entry <= exit <= entry, got "
            f"entry={entry}, exit={exit_}"
        )
    window = int(p["window"])
    if window < 2:
        raise ConfigError(f"window: expected an integer >= 2, got {p['window']!r}")
    min_periods = window // 2 if p["min_periods"] is None else int(p["min_periods"])
    return _Rule(zscore, entry, exit_, window, max(2, min_periods), max(0, int(p["hold"])))


class RuleBacktester:
    """Runs rule candidates on the predictions of one or more models over one span.

    Scores depend only on (model, window, min_periods, score kind), so they are kept
    (least recently used first out) and shared by every candidate that differs only in
    thresholds or engine settings.
    """

    def __init__(
        self,
        panel: Panel,
        predictions: Mapping[int, PredictionSet],
        *,
        span: tuple[int, int],
        settings: ExecSettings,
        max_cached: int = 32,
    ) -> None:
        self.panel = panel
        self.predictions = dict(predictions)
        self.start, self.stop = span
        self.settings = settings
        self._scores: OrderedDict[tuple[Any, ...], np.ndarray] = OrderedDict()
        self._max_cached = max_cached

    def run(self, params: Mapping[str, Any]) -> RuleRun:
        """Metrics and returns of one candidate (`model_trial` picks the model)."""
        model = int(params.get(MODEL_TRIAL, next(iter(self.predictions))))
        rule = _rule(params)
        settings = self._settings(params)
        runs = [
            self._run_path(model, path, rule, settings)
            for path in range(self.predictions[model].values.shape[0])
        ]
        if len(runs) == 1:
            return runs[0]
        metrics = {k: float(np.mean([r.metrics[k] for r in runs])) for k in runs[0].metrics}
        return RuleRun(metrics, np.mean([r.returns for r in runs], axis=0))

    def _settings(self, params: Mapping[str, Any]) -> ExecSettings:
        changes = {k: params[k] for k in ENGINE_PARAMS if k in params and k != "leverage"}
        if "leverage" in params:
            changes["size"] = params["leverage"]
        n = self.panel.n_assets
        return self.settings.replace(**changes, cash=self.settings.cash / n)

    def scores(self, model: int, path: int, rule: _Rule) -> np.ndarray:
        """(span bars, N) scores of one model's predictions on one path."""
        key = (model, path, rule.zscore, rule.window, rule.min_periods)
        hit = self._scores.get(key)
        if hit is not None:
            self._scores.move_to_end(key)
            return hit
        pred = self.predictions[model]
        # The reference may reach back before the span (the same model's earlier bars).
        lo = max(0, self.start - rule.window)
        values = pred.values[path, lo : self.stop]
        fold = np.ascontiguousarray(pred.fold[path, lo : self.stop])
        out = np.empty((self.stop - self.start, self.panel.n_assets))
        buf = np.empty(values.shape[0])
        for i in range(self.panel.n_assets):
            past_scores_nb(
                np.ascontiguousarray(values[:, i]),
                fold,
                rule.window,
                rule.min_periods,
                rule.zscore,
                buf,
            )
            out[:, i] = buf[self.start - lo :]
        self._scores[key] = out
        if len(self._scores) > self._max_cached:
            self._scores.popitem(last=False)
        return out

    def _run_path(self, model: int, path: int, rule: _Rule, settings: ExecSettings) -> RuleRun:
        score = self.scores(model, path, rule)
        if rule.zscore:
            levels = (rule.entry, -rule.entry, rule.exit, -rule.exit)
        else:
            levels = (rule.entry, 1.0 - rule.entry, rule.exit, 1.0 - rule.exit)
        allow_long = settings.direction in ("both", "long")
        allow_short = settings.direction in ("both", "short")
        p, a, b = self.panel, self.start, self.stop
        signals = np.empty(b - a, dtype=np.int8)
        equity = np.zeros(b - a)
        pnl, ret, bars = [], [], []
        exposed = np.zeros(b - a, dtype=bool)
        for i in range(p.n_assets):
            threshold_signals_nb(
                np.ascontiguousarray(score[:, i]),
                *levels,
                rule.hold,
                allow_long,
                allow_short,
                signals,
            )
            sim = simulate(
                p.open[a:b, i],
                p.high[a:b, i],
                p.low[a:b, i],
                p.close[a:b, i],
                signals,
                settings,
                periods_per_year=p.periods_per_year,
            )
            equity += sim.equity
            exposed |= sim.exposure != 0
            t = sim.trades
            pnl.append(t["pnl"] - t["fees"])
            ret.append(t["ret"])
            bars.append(t["exit_idx"] - t["entry_idx"])
        cash = settings.cash * p.n_assets
        if p.n_assets == 1:
            metrics = dict(sim.metrics)
        else:
            metrics = compute_metrics(
                equity,
                cash=cash,
                trades_net_pnl=np.concatenate(pnl),
                trades_ret=np.concatenate(ret),
                trades_bars=np.concatenate(bars),
                exposure_bars=int(exposed.sum()),
                periods_per_year=p.periods_per_year,
            )
        prev = np.concatenate(([cash], equity[:-1]))
        returns = np.where(prev > 0, equity / np.where(prev > 0, prev, 1.0) - 1.0, 0.0)
        return RuleRun({k: float(v) for k, v in metrics.items()}, returns)

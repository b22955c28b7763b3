"""Evaluating candidates: built-in strategies in compiled batches, user code in workers.

Built-in strategies run in-process through `evaluate_many` (one compiled, parallel
call per batch; nothing in them can hang). User strategies and user objective
functions run in worker processes (pebble), one candidate per task, so an exception
only fails its candidate and a candidate past `trial_timeout` is really stopped: its
worker process is killed and replaced.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import cloudpickle  # type: ignore[import-untyped]
import numba
import numpy as np
import pandas as pd

from stratopt.backtest import backtest, evaluate_many
from stratopt.config import StudyConfig
from stratopt.data import Bars, infer_periods_per_year
from stratopt.errors import InfeasibleError, StratoptError
from stratopt.evaluation._data import DataKey, StudyData
from stratopt.evaluation._external_eval import ExternalEvaluator
from stratopt.evaluation._grid import GridEvaluation
from stratopt.evaluation._outcome import CandidatePool, Evaluator, Outcome
from stratopt.evaluation._router import Candidate, Router
from stratopt.metrics import METRICS, compute_metrics
from stratopt.strategies import GridStrategy, IndicatorCache, Strategy, get_strategy

__all__ = [
    "CallableEvaluator",
    "Evaluator",
    "Outcome",
    "StudyEvaluator",
    "aggregate",
    "metrics_from_result",
    "portfolio_metrics",
]

_HIGHER = {m.id: m.higher_is_better for m in METRICS}


def aggregate(per_symbol: Mapping[str, Mapping[str, float]], how: str) -> dict[str, float]:
    """Combine per-symbol metrics by `mean`, `median` or `worst` (per metric direction)."""
    symbols = list(per_symbol)
    if len(symbols) == 1:
        return dict(per_symbol[symbols[0]])
    out: dict[str, float] = {}
    for key in per_symbol[symbols[0]]:
        values = np.array([per_symbol[s][key] for s in symbols], dtype=np.float64)
        if how == "median":
            out[key] = float(np.median(values))
        elif how == "worst":
            out[key] = float(values.min() if _HIGHER.get(key, True) else values.max())
        else:
            out[key] = float(values.mean())
    return out


def portfolio_metrics(results: Sequence[Any], cash: float) -> dict[str, float]:
    """Metrics of an equal-weight portfolio of per-symbol backtests (each run on `cash`)."""
    curves = [r.equity / cash for r in results]
    joined = pd.concat(curves, axis=1).sort_index().ffill().fillna(1.0)
    equity = cash * joined.mean(axis=1).to_numpy()
    trades = [r.trades for r in results]
    pnl = np.concatenate([t["pnl"].to_numpy() - t["fees"].to_numpy() for t in trades])
    n = len(results)
    exposure = pd.concat([pd.Series(r.sim.exposure, index=r.bars.index) for r in results], axis=1)
    return compute_metrics(
        equity,
        cash=cash,
        trades_net_pnl=pnl / n,
        trades_ret=np.concatenate([t["ret"].to_numpy() for t in trades]),
        trades_bars=np.concatenate([(t["exit_idx"] - t["entry_idx"]).to_numpy() for t in trades]),
        exposure_bars=int((exposure.fillna(0).to_numpy().max(axis=1) > 0).sum()),
        periods_per_year=infer_periods_per_year(joined.index),
    )


class StudyEvaluator:
    """Runs a study's candidates (strategy + data + backtest settings).

    `data`: the study's bars, when already loaded (`StudyData` of the same study).
    """

    def __init__(
        self,
        study: StudyConfig,
        router: Router,
        *,
        jobs: int,
        timeout: float | None,
        data: StudyData | None = None,
    ) -> None:
        self.study = study
        self.router = router
        self.data = data if data is not None else StudyData(study)
        self.pool: CandidatePool | None = None
        # A study that names an external evaluator runs its candidates through it.
        self.external: ExternalEvaluator | None = None
        if study.evaluator is not None:
            self.external = ExternalEvaluator(study, jobs=jobs, timeout=timeout, data=self.data)
            return
        assert router.strategy is not None
        self.strategy: Strategy = router.strategy
        self.data.get(())  # bad data files fail the study before any trial
        # per data override and series: indicators computed once for the whole search
        self._indicators: dict[tuple[DataKey, int], IndicatorCache] = {}
        self.grid = (
            GridEvaluation(study, self.strategy, self.data.get)
            if isinstance(self.strategy, GridStrategy)
            else None
        )
        isolated = not _is_builtin(self.strategy) and (jobs > 1 or timeout is not None)
        if isolated:
            self.pool = CandidatePool(jobs, timeout, _init_study_worker, (study,))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
        if self.external is not None:
            self.external.close()

    def evaluate(self, params: Sequence[Mapping[str, Any]]) -> list[Outcome]:
        if self.external is not None:
            return self.external.evaluate(params)
        if self.pool is not None:
            return self.pool.map(_run_study_candidate, params)
        if self.grid is None and self.study.aggregate != "portfolio" and params:
            # the usual sweep: strategy parameters alone, one data series
            plain = self.router.strategy_params_all(params)
            if plain is not None and len(series := self.data.get(())) == 1:
                return self._run_plain(series[0], plain)
        outcomes: list[Outcome] = [Outcome() for _ in params]
        routed: dict[int, Candidate] = {}
        for i, p in enumerate(params):
            try:
                routed[i] = self.router.route(p)
            except StratoptError as exc:
                outcomes[i].error = str(exc)
        if self.study.aggregate == "portfolio":
            for i, cand in routed.items():
                outcomes[i] = _portfolio_outcome(self.strategy, self.data, cand)
            return outcomes
        groups: dict[tuple[tuple[str, Any], ...], list[int]] = {}
        for i, cand in routed.items():
            groups.setdefault(cand.data, []).append(i)
        for key, idx in groups.items():
            self._run_group(key, idx, routed, outcomes)
        return outcomes

    def _run_plain(self, bars: Bars, strategy_params: list[dict[str, Any]]) -> list[Outcome]:
        """The outcomes of candidates that search strategy parameters alone, on the
        study's one data series: what `_run_group` gives them, built a batch at once."""
        start = time.perf_counter()
        cache = self._indicators.get(((), 0))
        if cache is None:
            cache = self._indicators[(), 0] = IndicatorCache(bars, max_bytes=64 * 2**20)
        batch = evaluate_many(
            bars, self.strategy, strategy_params, self.router.settings, cache=cache
        )
        rows, finite = _records(batch.metrics)
        runtime = (time.perf_counter() - start) / len(rows)
        symbol = bars.symbol
        if batch.errors.count(None) == len(rows):  # one series: `metrics` is its row
            block = _float_block(batch.metrics)
            if block is None:
                return [
                    Outcome(row, {symbol: row}, None, runtime, json_safe=ok)
                    for row, ok in zip(rows, finite)  # noqa: B905
                ]
            return [
                Outcome(row, {symbol: row}, None, runtime, json_safe=ok,
                        row=(block[0], block[1], i) if ok else None)
                for i, (row, ok) in enumerate(zip(rows, finite))  # noqa: B905
            ]  # fmt: skip
        outcomes = []
        for row, ok, error, infeasible in zip(rows, finite, batch.errors, batch.infeasible):  # noqa: B905
            if error is None:
                outcomes.append(Outcome(row, {symbol: row}, None, runtime, json_safe=ok))
            elif infeasible:
                outcomes.append(Outcome(None, {symbol: row}, None, runtime, infeasible=error))
            else:
                outcomes.append(Outcome(None, {symbol: row}, error, runtime))
        return outcomes

    def _run_group(
        self,
        key: tuple[tuple[str, Any], ...],
        idx: list[int],
        routed: dict[int, Candidate],
        outcomes: list[Outcome],
    ) -> None:
        start = time.perf_counter()
        try:
            series = self.data.get(key)
            grid = self.grid.run(key, idx, routed) if self.grid is not None else {}
        except StratoptError as exc:
            for i in idx:
                outcomes[i].error = str(exc)
            return
        for i, (per_symbol, error) in grid.items():
            outcomes[i].per_symbol, outcomes[i].error = per_symbol, error
        for at, bars in enumerate(series if self.grid is None else ()):
            cache = self._indicators.get((key, at))
            if cache is None:
                cache = self._indicators[key, at] = IndicatorCache(bars, max_bytes=64 * 2**20)
            batch = evaluate_many(
                bars,
                self.strategy,
                [routed[i].strategy_params for i in idx],
                [routed[i].settings for i in idx],
                cache=cache,
            )
            rows, finite = _records(batch.metrics)
            for pos, i in enumerate(idx):
                if batch.errors[pos] is not None and batch.infeasible[pos]:
                    outcomes[i].infeasible = batch.errors[pos]
                elif batch.errors[pos] is not None:
                    outcomes[i].error = batch.errors[pos]
                outcomes[i].per_symbol[bars.symbol] = rows[pos]  # str keys, Python floats
                outcomes[i].json_safe = finite[pos]  # for one series (`metrics` is this row)
        runtime = (time.perf_counter() - start) / len(idx)
        how = self.study.aggregate
        for i in idx:
            o = outcomes[i]
            o.runtime = runtime
            per_symbol = o.per_symbol
            if o.error is not None or o.infeasible is not None or len(per_symbol) != 1:
                o.json_safe = False
            if o.error is None and o.infeasible is None:
                # one series: its row, made for this outcome alone, without `aggregate`'s copy
                o.metrics = (
                    next(iter(per_symbol.values()))
                    if len(per_symbol) == 1
                    else aggregate(per_symbol, how)
                )


def _is_builtin(strategy: Strategy) -> bool:
    compiled = strategy.uses_rules or isinstance(strategy, GridStrategy)
    return type(strategy).__module__.startswith("stratopt.") and compiled


def _portfolio_outcome(strategy: Strategy, data: StudyData, cand: Candidate) -> Outcome:
    start = time.perf_counter()
    try:
        results = [
            backtest(bars, strategy, cand.strategy_params, cand.settings)
            for bars in data.get(cand.data)
        ]
    except InfeasibleError as exc:
        return Outcome(infeasible=str(exc), runtime=time.perf_counter() - start)
    except Exception as exc:  # user strategy code: isolate the candidate
        message = str(exc) if isinstance(exc, StratoptError) else f"{type(exc).__name__}: {exc}"
        return Outcome(error=message, runtime=time.perf_counter() - start)
    per_symbol = {r.bars.symbol: r.metrics for r in results}
    metrics = portfolio_metrics(results, cand.settings.cash)
    return Outcome(metrics, per_symbol, None, time.perf_counter() - start)


# ---- worker processes ---------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_study_worker(study: StudyConfig) -> None:
    numba.set_num_threads(1)  # `jobs` processes already use the cores
    assert study.strategy is not None  # an external evaluator has its own workers
    strategy = get_strategy(study.strategy, base_dir=study.base_dir)
    _WORKER["study"] = study
    _WORKER["evaluator"] = StudyEvaluator(study, Router(study, strategy, ()), jobs=1, timeout=None)


def _run_study_candidate(params: Mapping[str, Any]) -> Outcome:
    evaluator: StudyEvaluator = _WORKER["evaluator"]
    return evaluator.evaluate([params])[0]


def _init_callable_worker(payload: bytes) -> None:
    _WORKER["fn"] = cloudpickle.loads(payload)


def _run_callable(params: Mapping[str, Any]) -> Outcome:
    return _call(_WORKER["fn"], params)


def _call(fn: Callable[[dict[str, Any]], Any], params: Mapping[str, Any]) -> Outcome:
    start = time.perf_counter()
    try:
        metrics = metrics_from_result(fn(dict(params)))
    except Exception as exc:  # the user's objective: isolate the candidate
        return Outcome(error=f"{type(exc).__name__}: {exc}", runtime=time.perf_counter() - start)
    return Outcome(metrics, {}, None, time.perf_counter() - start)


def metrics_from_result(result: Any, *, cash: float | None = None) -> dict[str, float]:
    """Turn what a user objective returned into a metrics mapping.

    Accepted: a mapping of metric values (returned as floats; unknown keys kept); a
    pandas Series / 1-D array of equity (metrics computed as for stratopt's own
    backtests, cash = the first value); or a DataFrame of trades with a `pnl` column
    (and optionally `ret`, `bars`), turned into an equity curve starting at `cash`
    (default 10,000).
    """
    if isinstance(result, Mapping):
        return {str(k): float(v) for k, v in result.items()}
    if isinstance(result, pd.DataFrame):
        if "pnl" not in result:
            raise TypeError("a trade list needs a 'pnl' column")
        start = 10_000.0 if cash is None else cash
        pnl = result["pnl"].to_numpy(dtype=np.float64)
        equity = start + np.cumsum(pnl)
        rets = result["ret"].to_numpy(dtype=np.float64) if "ret" in result else pnl / start
        bars = result["bars"].to_numpy() if "bars" in result else np.ones(len(pnl))
        return compute_metrics(
            equity if len(equity) else np.array([start]),
            cash=start,
            trades_net_pnl=pnl,
            trades_ret=rets,
            trades_bars=bars,
        )
    if isinstance(result, pd.Series | np.ndarray | list):
        equity = np.asarray(result, dtype=np.float64)
        ppy = 252.0
        if isinstance(result, pd.Series) and isinstance(result.index, pd.DatetimeIndex):
            ppy = infer_periods_per_year(result.index)
        return compute_metrics(
            equity[1:],
            cash=float(equity[0]),
            trades_net_pnl=[],
            trades_ret=[],
            trades_bars=[],
            periods_per_year=ppy,
        )
    raise TypeError(
        f"the objective returned {type(result).__name__}; expected a mapping of metrics, "
        "an equity curve (Series/array) or a trade DataFrame"
    )


class CallableEvaluator:
    """Runs a user function `fn(params) -> metrics | equity | trades` per candidate."""

    def __init__(self, fn: Callable[[dict[str, Any]], Any], *, jobs: int, timeout: float | None):
        self.fn = fn
        isolated = jobs > 1 or timeout is not None
        self.pool = (
            CandidatePool(jobs, timeout, _init_callable_worker, (cloudpickle.dumps(fn),))
            if isolated
            else None
        )

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()

    def evaluate(self, params: Sequence[Mapping[str, Any]]) -> list[Outcome]:
        if self.pool is not None:
            return self.pool.map(_run_callable, params)
        return [_call(self.fn, p) for p in params]


def _float_block(frame: pd.DataFrame) -> tuple[np.ndarray, tuple[str, ...]] | None:
    """A copy of an all-float frame's values and its column names, which `_records` made
    each row's dict of (None: not float64, or names that are not distinct text)."""
    names = tuple(frame.columns)
    if not all(type(c) is str for c in names) or len(set(names)) != len(names):
        return None
    values = frame.to_numpy()
    if values.dtype != np.float64 or values.ndim != 2:
        return None
    return values.copy(), names  # the frame's buffer is not the record's to keep


def _records(frame: pd.DataFrame) -> tuple[list[dict[str, Any]], list[bool]]:
    """`frame.to_dict("records")` for an all-float frame, without pandas' per-row boxing
    (7 ms per batch of 8 rows in a TPE study), and whether each row is all finite."""
    columns = [str(c) for c in frame.columns]
    values = frame.to_numpy()
    if values.dtype == np.float64:
        finite = np.isfinite(values).all(axis=1).tolist()
    else:
        finite = [False] * len(values)
    # every row has len(columns) values: zip's keyword (even strict=False) costs a tenth
    return [dict(zip(columns, row)) for row in values.tolist()], finite  # noqa: B905

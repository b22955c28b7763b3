"""Per-period returns of many candidates of a study, re-run through the engine.

The search keeps only metrics per trial; statistics that need the trials' return
series (PBO, SPA, the best candidate's moments) re-run the candidates they need here.
Only the returns are kept (float64, one column per candidate), so memory is
`bars x candidates x 8` bytes however many trades or indicators a candidate has;
`bin_size` shrinks it further.
"""

from __future__ import annotations

import math
import multiprocessing
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
import pandas as pd

from stratopt.config import StudyConfig
from stratopt.data import Bars
from stratopt.engine import simulate
from stratopt.errors import StratoptError
from stratopt.evaluation._contract import ExternalFailure
from stratopt.evaluation._data import DataKey, StudyData
from stratopt.evaluation._external import External
from stratopt.evaluation._grid_returns import GridReturns
from stratopt.evaluation._router import Candidate, Router
from stratopt.strategies import GridStrategy, IndicatorCache, get_strategy

__all__ = ["NO_CURVE", "CandidateReturns", "bin_returns", "candidate_returns"]

NO_CURVE = "the evaluator returns metrics only, no equity curve"


@dataclass(frozen=True, eq=False)
class CandidateReturns:
    """Returns of the candidates that could be run, one column each.

    Attributes:
        returns: `(T, K)` per-period returns (per bar, or per bin of `bin_size` bars).
        index: The timestamp of each row (a bin's last bar).
        positions: For each column, the position of its candidate in the input.
        periods_per_year: Rows per year (bars per year / bin_size).
        bin_size: Bars per row.
        skipped: Input position -> why that candidate has no column.
    """

    returns: np.ndarray
    index: pd.DatetimeIndex
    positions: list[int]
    periods_per_year: float
    bin_size: int
    skipped: dict[int, str] = field(default_factory=dict)


def bin_returns(returns: np.ndarray, bin_size: int) -> np.ndarray:
    """Compound `(T, K)` per-bar returns over consecutive bins of `bin_size` bars.

    A bin's return is `prod(1 + r) - 1` over its bars; the last bin may be shorter.
    """
    if bin_size <= 1:
        return returns
    t = returns.shape[0]
    starts = np.arange(0, t, bin_size)
    logs = np.log1p(np.maximum(returns, -1.0 + 1e-12))
    return np.expm1(np.add.reduceat(logs, starts, axis=0))


def candidate_returns(
    study: StudyConfig,
    params: Sequence[Mapping[str, Any]],
    *,
    bin_size: int = 1,
    data: StudyData | None = None,
    jobs: int = 1,
) -> CandidateReturns:
    """Re-run `params` (each a trial's searched parameters) and collect their returns.

    Parameters route as in the search (`backtest.x`, `data.x`, strategy names). All
    columns must share one time axis: when the space searches `data.timeframe` /
    `start` / `end`, only the candidates on the most common data choice are kept (the
    first such in input order on ties) and the others are listed in `skipped`, as are
    candidates whose parameters or strategy code fail.

    Multi-symbol studies: a candidate's return per bar is the **equal-weight,
    per-bar rebalanced portfolio** of its per-symbol returns, `mean_s r_s`, over the
    union of the symbols' timestamps, a symbol without a bar at a time counting as
    flat (return 0). This is not the `aggregate` of the search (a mean of per-symbol
    metrics), but it is the return series a trader holding all symbols would see.

    The per-bar return is `E_j / E_{j-1} - 1` with `E_{-1}` the cash, and 0 once equity
    is <= 0 (docs/metrics.md).

    Args:
        study: The study the candidates belong to.
        params: Searched parameters of each candidate (as stored with its trial).
        bin_size: Bars per row of the result (compounded); 1 keeps every bar.
        data: The study's bars already loaded (an evaluator's `StudyData`), to skip
            reloading files.
        jobs: Processes to re-run the candidates with. Candidates run here first; once
            they have taken `PARALLEL_AFTER_S` seconds, the rest are shared among `jobs`
            processes (the same columns, bit for bit, in the same order).
    """
    if study.evaluator is not None:
        return _external_returns(study, params, max(1, int(bin_size)), data)
    assert study.strategy is not None
    strategy = get_strategy(study.strategy, base_dir=study.base_dir)
    router = Router(study, strategy, _names(params))
    routed, key, skipped = _route_on_one_axis(router, params)
    series = (data if data is not None else StudyData(study)).get(key)
    index = _union_index(series)
    size = max(1, int(bin_size))
    # One column per routed candidate, in input order; failed ones are squeezed out after,
    # in place: memory peaks at the matrix plus one column.
    slot = {i: col for col, i in enumerate(routed)}
    matrix = np.empty((-(-len(index) // size), len(routed)))
    errors: dict[int, str] = {}

    def keep(i: int, column: np.ndarray | str) -> None:
        if isinstance(column, str):
            errors[i] = column
        else:
            matrix[:, slot[i]] = column

    run = _Columns(strategy, series, index, size, _grid_returns(study, key, strategy))
    done = run.until(routed, PARALLEL_AFTER_S if jobs > 1 else math.inf, keep)
    left = {i: c for i, c in routed.items() if i not in done}
    if left:
        _in_processes(study, key, left, (index, size, jobs), keep)
    positions = [i for i in routed if i not in errors]
    for col, i in enumerate(positions):
        if slot[i] != col:
            matrix[:, col] = matrix[:, slot[i]]
    matrix = matrix[:, : len(positions)]
    skipped.update(errors)
    ppy = float(series[0].periods_per_year) if series else 252.0
    return CandidateReturns(
        returns=matrix,
        index=_bin_index(index, size),
        positions=positions,
        periods_per_year=ppy / size,
        bin_size=size,
        skipped=dict(sorted(skipped.items())),
    )


def _external_returns(
    study: StudyConfig, params: Sequence[Mapping[str, Any]], size: int, data: StudyData | None
) -> CandidateReturns:
    """The returns of an external evaluator's runs over the study's bars: each run's
    kept curve when there is one, else the candidate is run again."""
    external = External(study, data)
    period = external.period()
    skipped: dict[int, str] = {}
    positions: list[int] = []
    columns: list[np.ndarray] = []
    for i, p in enumerate(params):
        try:
            r = external.run(p, period, reuse=True).returns
        except ExternalFailure as exc:
            skipped[i] = str(exc)
            continue
        if r is None:
            skipped[i] = NO_CURVE
            continue
        columns.append(bin_returns(r[:, None], size)[:, 0])
        positions.append(i)
    index = pd.DatetimeIndex(external.axis, name="timestamp")
    rows = -(-len(index) // size)
    matrix = np.column_stack(columns) if columns else np.empty((rows, 0))
    ppy = float(external.data.get(())[0].periods_per_year)
    return CandidateReturns(matrix, _bin_index(index, size), positions, ppy / size, size, skipped)


# Seconds of re-runs in this process before the rest goes to `jobs` processes: starting
# a process costs about as much (imports, compiled kernels loaded from the cache).
PARALLEL_AFTER_S = 2.0


class _Columns:
    """Binned return columns of candidates on one data choice (an error text on failure)."""

    def __init__(
        self,
        strategy: Any,
        series: Sequence[Bars],
        index: pd.DatetimeIndex,
        size: int,
        grid: GridReturns | None = None,
    ) -> None:
        self.strategy = strategy
        self.grid = grid
        self.series = series
        self.caches = [IndicatorCache(b, max_bytes=64 * 2**20) for b in series]
        self.index = index
        self.size = size

    def one(self, cand: Candidate) -> np.ndarray | str:
        try:
            column = _one(self.strategy, self.series, self.caches, cand, self.index, self.grid)
        except Exception as exc:  # user strategy code: isolate the candidate
            return _describe(exc)
        binned: np.ndarray = bin_returns(column[:, None], self.size)[:, 0]
        return binned

    def until(self, cands: Mapping[int, Candidate], seconds: float, keep: _Keep) -> set[int]:
        """Columns of `cands` in order to `keep`, stopping once `seconds` have passed."""
        start = time.perf_counter()
        done: set[int] = set()
        for i, cand in cands.items():
            if time.perf_counter() - start > seconds:
                break
            keep(i, self.one(cand))
            done.add(i)
        return done


_Keep = Callable[[int, "np.ndarray | str"], None]


def _in_processes(
    study: StudyConfig,
    key: DataKey,
    cands: Mapping[int, Candidate],
    axis: tuple[pd.DatetimeIndex, int, int],
    keep: _Keep,
) -> None:
    """The columns of `cands` computed by `jobs` spawned processes, in chunks, to `keep`."""
    index, size, jobs = axis
    items = list(cands.items())
    n_chunks = min(len(items), 4 * jobs)  # small chunks: a slow candidate does not stall one
    chunks = [items[k::n_chunks] for k in range(n_chunks)]
    context = multiprocessing.get_context("spawn")  # numba's threads and fork do not mix
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_child,
                             initargs=(study, key, index, size)) as pool:  # fmt: skip
        for done in pool.map(_child_columns, chunks):
            for i, column in done.items():
                keep(i, column)


def _grid_returns(study: StudyConfig, key: DataKey, strategy: Any) -> GridReturns | None:
    """A grid strategy's returns come from the lot-book engine (None: the single engine)."""
    return GridReturns(study, key) if isinstance(strategy, GridStrategy) else None


_CHILD: dict[str, _Columns] = {}


def _init_child(study: StudyConfig, key: DataKey, index: pd.DatetimeIndex, size: int) -> None:
    numba.set_num_threads(1)  # `jobs` processes already share the cores
    assert study.strategy is not None  # an external evaluator's returns never come here
    strategy = get_strategy(study.strategy, base_dir=study.base_dir)
    grid = _grid_returns(study, key, strategy)
    _CHILD["run"] = _Columns(strategy, StudyData(study).get(key), index, size, grid)


def _child_columns(chunk: list[tuple[int, Candidate]]) -> dict[int, Any]:
    run = _CHILD["run"]
    return {i: run.one(cand) for i, cand in chunk}


def _route_on_one_axis(
    router: Router, params: Sequence[Mapping[str, Any]]
) -> tuple[dict[int, Candidate], DataKey, dict[int, str]]:
    """The candidates routed on the most common data choice (the first on ties), that
    choice, and why the others were skipped."""
    skipped: dict[int, str] = {}
    routed: dict[int, Candidate] = {}
    for i, p in enumerate(params):
        try:
            routed[i] = router.route(p)
        except StratoptError as exc:
            skipped[i] = str(exc)
    keys = Counter(c.data for c in routed.values())
    key = max(keys, key=lambda k: keys[k]) if keys else ()
    for i, c in list(routed.items()):
        if c.data != key:
            skipped[i] = f"other data choice {dict(c.data)} than the compared candidates"
            del routed[i]
    return routed, key, skipped


def _describe(exc: Exception) -> str:
    return str(exc) if isinstance(exc, StratoptError) else f"{type(exc).__name__}: {exc}"


def _bin_index(index: pd.DatetimeIndex, size: int) -> pd.DatetimeIndex:
    """The last timestamp of each bin of `size` bars."""
    t = len(index)
    last = np.minimum(np.arange(size - 1, t + size - 1, size), t - 1)
    return pd.DatetimeIndex(index[last])


def _names(params: Sequence[Mapping[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for p in params:
        names.update(dict.fromkeys(p))
    return list(names)


def _union_index(series: Sequence[Bars]) -> pd.DatetimeIndex:
    index = pd.DatetimeIndex(series[0].index)
    for b in series[1:]:
        index = index.union(pd.DatetimeIndex(b.index))
    return index


def _one(
    strategy: Any,
    series: Sequence[Bars],
    caches: Sequence[IndicatorCache],
    cand: Candidate,
    index: pd.DatetimeIndex,
    grid: GridReturns | None = None,
) -> np.ndarray:
    p = strategy.resolve(cand.strategy_params)
    per_symbol = [] if grid is None else grid.per_symbol(strategy, series, caches, cand)
    for bars, cache in zip(series, caches, strict=True) if grid is None else ():
        signals = strategy.signals(bars, p, cache)
        sim = simulate(
            bars.open, bars.high, bars.low, bars.close, signals, cand.settings,
            periods_per_year=bars.periods_per_year,
        )  # fmt: skip
        r = np.where(np.isfinite(sim.returns), sim.returns, 0.0)
        prev = np.concatenate(([cand.settings.cash], sim.equity[:-1]))
        r[prev <= 0.0] = 0.0
        per_symbol.append(r)
    if len(series) == 1:
        return per_symbol[0]
    frame = pd.concat(
        [pd.Series(r, index=b.index) for r, b in zip(per_symbol, series, strict=True)], axis=1
    ).reindex(index)
    out: np.ndarray = frame.fillna(0.0).to_numpy().mean(axis=1)
    return out

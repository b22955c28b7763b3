"""Running strategies through the engine: one backtest in full, or many candidates at once."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
import pandas as pd

from stratopt._suggest import did_you_mean
from stratopt.config import StudyConfig
from stratopt.data import (
    GIVEN_RULE,
    Bars,
    PlantedEdge,
    load_bars,
    resample,
    select_range,
    synthetic_bars,
)
from stratopt.engine import (
    N_EXEC,
    PASS_DRAWDOWN,
    PASS_NONE,
    PASS_SUMS,
    ExecSettings,
    ExitReason,
    ManyPool,
    SimResult,
    group_by_rows,
    pack_settings,
    pack_settings_many,
    run_many,
    simulate,
)
from stratopt.engine import kernels as engine_nb
from stratopt.errors import ConfigError, StrategyError
from stratopt.metrics import METRICS
from stratopt.strategies import (
    Indicator,
    IndicatorCache,
    RulePlans,
    Strategy,
    describe_error,
    get_strategy,
    plan_candidates,
    run_but_tails_after,
)

__all__ = [
    "BacktestResult",
    "BatchResult",
    "backtest",
    "backtest_study",
    "evaluate_many",
    "study_bars",
]

_METRIC_IDS = [m.id for m in METRICS]
_METRIC_INDEX = pd.Index(_METRIC_IDS)  # built once: a frame's columns, every call
_METRIC_PLACE = {m: i for i, m in enumerate(_METRIC_IDS)}
# The metrics selected among the stored returns (what a subset without them skips).
_TAILS = frozenset({"var_95", "cvar_95", "tail_ratio"})
# The metrics of the drawdown, and those of the sums of the returns (a subset without
# either needs no return at all: trade metrics, final equity, total return, CAGR...).
_DRAWDOWN = frozenset({"calmar", "max_drawdown", "max_drawdown_duration", "ulcer_index"})
_SUMS = frozenset({"volatility", "sharpe", "sortino", "skew", "kurtosis", "omega"})


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """One backtest with everything: metrics, equity curve and trade list."""

    strategy: str
    params: dict[str, Any]
    settings: ExecSettings
    bars: Bars
    sim: SimResult

    @property
    def metrics(self) -> dict[str, float]:
        return self.sim.metrics

    @property
    def final_equity(self) -> float:
        return self.sim.final_equity

    @property
    def n_trades(self) -> int:
        return self.sim.n_trades

    @property
    def equity(self) -> pd.Series:
        """Equity marked at each bar's close, indexed by bar time."""
        return pd.Series(self.sim.equity, index=self.bars.index, name="equity")

    @property
    def trades(self) -> pd.DataFrame:
        """One row per trade, with entry/exit times and the exit reason's name."""
        t = self.sim.trades
        times = self.bars.time
        frame = pd.DataFrame(
            {
                "entry_time": pd.DatetimeIndex(times[t["entry_idx"]]),
                "exit_time": pd.DatetimeIndex(times[t["exit_idx"]]),
                **{name: t[name] for name in t.dtype.names or ()},
            }
        )
        frame["exit_reason"] = [ExitReason(int(r)).name.lower() for r in t["exit_reason"]]
        return frame


@dataclass(frozen=True, eq=False)
class BatchResult:
    """Metrics of many candidates, in the order they were given.

    Attributes:
        params: The resolved parameters of each candidate (as given when invalid).
        metrics: One row per candidate, one column per metric id; NaN for a
            candidate that could not run.
        errors: Per candidate, None or the message of why it could not run.
        infeasible: Per candidate, whether its error is the strategy's `validate`
            refusing its parameters (InfeasibleError), not a failure.
    """

    params: list[dict[str, Any]]
    metrics: pd.DataFrame
    errors: list[str | None] = field(default_factory=list)
    infeasible: list[bool] = field(default_factory=list)


def backtest(
    bars: Bars,
    strategy: str | Strategy | type[Strategy],
    params: Mapping[str, Any] | None = None,
    settings: ExecSettings | None = None,
) -> BacktestResult:
    """Backtest one parameter set with full outputs.

    Raises:
        StrategyError: unknown strategy or invalid parameters.
    """
    strat = get_strategy(strategy)
    p = strat.resolve(params)
    settings = settings or ExecSettings()
    cache = IndicatorCache(bars)
    signals = (
        strat.signals(bars, p, cache) if strat.uses_rules else _user_signals(strat, bars, p, cache)
    )
    sim = simulate(
        bars.open,
        bars.high,
        bars.low,
        bars.close,
        signals,
        settings,
        periods_per_year=bars.periods_per_year,
    )
    return BacktestResult(strat.name, p, settings, bars, sim)


def evaluate_many(
    bars: Bars,
    strategy: str | Strategy | type[Strategy],
    candidates: Sequence[Mapping[str, Any]],
    settings: ExecSettings | Sequence[ExecSettings] | None = None,
    *,
    cache: IndicatorCache | None = None,
    max_indicator_bytes: int = 256 * 2**20,
    metrics: Sequence[str] | None = None,
) -> BatchResult:
    """Metrics of many candidates in one compiled, parallel call.

    Indicators are computed once per distinct input (in `cache`, kept across calls
    when you pass one) and candidates are grouped so that at most
    `max_indicator_bytes` of indicator rows are handed to the kernel at a time;
    only metrics come back, so memory does not grow with the candidate count.
    A candidate whose parameters are invalid, or whose strategy code raises, gets
    NaN metrics and its error message; the others run.

    `metrics` (metric ids) limits the frame to those columns, in that order (once
    each). Without
    ``var_95``, ``cvar_95`` and ``tail_ratio`` among them, their selection among the
    returns is skipped (about half the kernel's time on a few thousand bars; its
    first use compiles a kernel of its own, a few seconds); each value is the bits
    of the full pass either way.

    Raises:
        ValueError: an unknown metric id in `metrics`.
    """
    wanted = _metric_columns(metrics)
    strat = get_strategy(strategy)
    n_cand = len(candidates)
    per_settings = _settings_rows(settings, n_cand)
    own_cache = cache is None  # no one reads it after this call
    cache = cache or IndicatorCache(bars, max_bytes=64 * 2**20)
    out = np.full((n_cand, len(METRICS)), np.nan)
    errors: list[str | None] = [None] * n_cand
    infeasible = [False] * n_cand
    resolved, plans = plan_candidates(strat, candidates, errors, infeasible)
    row_budget = max(2, max_indicator_bytes // (8 * max(len(bars), 1)))
    keys = plans.keys
    slots = _RowSlots(min(row_budget, len(keys)), len(bars))
    if len(keys) <= row_budget:
        groups = [np.arange(len(plans.pos))]  # every row fits: one kernel call
    else:
        needs = [frozenset(keys[i] for i in row if i >= 0) for row in plans.ids.tolist()]
        groups = [np.array(g, dtype=np.int64) for g in group_by_rows(needs, row_budget)]
    # the rows' copies in a cache of this call are read only by strategies' own signals
    # and by later row groups
    keep = not own_cache or len(groups) > 1 or bool(plans.own.any())
    call = _Call(bars, strat, cache, slots, plans, per_settings, out, errors, keep,
                 _passes(wanted), one_group=len(keys) <= row_budget)  # fmt: skip
    for group in groups:
        _run_chunk(call, group)
    # a view: the frame's own index object (a name set on it stays in that frame)
    if wanted is None:
        frame = pd.DataFrame(out, columns=_METRIC_INDEX.view())
    else:
        frame = pd.DataFrame(out[:, wanted], columns=_metric_index(tuple(wanted)).view())
    return BatchResult(params=resolved, metrics=frame, errors=errors, infeasible=infeasible)


def _metric_columns(metrics: Sequence[str] | None) -> list[int] | None:
    """The places of `metrics` among all metric ids (None: all of them)."""
    if metrics is None:
        return None
    place = _METRIC_PLACE
    for m in metrics:
        if m not in place:
            more = did_you_mean(m, place)
            raise ValueError(f"metrics: unknown metric {m!r}{more} (known: {', '.join(place)})")
    return [place[m] for m in dict.fromkeys(metrics)]


@functools.lru_cache(maxsize=64)
def _metric_index(wanted: tuple[int, ...]) -> pd.Index:
    """The frame's columns for the metrics at places `wanted` (an index is immutable:
    one per subset, not one per call)."""
    return _METRIC_INDEX.take(list(wanted))


def _passes(wanted: list[int] | None) -> int | None:
    """How far the kernel's metrics pass must go for the metrics at places `wanted`
    (None: the full pass, `run_many`; else `run_but_tails`'s `passes`)."""
    return None if wanted is None else _subset_passes(tuple(wanted))


@functools.lru_cache(maxsize=64)
def _subset_passes(wanted: tuple[int, ...]) -> int | None:
    ids = {_METRIC_IDS[i] for i in wanted}
    if not _TAILS.isdisjoint(ids):
        return None
    if not _DRAWDOWN.isdisjoint(ids):
        return PASS_DRAWDOWN
    return PASS_NONE if _SUMS.isdisjoint(ids) else PASS_SUMS


def _settings_rows(settings: ExecSettings | Sequence[ExecSettings] | None, n: int) -> np.ndarray:
    if settings is None or isinstance(settings, ExecSettings):
        return np.broadcast_to(_packed(settings or _DEFAULT_SETTINGS), (n, N_EXEC))
    if len(settings) != n:
        raise ValueError(f"got {len(settings)} settings for {n} candidates")
    if n and all(s is settings[0] for s in settings):  # one shared object: pack it once
        return np.broadcast_to(_packed(settings[0]), (n, N_EXEC))
    return pack_settings_many(settings)


_DEFAULT_SETTINGS = ExecSettings()
# The last settings object packed, and its row: a study or a benchmark passes one
# object call after call (by identity, not by value: -0.0 equals 0.0).
_LAST_PACKED: tuple[ExecSettings | None, np.ndarray] = (None, np.empty(0))


def _packed(settings: ExecSettings) -> np.ndarray:
    """`pack_settings(settings)`, read-only."""
    global _LAST_PACKED
    last, row = _LAST_PACKED
    if last is not settings:
        row = pack_settings(settings)
        row.setflags(write=False)
        _LAST_PACKED = (settings, row)
    return row


class _RowSlots:
    """Indicator and signal rows kept in place between groups of candidates.

    `group_by_rows` starts each group from the rows of the one before; rows already
    in a slot are not computed again, and a new row takes a free slot or the least
    recently used one that the group does not need.
    """

    def __init__(self, n_rows: int, n_bars: int) -> None:
        self._tick = 0
        self._reset(n_rows, n_bars)

    def _reset(self, n_rows: int, n_bars: int) -> None:
        self.ind = np.empty((max(n_rows, 1), n_bars))
        self._key_at: list[Any] = [None] * max(n_rows, 1)
        self._used = [-1] * max(n_rows, 1)
        self._slot: dict[Any, int] = {}

    def place(self, keys: Sequence[Any]) -> tuple[dict[Any, int], list[Any]]:
        """The slot of each key, and the keys whose rows must be (re)computed."""
        self._tick += 1
        needed = set(keys)
        if not self._slot and len(needed) == len(keys) <= len(self._key_at):
            # the first group (often the only one): slots in order, as below
            self._key_at[: len(keys)] = keys
            self._used[: len(keys)] = [self._tick] * len(keys)
            self._slot = dict(zip(keys, range(len(keys)), strict=True))
            return dict(self._slot), list(keys)
        if len(needed) > len(self._key_at):  # one candidate needing more than the budget
            self._reset(len(needed), self.ind.shape[1])
        for k in keys:
            if k in self._slot:
                self._used[self._slot[k]] = self._tick
        missing = [k for k in keys if k not in self._slot]
        if not missing:  # every row in place already (from an earlier row group)
            return {k: self._slot[k] for k in keys}, missing
        free = sorted(
            (i for i, k in enumerate(self._key_at) if k not in needed),
            key=lambda i: (self._key_at[i] is not None, self._used[i]),
        )
        for k, i in zip(missing, free, strict=False):
            self._slot.pop(self._key_at[i], None)
            self._key_at[i], self._used[i] = k, self._tick
            self._slot[k] = i
        return {k: self._slot[k] for k in keys}, missing


# Indicator rows are computed on several threads only from this many values (rows x
# bars): below it, starting the threads costs more than the rows.
_THREADED_ROWS_FROM = 1 << 20


@dataclass(frozen=True)
class _Call:
    """What every chunk of one `evaluate_many` call shares; `out` and `errors` are
    filled per candidate position."""

    bars: Bars
    strat: Strategy
    cache: IndicatorCache
    slots: _RowSlots
    plans: RulePlans
    per_settings: np.ndarray
    out: np.ndarray
    errors: list[str | None]
    keep_rows: bool = True  # the indicator rows kept in `cache` too
    passes: int | None = None  # a metric subset without the tails: `run_but_tails`'s
    one_group: bool = False  # one chunk: every plan, in order (`group_by_rows` reorders)
    pool: ManyPool = field(default_factory=ManyPool)  # the kernel's buffers, for every chunk


def _run_chunk(call: _Call, chunk: np.ndarray) -> None:
    """Run the plans at places `chunk` of ``call.plans``."""
    bars, strat, cache, slots, plans = call.bars, call.strat, call.cache, call.slots, call.plans
    keys = plans.keys
    if call.one_group:
        # every plan: it reads every row of the call, in number order (what the
        # unique ids give, without gathering them)
        wanted = list(range(len(keys)))
    else:
        ids = plans.ids[chunk]
        wanted = np.unique(ids[ids >= 0]).tolist()
    slot, missing = slots.place(wanted)
    fresh = [i for i in missing if isinstance(keys[i], Indicator)]
    big = len(fresh) * len(bars) >= _THREADED_ROWS_FROM
    threads = numba.get_num_threads() if big else 1
    # a metric subset's moving averages: computed in the kernel's launch (no one reads
    # the rows before it)
    sma = cache.fill_rows([keys[i] for i in fresh], slots.ind, threads=threads,
                          rows=[slot[i] for i in fresh], keep=call.keep_rows,
                          defer=call.passes is not None)  # fmt: skip
    runnable = np.ones(len(chunk), dtype=np.bool_)
    for j in np.flatnonzero(plans.own[chunk]).tolist():
        c = int(chunk[j])
        try:
            signals = _user_signals(strat, bars, plans.params[c], cache)
        except Exception as exc:  # user code: isolate the candidate
            call.errors[int(plans.pos[c])] = describe_error(exc)
            runnable[j] = False
            continue
        slots.ind[slot[int(plans.ids[c, 0])]] = signals
    places = chunk[runnable]
    if not len(places):
        return
    every = call.one_group and len(places) == len(chunk)  # the call's one chunk, all run
    k_rules, k_levels = _kernel_rules(plans, places, slot, every)
    index = plans.pos[places]
    ex = np.ascontiguousarray(call.per_settings[index])
    result = np.empty((len(places), len(METRICS)))
    ohlc = (bars.open, bars.high, bars.low, bars.close)
    ppy = float(bars.periods_per_year)
    if call.passes is None:
        run_many(ohlc, slots.ind, k_rules, k_levels, ex, ppy, result, pool=call.pool)
    else:
        cand = (k_rules, k_levels, ex)
        run_but_tails_after(sma, ohlc, slots.ind, cand, ppy, result, call.passes)
    call.out[index] = result


def _kernel_rules(
    plans: RulePlans, places: np.ndarray, slot: dict[int, int], every: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """int64[k, MAX_RULES, 5] rules and float64[k, MAX_RULES] levels of the plans at
    `places` (`every`: they are all the plans, in order), each row reference turned
    into the row's slot."""
    slot_of = np.zeros(len(plans.keys), dtype=np.int64)
    slot_of[np.fromiter(slot, dtype=np.int64)] = np.fromiter(slot.values(), dtype=np.int64)
    if every:  # every plan, in order: the plans' own arrays
        ids, tables, levels = plans.ids, plans.tables.copy(), plans.levels
    else:
        ids, tables, levels = plans.ids[places], plans.tables[places], plans.levels[places]
    if plans.one_shape and len(places):
        # one rule shape (a sweep's one program): each operand column read from one
        # place of the candidates' rows, a column at a time
        head = tables[0, :, :3].copy()
        read = (head[:, :1] != engine_nb.RULE_NONE) & (head[:, 1:] >= 0)
        for r, col in zip(*np.nonzero(read), strict=True):
            tables[:, r, col + 1] = slot_of[ids[:, head[r, col + 1]]]
    else:
        rows = np.where(ids >= 0, slot_of[ids], 0)
        # both operand columns (a place among the candidate's rows, or -1) in one gather
        refs = tables[:, :, 1:3]
        ref = (tables[:, :, :1] != engine_nb.RULE_NONE) & (refs >= 0)
        where = np.where(ref, refs, 0)
        np.copyto(refs, rows[np.arange(len(places))[:, None, None], where], where=ref)
    own = plans.own[places]
    if own.any():
        tables[own, 0, 2] = 0  # a signal-codes rule reads one row
    return np.ascontiguousarray(tables), np.ascontiguousarray(levels)


def _user_signals(
    strat: Strategy, bars: Bars, p: dict[str, Any], cache: IndicatorCache
) -> np.ndarray:
    """The codes a strategy's own `signals()` returned, checked (StrategyError: a bool
    array, another length, a value that is no `Signal` code)."""
    signals = np.asarray(strat.signals(bars, p, cache))
    if signals.dtype == np.bool_:  # vectorbt-style entries: would read as buy, then hold
        raise StrategyError(
            f"strategy {strat.name!r} returned a bool array from signals(); return int8 "
            "Signal codes per bar (1 long, -1 short, 2 exit, 0 nothing; see docs/engine.md)"
        )
    if signals.shape != (len(bars),):
        raise StrategyError(
            f"strategy {strat.name!r} returned signals of shape {signals.shape}, "
            f"expected ({len(bars)},): one code per bar"
        )
    bad = ~np.isin(signals, (-1, 0, 1, 2, 3, 4))
    if bad.any():
        i = int(np.argmax(bad))
        raise StrategyError(f"strategy {strat.name!r} returned signal {signals[i]!r} at bar {i}")
    return signals.astype(np.float64)


def study_bars(study: StudyConfig) -> list[Bars]:
    """The bars a study runs on: each data file (or the synthetic series), selected."""
    data = study.data
    if data.synthetic is not None:
        syn = data.synthetic
        bars = synthetic_bars(
            syn.bars,
            seed=syn.seed,
            interval=syn.interval,
            start=syn.start,
            volatility=syn.volatility,
            edge=(
                PlantedEdge(period=syn.edge_period, strength=syn.edge_strength)
                if syn.edge_period
                else None
            ),
            symbol=syn.symbol,
        )
        frame = select_range(bars.to_frame(), start=data.start, end=data.end, source=syn.symbol)
        out = Bars.from_frame(
            frame,
            symbol=bars.symbol,
            source="synthetic",
            periods_per_year=bars.periods_per_year,
            annualization_rule=bars.annualization_rule,
        )
        if data.timeframe:
            out = resample(out, data.timeframe)
        if data.periods_per_year:
            out = dataclasses.replace(
                out, periods_per_year=data.periods_per_year, annualization_rule=GIVEN_RULE
            )
        return [out]
    series = [
        load_bars(
            study.resolve_path(path),
            start=data.start,
            end=data.end,
            timeframe=data.timeframe,
            periods_per_year=data.periods_per_year,
        )
        for path in data.paths
    ]
    by_symbol: dict[str, str] = {}
    for bars in series:
        if bars.symbol in by_symbol:
            raise ConfigError(
                f"data.path: {by_symbol[bars.symbol]} and {bars.source} are both symbol "
                f"{bars.symbol!r} (the file name up to the first '_' or '.'); rename one"
            )
        by_symbol[bars.symbol] = bars.source
    return series


def backtest_study(study: StudyConfig) -> list[BacktestResult]:
    """Backtest the study's fixed parameters on each of its data series."""
    if study.strategy is None:
        raise ConfigError(
            "evaluator: this study runs an external evaluator; `stratopt backtest` runs "
            "stratopt's own strategies only (optimize, walk-forward and validate run it)"
        )
    strat = get_strategy(study.strategy, base_dir=study.base_dir)
    settings = study.backtest.to_settings()
    return [backtest(bars, strat, study.params, settings) for bars in study_bars(study)]

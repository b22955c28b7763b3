from __future__ import annotations

import math
import re
from typing import Any

import numba
import numpy as np
import pytest

from stratopt.backtest import backtest, evaluate_many
from stratopt.data import Bars
from stratopt.engine import ExecSettings, Signal
from stratopt.errors import StrategyError
from stratopt.metrics import METRICS
from stratopt.strategies import IndicatorCache, IntParam, Strategy, above, below, on, sma


def _bars(n: int = 2000, seed: int = 11) -> Bars:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.r_[100.0, close[:-1]] * np.exp(rng.normal(0, 0.002, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n))
    time = (np.datetime64("2015-01-01") + np.arange(n)).astype("datetime64[ns]")
    return Bars(time, open_, high, low, close, np.ones(n), symbol="RND")


class Flip(Strategy):
    """A numpy strategy: long on even multiples of `every`, short on odd ones."""

    name = "flip"
    every = IntParam(50, low=1)

    def signals(self, bars: Bars, p: dict[str, Any], cache: Any) -> np.ndarray:
        if p["every"] == 13:
            raise RuntimeError("unlucky")
        out = np.zeros(len(bars), dtype=np.int8)
        idx = np.arange(0, len(bars), p["every"])
        out[idx] = np.where((idx // p["every"]) % 2 == 0, 1, -1)
        return out


SETTINGS = [
    ExecSettings(commission=0.001),
    ExecSettings(fill="close", slippage_bps=3, stop_loss=0.03, take_profit=0.06),
    ExecSettings(sizing="risk", size=0.01, stop_loss=0.02, whole_units=True, max_leverage=2),
    ExecSettings(direction="long", trailing_stop=0.04, max_bars=30, holding_cost=1e-4),
]


def _assert_same_metrics(batch_row: Any, single: dict[str, float]) -> None:
    for m in METRICS:
        a, b = float(batch_row[m.id]), single[m.id]
        assert a == pytest.approx(b, rel=1e-12, abs=1e-12, nan_ok=True), m.id


@pytest.mark.parametrize("settings", SETTINGS)
def test_batch_metrics_equal_single_backtests(settings: ExecSettings) -> None:
    bars = _bars()
    grid = [{"fast": f, "slow": s} for f in (3, 8, 15) for s in (20, 45)]
    batch = evaluate_many(bars, "sma_cross", grid, settings)
    assert batch.errors == [None] * len(grid)
    for k, params in enumerate(grid):
        single = backtest(bars, "sma_cross", params, settings)
        _assert_same_metrics(batch.metrics.iloc[k], single.metrics)
        assert batch.metrics.iloc[k]["trades"] == single.n_trades > 0


def test_batch_is_chunked_without_changing_results() -> None:
    bars = _bars()
    grid = [{"fast": f, "slow": s} for f in range(2, 20, 3) for s in range(22, 80, 7)]
    whole = evaluate_many(bars, "ema_cross", grid, SETTINGS[0])
    tiny = evaluate_many(bars, "ema_cross", grid, SETTINGS[0], max_indicator_bytes=1)
    np.testing.assert_array_equal(whole.metrics.to_numpy(), tiny.metrics.to_numpy())


@pytest.mark.parametrize("rows", [2, 3, 5, 9])
def test_rows_kept_between_groups_do_not_change_results(rows: int) -> None:
    # Budgets of a few rows force many groups, kept rows, evictions and reused slots.
    bars = _bars()
    grid = [{"fast": f, "slow": s} for f in range(2, 20, 3) for s in range(22, 80, 7)]
    whole = evaluate_many(bars, "sma_cross", grid, SETTINGS[0])
    parts = evaluate_many(
        bars, "sma_cross", grid, SETTINGS[0], max_indicator_bytes=rows * 8 * len(bars)
    )
    np.testing.assert_array_equal(whole.metrics.to_numpy(), parts.metrics.to_numpy())
    cands: list[dict[str, Any]] = [{"every": e} for e in (40, 13, 0, 77, 21, 5, 60)]
    whole = evaluate_many(bars, Flip, cands, SETTINGS[1])
    parts = evaluate_many(bars, Flip, cands, SETTINGS[1], max_indicator_bytes=rows * 8 * len(bars))
    np.testing.assert_array_equal(whole.metrics.to_numpy(), parts.metrics.to_numpy())
    assert parts.errors == whole.errors


@pytest.mark.parametrize("rows", [None, 3, 7])
def test_a_cache_shared_by_calls_does_not_change_results(rows: int | None) -> None:
    """A study's cache passed call after call (its rows reused, others computed):
    calls sharing some rows and not others, and a call of numpy signals between them,
    give each call's bits without the cache."""
    bars = _bars()
    budget = {} if rows is None else {"max_indicator_bytes": rows * 8 * len(bars)}
    cache = IndicatorCache(bars, max_bytes=2**20)  # room for 2 x 32 rows of 2,000 bars
    calls: list[tuple[Any, list[dict[str, Any]]]] = [
        ("sma_cross", [{"fast": f, "slow": s} for f in (2, 5, 9) for s in (22, 40)]),
        ("sma_cross", [{"fast": f, "slow": s} for f in (5, 11, 3) for s in (40, 60, 75)]),
        (Flip, [{"every": e} for e in (40, 13, 77)]),
        ("ema_cross", [{"fast": f, "slow": s} for f in (5, 9) for s in (22, 40)]),
        ("sma_cross", [{"fast": f, "slow": s} for f in (2, 4, 11) for s in (22, 23, 60)]),
        ("sma_cross", [{"fast": f, "slow": s} for f in range(2, 40) for s in (45, 50)]),
        ("sma_cross", [{"fast": f, "slow": s} for f in (9, 2) for s in (41, 22)]),
    ]
    for strategy, cands in calls:
        kept = evaluate_many(bars, strategy, cands, SETTINGS[0], cache=cache, **budget)
        alone = evaluate_many(bars, strategy, cands, SETTINGS[0], **budget)
        np.testing.assert_array_equal(kept.metrics.to_numpy(), alone.metrics.to_numpy())
        assert kept.errors == alone.errors


def test_a_call_that_raises_leaves_a_shared_cache_giving_the_same_bits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A call that fails while it plans its moving averages (where a window beyond
    int64 failed it, before those were refused as parameters) raises before its rows
    are written; the next call on the same cache still gives the bits of a fresh one."""
    bars = _bars()
    cache = IndicatorCache(bars, max_bytes=64 * 2**20)

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise OverflowError("Python int too large to convert to C long")

    with monkeypatch.context() as patch:
        patch.setattr(IndicatorCache, "_sma_jobs", fail)
        with pytest.raises(OverflowError):
            evaluate_many(bars, "sma_cross", [{"fast": 5, "slow": 60}, {"fast": 7, "slow": 40}],
                          SETTINGS[0], cache=cache)  # fmt: skip
    cands = [{"fast": 5, "slow": 40}, {"fast": 7, "slow": 40}]
    after = evaluate_many(bars, "sma_cross", cands, SETTINGS[0], cache=cache)
    fresh = evaluate_many(bars, "sma_cross", cands, SETTINGS[0])
    assert after.metrics.to_numpy().tobytes() == fresh.metrics.to_numpy().tobytes()


class ScaledWindow(Strategy):
    """Rules whose window a parameter scales: its product can pass int64."""

    name = "scaled_window"
    window = IntParam(5, low=2)
    scale = IntParam(1, low=1)

    def rules(self, p: dict[str, Any]) -> list[Any]:
        avg = sma("close", p["window"] * p["scale"])
        return [on(above("close", avg), Signal.LONG), on(below("close", avg), Signal.SHORT)]


@pytest.mark.parametrize("sweep", [2, 40], ids=["one_by_one", "columns"])
def test_a_window_beyond_int64_is_refused_for_its_candidate_alone(sweep: int) -> None:
    """An int parameter beyond ±2**53 (what the config and the search allow; a window
    past int64 made the whole call raise OverflowError) gets its candidate a message
    naming the parameter and the value; the others get the bits they get without it.
    Both ways of resolving (one by one, and a sweep's columns) refuse it."""
    bars = _bars()
    good = [{"fast": 5, "slow": s} for s in range(20, 20 + sweep)]
    bad = [{"fast": 5, "slow": 2**63}, {"fast": -(2**53) - 1, "slow": 30}, {"slow": 2**70}]
    batch = evaluate_many(bars, "sma_cross", [*bad, *good], SETTINGS[0])
    values = ("'slow'", 2**63), ("'fast'", -(2**53) - 1), ("'slow'", 2**70)
    for error, (name, value) in zip(batch.errors[:3], values, strict=True):
        assert error == f"parameter {name} must lie within ±2**53, got {value}"
    assert batch.errors[3:] == [None] * sweep and batch.infeasible == [False] * (3 + sweep)
    assert batch.metrics.iloc[:3].isna().all().all()
    alone = evaluate_many(bars, "sma_cross", good, SETTINGS[0])
    assert batch.metrics.iloc[3:].to_numpy().tobytes() == alone.metrics.to_numpy().tobytes()
    edge = evaluate_many(bars, "sma_cross", [{"fast": 5, "slow": 2**53}], SETTINGS[0])
    assert edge.errors == [None]  # the bound itself is a window (longer than the bars)


def test_a_computed_window_beyond_int64_is_refused_for_its_candidate_alone() -> None:
    bars = _bars()
    cands = [{"window": 2**30, "scale": 2**40}, {"window": 4, "scale": 2}, {"window": 5}]
    batch = evaluate_many(bars, ScaledWindow, cands, SETTINGS[0])
    assert batch.errors[0] == f"sma: window must be from 1 to 2**53 bars, got {2**70}"
    assert batch.errors[1:] == [None, None]
    alone = evaluate_many(bars, ScaledWindow, cands[1:], SETTINGS[0])
    assert batch.metrics.iloc[1:].to_numpy().tobytes() == alone.metrics.to_numpy().tobytes()


class GapWindow(Strategy):
    """Rules whose window is a difference of parameters: it can be 0 or below."""

    name = "gap_window"
    fast = IntParam(5, low=1)
    slow = IntParam(20, low=1)

    def rules(self, p: dict[str, Any]) -> list[Any]:
        avg = sma("close", p["slow"] - p["fast"])
        return [on(above("close", avg), Signal.LONG), on(below("close", avg), Signal.SHORT)]


def test_a_computed_window_below_one_bar_is_refused_for_its_candidate_alone() -> None:
    """A window of 0 made the whole call raise ZeroDivisionError, and a negative one
    read outside the series (metrics of whatever lay there, or a crash): each gets its
    candidate a message naming the indicator and the value; the others keep their bits."""
    bars = _bars()
    cands = [{"fast": 20, "slow": 20}, {"fast": 25, "slow": 20}, {"fast": 801, "slow": 1},
             {"fast": 5, "slow": 40}, {"fast": 10, "slow": 30}]  # fmt: skip
    batch = evaluate_many(bars, GapWindow, cands, SETTINGS[0])
    for error, window in zip(batch.errors[:3], (0, -5, -800), strict=True):
        assert error == f"sma: window must be from 1 to 2**53 bars, got {window}"
    assert batch.errors[3:] == [None, None]
    assert batch.metrics.iloc[:3].isna().all().all()
    alone = evaluate_many(bars, GapWindow, cands[3:], SETTINGS[0])
    assert batch.metrics.iloc[3:].to_numpy().tobytes() == alone.metrics.to_numpy().tobytes()


@pytest.mark.parametrize("window", [0, -1, 2**53 + 1, math.inf, -math.inf, math.nan])
def test_an_indicator_refuses_a_window_outside_one_to_2_53_bars_naming_itself(
    window: float,
) -> None:
    message = f"sma: window must be from 1 to 2**53 bars, got {window!r}"
    with pytest.raises(StrategyError, match=f"^{re.escape(message)}$"):
        sma("close", window)  # type: ignore[arg-type]


def test_numpy_strategy_and_isolated_failures() -> None:
    bars = _bars()
    cands: list[dict[str, Any]] = [{"every": 40}, {"every": 13}, {"every": 0}, {"every": 77}]
    batch = evaluate_many(bars, Flip, cands, SETTINGS[1])
    assert batch.errors[0] is None and batch.errors[3] is None
    assert batch.errors[1] == "RuntimeError: unlucky"
    assert "'every' must be >= 1" in str(batch.errors[2])
    assert batch.metrics.iloc[[1, 2]].isna().all().all()
    single = backtest(bars, Flip, {"every": 77}, SETTINGS[1])
    _assert_same_metrics(batch.metrics.iloc[3], single.metrics)


def test_per_candidate_settings() -> None:
    bars = _bars()
    grid = [{"fast": 5, "slow": 30}] * len(SETTINGS)
    batch = evaluate_many(bars, "sma_cross", grid, SETTINGS)
    for k, settings in enumerate(SETTINGS):
        single = backtest(bars, "sma_cross", grid[k], settings)
        _assert_same_metrics(batch.metrics.iloc[k], single.metrics)


def test_backtest_result_frames() -> None:
    bars = _bars()
    res = backtest(bars, "sma_cross", {"fast": 5, "slow": 30}, SETTINGS[0])
    assert res.equity.index.equals(bars.index)
    trades = res.trades
    assert len(trades) == res.n_trades
    assert (trades["exit_time"] >= trades["entry_time"]).all()
    assert set(trades["exit_reason"]) <= {"signal", "end"}
    assert res.final_equity == pytest.approx(
        10_000 + float((trades["pnl"] - trades["fees"]).sum()), rel=1e-12
    )


class LevelOrRow(Strategy):
    """Rules of one shape whose second operand is a level or a row, by parameter: a
    level 0.0 and the candidate's first row must not share a compiled program."""

    name = "level_or_row"
    window = IntParam(5, low=2)
    against = IntParam(0, low=0, high=1)

    def rules(self, p: dict[str, Any]) -> list[Any]:
        fast = sma("close", p["window"])
        b: Any = 0.0 if p["against"] == 0 else fast
        return [
            on(above(fast, b, shift=1), Signal.LONG),
            on(below(fast, 100.0), Signal.SHORT),
        ]


def test_candidates_share_rule_programs_only_when_the_same() -> None:
    bars = _bars()
    cands = [{"window": w, "against": a} for w in (3, 9) for a in (0, 1, 0)]
    batch = evaluate_many(bars, LevelOrRow, cands, SETTINGS[0])
    assert batch.errors == [None] * len(cands)
    for k, params in enumerate(cands):
        single = backtest(bars, LevelOrRow, params, SETTINGS[0])
        _assert_same_metrics(batch.metrics.iloc[k], single.metrics)


@pytest.mark.parametrize("rows", [None, 3])
def test_batch_is_the_one_candidate_path_bit_for_bit(rows: int | None) -> None:
    """Every metric of every candidate is the bits `backtest` gives for it alone:
    rule programs shared or not, rows in one group or in many, settings per candidate,
    candidates that cannot run among them (NaN rows)."""
    bars = _bars()
    budget = {} if rows is None else {"max_indicator_bytes": rows * 8 * len(bars)}
    cases: list[tuple[Any, list[dict[str, Any]]]] = [
        ("sma_cross", [{"fast": f, "slow": s, "mode": m} for f in (3, 8) for s in (8, 21, 45)
                       for m in ("reversal", "long_only")]),
        (LevelOrRow, [{"window": w, "against": a} for w in (3, 9, 3) for a in (0, 1)]),
        (Flip, [{"every": e} for e in (40, 13, 77, 5)]),
    ]  # fmt: skip
    for strategy, cands in cases:
        settings = [SETTINGS[k % len(SETTINGS)] for k in range(len(cands))]
        batch = evaluate_many(bars, strategy, cands, settings, **budget)
        for k, params in enumerate(cands):
            got = batch.metrics.iloc[k].to_numpy()
            if batch.errors[k] is not None:
                assert np.isnan(got).all()
                continue
            single = backtest(bars, strategy, params, settings[k]).metrics
            want = np.array([single[m.id] for m in METRICS])
            assert got.tobytes() == want.tobytes(), (strategy, params)


def test_a_subset_sweep_on_threads_computes_its_moving_averages_in_the_launch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A metric subset's sweep on several threads hands its moving averages to the
    kernel's launch (`run_but_tails_after`), whose threads share out their groups of
    four windows before the candidates: each value is still the full pass's bits (with
    groups of windows that both threads compute, and the launch seen taken)."""
    import stratopt.backtest as backtest_module
    import stratopt.strategies._sma_first as sma_first

    if numba.get_num_threads() < 2:
        pytest.skip("one numba thread: no launch to share")
    launches = []
    kernel = sma_first.sma_then_run_but_tails_threads_nb

    def counted(*args: Any) -> None:
        launches.append(args[1].shape[0])  # the windows
        kernel(*args)

    monkeypatch.setattr(sma_first, "sma_then_run_but_tails_threads_nb", counted)
    reset = backtest_module._RowSlots._reset

    def poisoned(self: Any, n_rows: int, n_bars: int) -> None:
        reset(self, n_rows, n_bars)
        self.ind.fill(np.inf)  # a row never written is not an earlier call's, reused

    monkeypatch.setattr(backtest_module._RowSlots, "_reset", poisoned)
    bars = _bars(3000)
    cands = [{"fast": f, "slow": s, "mode": m} for f in range(3, 30, 3) for s in range(31, 90, 4)
             for m in ("reversal", "long_only")]  # fmt: skip
    full = evaluate_many(bars, "sma_cross", cands, SETTINGS[0]).metrics
    others = [m.id for m in METRICS if m.id not in ("var_95", "cvar_95", "tail_ratio")]
    for ids in (["final_equity", "trades", "sharpe"], others, ["max_drawdown"]):
        got = evaluate_many(bars, "sma_cross", cands, SETTINGS[0], metrics=ids).metrics
        assert got.to_numpy().tobytes() == full[ids].to_numpy().tobytes(), ids
    assert launches == [24, 24, 24]  # 9 fast and 15 slow windows: six groups


@pytest.mark.parametrize("n_bars", [700, 9000])
def test_metric_subsets_are_the_full_pass_bit_for_bit(n_bars: int) -> None:
    """`evaluate_many(metrics=...)` without the tails runs its own kernel; each value is
    the full pass's bits: every metric but the tails, in another order, on one
    simulation chunk and several, one thread and several, candidates that cannot run
    among them, each metric alone (the least of the pass it needs); with a tail metric
    named, the full pass."""
    bars = _bars(n_bars)
    cases: list[tuple[Any, list[dict[str, Any]]]] = [
        ("sma_cross", [{"fast": f, "slow": s, "mode": m} for f in (3, 8, 0) for s in (21, 45)
                       for m in ("reversal", "long_only")]),
        (Flip, [{"every": e} for e in (40, 13, 77, 5)]),
    ]  # fmt: skip
    tails = ["var_95", "cvar_95", "tail_ratio"]
    for strategy, cands in cases:
        settings = [SETTINGS[k % len(SETTINGS)] for k in range(len(cands))]
        full = evaluate_many(bars, strategy, cands, settings).metrics
        others = [m.id for m in METRICS if m.id not in tails][::-1]
        three = ["final_equity", "trades", "sharpe"]
        alone = [[m] for m in others]  # each with the least of the pass it needs
        for ids in (others, three, *alone, ["sharpe", *tails]):
            got = evaluate_many(bars, strategy, cands, settings, metrics=ids).metrics
            assert list(got.columns) == ids
            assert got.to_numpy().tobytes() == full[ids].to_numpy().tobytes(), (strategy, ids)
    for ids in (None, ["sharpe"], None, ["sharpe"]):  # the columns of one frame are its own
        frame = evaluate_many(bars, "sma_cross", [{}], metrics=ids).metrics
        assert frame.columns.name is None
        frame.columns.name = "metric"
    twice = evaluate_many(bars, "sma_cross", [{}], metrics=["trades", "sharpe", "trades"])
    assert list(twice.metrics.columns) == ["trades", "sharpe"]
    with pytest.raises(ValueError, match="did you mean 'sharpe'"):
        evaluate_many(bars, "sma_cross", [{}], metrics=["sharp"])

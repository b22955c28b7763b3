"""`run_but_tails`: candidates claimed from shared counters, on threads or not.

The subset kernel's threads (numba's, `run_but_tails_threads_nb`) take the candidates
from one pair of counters (taken, done; `stratopt.engine._claim_nb`): whatever thread
computes a candidate, and however many threads join, each candidate gets the full
pass's bits once, and a thread that starts after every candidate was taken writes
nothing.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from stratopt.engine import PASS_DRAWDOWN, PASS_SUMS, _many, run_but_tails, run_many
from stratopt.engine._subset_nb import CLAIM_STEP, run_but_tails_nb, run_but_tails_threads_nb
from stratopt.metrics import METRIC_IDS, N_METRICS
from tests.engine._random import random_bars
from tests.engine.test_many_candidates import random_candidates, random_indicators

K = 4 * CLAIM_STEP + 3  # the last claim short
BUT_TAILS = [i for i, m in enumerate(METRIC_IDS) if m not in ("var_95", "cvar_95", "tail_ratio")]


def _inputs() -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    bars = random_bars(rng, 700)
    ohlc = tuple(np.ascontiguousarray(getattr(bars, f)) for f in ("open", "high", "low", "close"))
    rules, levels, exs = random_candidates(rng, K, fill="next_open", direction="both")
    return ohlc, random_indicators(rng, 700), rules, levels, exs


@pytest.mark.parametrize("threaded", [True, False])
def test_candidates_shared_by_threads_get_the_full_pass_bits(
    monkeypatch: pytest.MonkeyPatch, threaded: bool
) -> None:
    monkeypatch.setattr(_many, "THREADED_FROM", 0 if threaded else 1 << 62)
    ohlc, ind, rules, levels, exs = _inputs()
    full = np.full((K, N_METRICS), np.nan)
    run_many(ohlc, ind, rules, levels, exs, 252.0, full)  # type: ignore[arg-type]
    for _ in range(20):  # threads meet in other places on each call
        got = np.full_like(full, np.nan)
        run_but_tails(ohlc, ind, rules, levels, exs, 252.0, got, PASS_DRAWDOWN)  # type: ignore[arg-type]
        assert got[:, BUT_TAILS].tobytes() == full[:, BUT_TAILS].tobytes()


def test_a_thread_that_starts_after_every_candidate_was_taken_writes_nothing() -> None:
    ohlc, ind, rules, levels, exs = _inputs()
    counters = np.zeros(2, dtype=np.int64)
    first = np.full((K, N_METRICS), np.nan)
    run_but_tails_nb(*ohlc, ind, rules, levels, exs, 252.0, first, PASS_SUMS, counters)
    assert counters[1] == K and not np.isnan(first[:, METRIC_IDS.index("sharpe")]).any()
    late = np.full((K, N_METRICS), 7.0)
    run_but_tails_nb(*ohlc, ind, rules, levels, exs, 252.0, late, PASS_SUMS, counters)
    assert (late == 7.0).all() and counters[1] == K


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_numba_threads_share_the_callers_counters_and_give_the_full_pass_bits(
    threads: int,
) -> None:
    """`run_but_tails_threads_nb`: every candidate claimed and counted once in the
    counters passed, by however many threads (more than the cores too)."""
    ohlc, ind, rules, levels, exs = _inputs()
    full = np.full((K, N_METRICS), np.nan)
    run_many(ohlc, ind, rules, levels, exs, 252.0, full)  # type: ignore[arg-type]
    for _ in range(10):
        counters = np.zeros(2, dtype=np.int64)
        got = np.full_like(full, np.nan)
        run_but_tails_threads_nb(
            *ohlc, ind, rules, levels, exs, 252.0, got, PASS_DRAWDOWN, counters, threads
        )  # fmt: skip
        assert counters[1] == K and counters[0] >= K
        assert got[:, BUT_TAILS].tobytes() == full[:, BUT_TAILS].tobytes()


def test_a_call_during_another_threads_launch_runs_on_its_own_thread_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While one thread's launch of numba's threads runs (`_many._LAUNCH` held), another
    caller computes its candidates on its own thread instead of waiting for the launch."""
    monkeypatch.setattr(_many, "THREADED_FROM", 0)
    ohlc, ind, rules, levels, exs = _inputs()
    full = np.full((K, N_METRICS), np.nan)
    run_many(ohlc, ind, rules, levels, exs, 252.0, full)  # type: ignore[arg-type]
    got = np.full_like(full, np.nan)

    def call() -> None:
        run_but_tails(ohlc, ind, rules, levels, exs, 252.0, got, PASS_DRAWDOWN)  # type: ignore[arg-type]

    with _many._LAUNCH:  # another thread's launch, as far as this call can tell
        caller = threading.Thread(target=call, daemon=True)
        caller.start()
        caller.join(timeout=30)
        assert not caller.is_alive(), "the call waited for the other launch"
    assert got[:, BUT_TAILS].tobytes() == full[:, BUT_TAILS].tobytes()

"""The many-candidates kernel against the one-candidate path, bit for bit.

`run_many_nb` computes signal codes, simulation and the metrics pass chunk by chunk
(`batch_metrics_nb`), keeping only the returns outside each candidate's band;
`run_one_nb` fills the whole code array, simulates the whole series and runs
`compute_metrics_nb` on the equity curve. Both must give the same bits for every
metric, on random rules, settings and price paths, including no trades, flat equity
(zero variance) and ruin. The chunked rule evaluation is checked against a
plain-Python reading of the rules.
"""

from __future__ import annotations

import itertools
import math
import zlib

import numpy as np
import pytest

from stratopt.engine import _many, _nb, run_many
from stratopt.engine._types import ExecSettings, pack_settings
from stratopt.metrics import METRIC_IDS, N_METRICS
from stratopt.metrics._nb import (
    N_ACC,
    N_TRADE_STATS,
    metrics_begin_nb,
    metrics_chunk_nb,
    metrics_finish_nb,
)
from tests.engine._random import (
    EXIT_RULES,
    SIZINGS,
    Bars,
    random_bars,
    random_settings_kwargs,
)

RULE_KINDS = (
    _nb.RULE_CROSS_ABOVE,
    _nb.RULE_CROSS_BELOW,
    _nb.RULE_ABOVE,
    _nb.RULE_BELOW,
    _nb.RULE_CODES,
)
CODES = (1, -1, 2, 3, 4)


def rules_reference(ind: np.ndarray, rules: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Per bar, the code of the first rule that fires (docs/engine.md), in plain Python."""
    n = ind.shape[1]
    out = np.zeros(n, dtype=np.int8)
    active = []
    for r in range(rules.shape[0]):
        if rules[r, 0] == _nb.RULE_NONE:
            break
        active.append(r)
    for j in range(n):
        for r in active:
            kind, a_row, b_row, code, shift = (int(x) for x in rules[r])
            a = ind[a_row]

            def b(i: int, b_row: int = b_row, r: int = r) -> float:
                return float(ind[b_row, i]) if b_row >= 0 else float(levels[r])

            if kind == _nb.RULE_CODES:
                v = float(a[j])
                fired = v != 0.0 and not math.isnan(v)
                code = int(v) if fired else 0
            elif kind == _nb.RULE_CROSS_ABOVE:
                fired = j >= 1 and a[j - 1] < b(j - 1) and a[j] > b(j)
            elif kind == _nb.RULE_CROSS_BELOW:
                fired = j >= 1 and a[j - 1] > b(j - 1) and a[j] < b(j)
            elif kind == _nb.RULE_ABOVE:
                fired = j >= shift and a[j] > b(j - shift)
            else:
                fired = j >= shift and a[j] < b(j - shift)
            if fired:
                out[j] = code
                break
    return out


def random_rules(
    rng: np.random.Generator, n_rows: int, code_row: int
) -> tuple[np.ndarray, np.ndarray]:
    """Up to MAX rules of random kinds; often a crossover pair (both orders)."""
    rules = np.zeros((8, 5), dtype=np.int64)
    levels = np.zeros(8)
    r = 0
    if rng.random() < 0.6:  # the fused crossover pair, in either order, maybe first
        a, b = rng.choice(n_rows, 2, replace=False)
        kinds = [_nb.RULE_CROSS_ABOVE, _nb.RULE_CROSS_BELOW]
        if rng.random() < 0.5:
            kinds.reverse()
        if rng.random() < 0.3:
            r = 1
            rules[0] = (_nb.RULE_ABOVE, a, -1, 2, 0)
            levels[0] = rng.normal()
        for kind in kinds:
            rules[r] = (kind, a, b, rng.choice(CODES), 0)
            r += 1
    for i in range(r, int(rng.integers(max(r, 1), 6))):
        kind = int(rng.choice(RULE_KINDS))
        a = code_row if kind == _nb.RULE_CODES else int(rng.integers(n_rows))
        b = int(rng.integers(n_rows)) if rng.random() < 0.7 else -1
        shift = int(rng.integers(0, 3)) if kind in (_nb.RULE_ABOVE, _nb.RULE_BELOW) else 0
        rules[i] = (kind, a, b, rng.choice(CODES), shift)
        levels[i] = rng.normal()
    return rules, levels


def random_indicators(rng: np.random.Generator, n: int) -> np.ndarray:
    """Indicator rows: smooth random walks (crossing each other), ties, a NaN warm-up;
    the last row is a sparse signal-code row for RULE_CODES."""
    rows = np.cumsum(rng.normal(0.0, 1.0, (4, n)), axis=1) * 0.1
    rows[1] = np.round(rows[1] * 4.0) / 4.0  # exact ties with row 1
    rows[2, : int(rng.integers(0, min(n, 50)))] = np.nan
    codes = np.where(rng.random(n) < 0.02, rng.choice(CODES, n), 0).astype(np.float64)
    return np.ascontiguousarray(np.vstack([rows, codes[None, :]]))


@pytest.mark.parametrize("seed", range(12))
def test_chunked_rules_match_the_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 700))
    ind = random_indicators(rng, n)
    for _ in range(6):
        rules, levels = random_rules(rng, 4, 4)
        want = rules_reference(ind, rules, levels)
        np.testing.assert_array_equal(_nb.eval_signals_nb(ind, rules, levels, n), want)
        # chunk by chunk, as the many-candidates kernel does (any chunk size)
        size = int(rng.integers(1, 80))
        got = np.empty(n, dtype=np.int8)
        buf = np.empty(size, dtype=np.int8)
        for j0 in range(0, n, size):
            j1 = min(n, j0 + size)
            _nb.fill_codes_range_nb(ind, rules, levels, buf, j0, j1)
            got[j0:j1] = buf[: j1 - j0]
        np.testing.assert_array_equal(got, want)


def _run_both(
    bars: object, ind: np.ndarray, rules: np.ndarray, levels: np.ndarray, exs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    o, h, lo, c = (np.ascontiguousarray(getattr(bars, f)) for f in ("open", "high", "low", "close"))
    many = np.full((len(rules), N_METRICS), np.nan)
    run_many((o, h, lo, c), ind, rules, levels, exs, 252.0, many)
    one = np.stack(
        [
            _nb.run_one_nb(o, h, lo, c, ind, rules[k], levels[k], exs[k], 252.0, False)[4]
            for k in range(len(rules))
        ]
    )
    return many, one


def _assert_same_bits(many: np.ndarray, one: np.ndarray) -> None:
    for k in range(len(many)):
        for i, name in enumerate(METRIC_IDS):
            a, b = many[k, i], one[k, i]
            assert a == b or (math.isnan(a) and math.isnan(b)), (k, name, a, b)


COMBOS = list(itertools.product(("next_open", "close"), ("both", "long", "short")))


@pytest.mark.parametrize(("fill", "direction"), COMBOS)
def test_many_equals_one_bit_for_bit(fill: str, direction: str) -> None:
    """Random rules x settings x path lengths around the chunk and sample sizes."""
    rng = np.random.default_rng(zlib.crc32(f"{fill}/{direction}".encode()))
    for n in (3, 700, 2047, _nb.SIM_CHUNK + 1, 2 * _nb.SIM_CHUNK + 333):
        bars = random_bars(rng, n, grid=bool(rng.random() < 0.3))
        ind = random_indicators(rng, n)
        rules, levels, exs = random_candidates(rng, 8, fill=fill, direction=direction)
        many, one = _run_both(bars, ind, rules, levels, exs)
        _assert_same_bits(many, one)


def random_candidates(
    rng: np.random.Generator, k: int, *, fill: str, direction: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``k`` candidates: random rules (int64[k, 8, 5]), levels and packed settings."""
    rules = np.zeros((k, 8, 5), dtype=np.int64)
    levels = np.zeros((k, 8))
    exs = []
    for i in range(k):
        rules[i], levels[i] = random_rules(rng, 4, 4)
        kw = random_settings_kwargs(
            rng,
            fill=fill,
            direction=direction,
            sizing=str(rng.choice(SIZINGS)),
            exits=str(rng.choice(EXIT_RULES)),
        )
        exs.append(pack_settings(ExecSettings(**kw)))
    return rules, levels, np.stack(exs)


def wild_then_calm() -> tuple[Bars, np.ndarray, np.ndarray, np.ndarray]:
    """A wild first quarter and a calm rest, and a candidate long throughout (its
    code row, rules, settings): its tails fall inside the band the metrics placed early."""
    n = 10 * _nb.SIM_CHUNK + 77
    rng = np.random.default_rng(11)
    steps = rng.normal(0.0, 1e-4, n)
    steps[: n // 4] *= 30.0
    close = np.ascontiguousarray(100.0 * np.cumprod(1.0 + steps))
    row = np.zeros((1, n))
    row[0, 0] = 1.0  # long from the first open, held to the end
    rules = np.zeros((1, 8, 5), dtype=np.int64)
    rules[0, 0] = (_nb.RULE_CODES, 0, 0, 0, 0)
    ex = pack_settings(ExecSettings(cash=1_000.0, fill="close"))
    return Bars(close, close, close, close), row, rules, ex


def test_many_equals_one_edge_cases() -> None:
    """No signal at all (flat equity: zero variance, no trades), one trade held to the
    end, and ruin (a short on a price that multiplies: equity falls below zero)."""
    n = 2 * _nb.SIM_CHUNK + 5
    rng = np.random.default_rng(3)
    bars = random_bars(rng, n)
    ramp = np.ascontiguousarray(np.linspace(10.0, 400.0, n))  # a rising market
    up = type(bars)(ramp, ramp * 1.001, ramp * 0.999, ramp)
    codes = np.zeros((1, n))
    never = np.zeros((8, 5), dtype=np.int64)
    never[0] = (_nb.RULE_CODES, 0, 0, 0, 0)
    once = codes.copy()
    once[0, 10] = -1.0  # one short entry, held to the end
    plain = pack_settings(ExecSettings(cash=1_000.0, commission=0.001))
    units = pack_settings(ExecSettings(cash=1_000.0, sizing="units", size=20.0))
    for path, row, ex in (
        (bars, codes, plain),  # no trades, flat equity
        (bars, once, plain),
        (up, once, units),  # 20 units short from ~10 to 400: ruin
    ):
        many, one = _run_both(
            path, np.ascontiguousarray(row), never[None], np.zeros((1, 8)), ex[None]
        )
        _assert_same_bits(many, one)
    assert one[0, METRIC_IDS.index("final_equity")] < 0.0  # the last case was ruined


def test_many_equals_one_when_the_tails_are_simulated_again() -> None:
    """A wild first quarter and a calm rest: a candidate in the market throughout has
    its 5 % quantile inside the band the metrics placed early, so the engine finds its
    tail metrics again from all its returns (rebuilt from the simulation's change log).
    The result is still `run_one_nb`'s, bit for bit, and the quantile is NumPy's."""
    bars, row, rules, ex = wild_then_calm()
    close = bars.close
    many, one = _run_both(bars, row, rules, np.zeros((1, 8)), ex[None])
    _assert_same_bits(many, one)
    equity = _nb.run_one_nb(
        close, close, close, close, row, rules[0], np.zeros(8), ex, 252.0, False
    )[0]
    r = equity / np.concatenate(([1_000.0], equity[:-1])) - 1.0
    assert many[0, METRIC_IDS.index("var_95")] == np.quantile(r, 0.05)
    assert _tails_fall_short(equity, 1_000.0)  # white box


def _tails_fall_short(equity: np.ndarray, cash: float) -> bool:
    """Whether the stored tails of this equity curve fell short (the fallback's case)."""
    n = equity.shape[0]
    acc = np.empty(N_ACC)
    metrics_begin_nb(cash, acc)
    sample, stored, rbuf = np.empty(n), np.empty(n), np.empty(n)
    metrics_chunk_nb(equity, cash, 0, n, rbuf, sample, stored, acc)
    ts = np.zeros(N_TRADE_STATS)
    out = np.empty(N_METRICS)
    return not metrics_finish_nb(n, equity[-1], cash, 0, ts, 252.0, acc, sample, stored, out)


@pytest.mark.parametrize("tiled", [False, True])
def test_threaded_slices_give_the_same_bits(monkeypatch: pytest.MonkeyPatch, tiled: bool) -> None:
    """Slices (or tiles, as on a long series) of candidates on several threads: each
    candidate's bits as on one."""
    monkeypatch.setattr(_many, "THREADED_FROM", 0)
    monkeypatch.setattr(_many, "TILED_FROM", 0 if tiled else 1 << 62)
    # tiles in another order than the candidates', of uneven sizes
    shuffled = np.random.default_rng(6).permutation(23)
    monkeypatch.setattr(_many, "tiles", lambda r, side: (shuffled, [(0, 5), (5, 6), (6, 23)]))
    rng = np.random.default_rng(5)
    n, k = 3 * _nb.SIM_CHUNK + 11, 23
    bars = random_bars(rng, n)
    ind = random_indicators(rng, n)
    rules = np.zeros((k, 8, 5), dtype=np.int64)
    levels = np.zeros((k, 8))
    for i in range(k):
        rules[i], levels[i] = random_rules(rng, 4, 4)
    exs = np.stack(
        [
            pack_settings(
                ExecSettings(
                    **random_settings_kwargs(
                        rng,
                        fill=str(rng.choice(["next_open", "close"])),
                        direction="both",
                        sizing=str(rng.choice(SIZINGS)),
                        exits=str(rng.choice(EXIT_RULES)),
                    )
                )
            )
            for _ in range(k)
        ]
    )
    o, h, lo, c = (np.ascontiguousarray(getattr(bars, f)) for f in ("open", "high", "low", "close"))
    serial = np.full((k, N_METRICS), np.nan)
    one, three = _many.ManyPool(threads=1), _many.ManyPool(threads=3)
    run_many((o, h, lo, c), ind, rules, levels, exs, 252.0, serial, pool=one)
    threaded = np.full((k, N_METRICS), np.nan)
    run_many((o, h, lo, c), ind, rules, levels, exs, 252.0, threaded, pool=three)
    _assert_same_bits(threaded, serial)
    _assert_same_bits(threaded, _run_both(bars, ind, rules, levels, exs)[1])


@pytest.mark.parametrize("tiled", [False, True])
def test_candidates_simulated_again_on_threads(
    monkeypatch: pytest.MonkeyPatch, tiled: bool
) -> None:
    """Several candidates whose tails fell inside the band, on threads."""
    monkeypatch.setattr(_many, "THREADED_FROM", 0)
    monkeypatch.setattr(_many, "TILED_FROM", 0 if tiled else 1 << 62)
    bars, row, one_rule, _ = wild_then_calm()
    close = bars.close
    rules = np.repeat(one_rule, 5, axis=0)
    row = np.repeat(row, 5, axis=0)
    rules[:, 0, 1] = [4, 3, 2, 1, 0]  # the same codes from other rows: tiles reorder them
    ex = np.stack(
        [pack_settings(ExecSettings(cash=c, fill="close")) for c in (1e3, 2e3, 3e3, 4e3, 5e3)]
    )
    many = np.full((5, N_METRICS), np.nan)
    two = _many.ManyPool(threads=2)
    run_many((close, close, close, close), row, rules, np.zeros((5, 8)), ex, 252.0, many, pool=two)
    _assert_same_bits(
        many, _run_both(Bars(close, close, close, close), row, rules, np.zeros((5, 8)), ex)[1]
    )


def _flat_after(n: int, exits: list[int], rng: np.random.Generator) -> tuple[Bars, np.ndarray]:
    """A random walk and one code row per candidate: long from bar 3, out for good at
    ``exits[k]`` (then flat: zero returns to the end)."""
    close = np.ascontiguousarray(100.0 * np.cumprod(1.0 + rng.normal(0.0, 1e-3, n)))
    rows = np.zeros((len(exits), n))
    rows[:, 3] = 1.0
    for k, j in enumerate(exits):
        rows[k, j] = 2.0  # exit
    return Bars(close, close, close, close), rows


def test_tails_inside_the_band_from_the_change_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """Candidates in the market for a first stretch, then flat to the end (as whole
    units leave a drained account): the zeros move the 5 % quantile inside the band
    the metrics placed early, or onto the zeros themselves. The kernel finds the tails
    again from its change log, without simulating from Python, and every metric is
    `run_one_nb`'s, bit for bit."""
    n = 10 * _nb.SIM_CHUNK + 77
    exits = [n // 50, n // 20, n // 10, n // 6, n // 4, 3 * n // 10]
    bars, rows = _flat_after(n, exits, np.random.default_rng(7))
    k = len(exits)
    rules = np.zeros((k, 8, 5), dtype=np.int64)
    for i in range(k):
        rules[i, 0] = (_nb.RULE_CODES, i, 0, 0, 0)
    fills = ("close", "next_open")
    exs = np.stack(
        [
            pack_settings(ExecSettings(cash=1e4, commission=1e-3, fill=fills[i % 2]))
            for i in range(k)
        ]
    )
    redone = []
    one = _many.run_one_nb
    monkeypatch.setattr(_many, "run_one_nb", lambda *a: redone.append(1) or one(*a))
    many, ref = _run_both(bars, np.ascontiguousarray(rows), rules, np.zeros((k, 8)), exs)
    _assert_same_bits(many, ref)
    assert not redone  # nothing went back to Python
    var = many[:, METRIC_IDS.index("var_95")]
    assert (var[:2] == 0.0).all() and (var[2:] < 0.0).all()  # on the zeros; inside the band
    for i in range(k):  # white box: the stored tails fell short for all of them
        equity = _nb.run_one_nb(
            bars.open, bars.high, bars.low, bars.close, rows, rules[i], np.zeros(8), exs[i],
            252.0, False,
        )[0]  # fmt: skip
        assert _tails_fall_short(equity, 1e4)


def test_a_full_change_log_sends_the_candidate_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """A holding cost changes the cash on every bar in the market, more changes than
    the kernel's log holds: such a candidate whose tails fell inside the band is
    simulated again from Python (`run_one_nb`), with the same bits."""
    n = 10 * _nb.SIM_CHUNK + 77
    bars, rows = _flat_after(n, [3 * n // 10], np.random.default_rng(8))
    rules = np.zeros((1, 8, 5), dtype=np.int64)
    rules[0, 0] = (_nb.RULE_CODES, 0, 0, 0, 0)
    ex = pack_settings(ExecSettings(cash=1e4, fill="close", holding_cost=1e-5))
    redone = []
    one = _many.run_one_nb
    monkeypatch.setattr(_many, "run_one_nb", lambda *a: redone.append(1) or one(*a))
    many, ref = _run_both(bars, np.ascontiguousarray(rows), rules, np.zeros((1, 8)), ex[None])
    _assert_same_bits(many, ref)
    assert redone == [1]

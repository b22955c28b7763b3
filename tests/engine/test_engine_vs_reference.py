"""The compiled engine agrees with the pure-Python reference, trade by trade.

Seeded random price paths (with gaps, and some on a 1/8 price grid so that stops and
targets are touched exactly) and sparse random signals are run through
``stratopt.engine.simulate`` and ``tests.engine.reference.simulate_reference`` for
every combination of fill x direction x sizing x exit rules, with random costs.
Trades must match exactly in indices, side and exit reason and to 1e-9 (relative)
in prices, units, pnl, fees and return; the per-bar outputs likewise.
"""

from __future__ import annotations

import itertools
import math
import zlib
from typing import Any

import numpy as np
import pytest

import stratopt.engine as engine
from tests.engine import reference as ref
from tests.engine._random import (
    EXIT_RULES,
    SIZINGS,
    Bars,
    random_bars,
    random_settings_kwargs,
    random_signals,
)

RTOL = 1e-9
PATHS_PER_COMBO = 12
COMBOS = list(
    itertools.product(("next_open", "close"), ("both", "long", "short"), SIZINGS, EXIT_RULES)
)


def _close(a: float, b: float, scale: float = 0.0) -> bool:
    """Equal to RTOL relative, or to RTOL * scale absolute (for values that can be ~0)."""
    return math.isclose(a, b, rel_tol=RTOL, abs_tol=RTOL * scale)


def _describe(bars: Bars, signals: np.ndarray, kw: dict[str, Any]) -> str:
    rows = ",\n".join(
        f"    ({o!r}, {h!r}, {lo!r}, {c!r})"
        for o, h, lo, c in zip(
            bars.open.tolist(),
            bars.high.tolist(),
            bars.low.tolist(),
            bars.close.tolist(),
            strict=True,
        )
    )
    return f"settings = {kw!r}\nsignals = {signals.tolist()!r}\nbars (o, h, l, c) = [\n{rows}\n]"


def _slice(bars: Bars, start: int, stop: int) -> Bars:
    return Bars(*(getattr(bars, f)[start:stop] for f in ("open", "high", "low", "close")))


def shrink(
    bars: Bars, signals: np.ndarray, kw: dict[str, Any]
) -> tuple[Bars, np.ndarray, dict[str, Any]]:
    """A smaller input on which engine and reference still disagree (for the report).

    Greedily cuts bars from the end and the start, clears signals and drops optional
    settings while the disagreement persists.
    """

    def fails(b: Bars, s: np.ndarray, k: dict[str, Any]) -> bool:
        try:
            return bool(compare(b, s, k))
        except Exception:  # an input the engine rejects is not a smaller example
            return False

    progress = True
    while progress:
        progress = False
        for stop in range(2, len(bars)):  # shortest failing prefix
            if fails(_slice(bars, 0, stop), signals[:stop], kw):
                bars, signals, progress = _slice(bars, 0, stop), signals[:stop], True
                break
        for start in range(len(bars) - 2, 0, -1):  # then the shortest suffix
            if fails(_slice(bars, start, len(bars)), signals[start:], kw):
                bars, signals, progress = _slice(bars, start, len(bars)), signals[start:], True
                break
        for j in np.flatnonzero(signals):
            fewer = signals.copy()
            fewer[j] = 0
            if fails(bars, fewer, kw):
                signals, progress = fewer, True
        for name, plain in _PLAIN_SETTINGS.items():
            if kw.get(name, plain) != plain:
                simpler = {**kw, name: plain}
                if fails(bars, signals, simpler):
                    kw, progress = simpler, True
    return bars, signals, kw


_PLAIN_SETTINGS: dict[str, Any] = {
    "commission": 0.0,
    "commission_fixed": 0.0,
    "slippage_bps": 0.0,
    "holding_cost": 0.0,
    "take_profit": None,
    "trailing_stop": None,
    "max_bars": None,
    "stop_loss": None,
    "whole_units": False,
    "cash": 10_000.0,
}


def _report(problems: list[str], bars: Bars, signals: np.ndarray, kw: dict[str, Any]) -> str:
    small = shrink(bars, signals, kw)
    return (
        "\n".join(problems)
        + "\n\nsmallest disagreeing input found:\n"
        + "\n".join(compare(*small))
        + "\n"
        + _describe(*small)
    )


def compare(bars: Bars, signals: np.ndarray, kw: dict[str, Any]) -> list[str]:
    """Run engine and reference; return the list of differences (empty = agree)."""
    settings = engine.ExecSettings(**kw)
    got = engine.simulate(bars.open, bars.high, bars.low, bars.close, signals, settings)
    want = ref.simulate_reference(bars.open, bars.high, bars.low, bars.close, signals, settings)
    problems: list[str] = []

    if len(got.trades) != len(want.trades):
        problems.append(f"{len(got.trades)} trades, reference has {len(want.trades)}")
    for k, (g, w) in enumerate(zip(got.trades, want.trades, strict=False)):
        notional = abs(w.units * w.entry_price)
        for name in ("entry_idx", "exit_idx", "side", "exit_reason"):
            if int(g[name]) != getattr(w, name):
                problems.append(f"trade {k}: {name} {int(g[name])} != reference {getattr(w, name)}")
        for name, scale in (
            ("units", 0.0),
            ("entry_price", 0.0),
            ("exit_price", 0.0),
            ("pnl", notional),
            ("fees", notional),
            ("ret", 1.0),
        ):
            if not _close(float(g[name]), getattr(w, name), scale):
                problems.append(f"trade {k}: {name} {float(g[name])!r} != {getattr(w, name)!r}")
        if problems:
            problems.append(f"engine trade {k}: {g}\nreference trade {k}: {w}")
            break

    cash = float(settings.cash)
    for name, scale in (("equity", cash), ("position", 1e-6), ("returns", 1.0)):
        g_arr = np.asarray(getattr(got, name), dtype=np.float64)
        w_arr = np.asarray(getattr(want, name), dtype=np.float64)
        if g_arr.shape != w_arr.shape:
            problems.append(f"{name}: shape {g_arr.shape} != {w_arr.shape}")
            continue
        bad = [
            j
            for j in range(len(w_arr))
            if not (_close(float(g_arr[j]), float(w_arr[j]), scale) or g_arr[j] == w_arr[j])
        ]
        if bad:
            j = bad[0]
            problems.append(f"{name}[{j}] {g_arr[j]} != reference {w_arr[j]} ({len(bad)} bars)")
    g_exp = np.asarray(got.exposure).astype(np.int64).tolist()
    if g_exp != want.exposure:
        j = next(i for i, (a, b) in enumerate(zip(g_exp, want.exposure, strict=True)) if a != b)
        problems.append(f"exposure[{j}] {g_exp[j]} != reference {want.exposure[j]}")
    if not _close(float(got.final_equity), want.final_equity, cash):
        problems.append(f"final_equity {got.final_equity!r} != {want.final_equity!r}")
    return problems


def test_codes_match_the_reference() -> None:
    assert {s.name: int(s) for s in engine.Signal} == {
        "NONE": ref.NONE,
        "LONG": ref.LONG,
        "SHORT": ref.SHORT,
        "EXIT": ref.EXIT,
        "EXIT_LONG": ref.EXIT_LONG,
        "EXIT_SHORT": ref.EXIT_SHORT,
    }
    assert {r.name: int(r) for r in engine.ExitReason} == {
        "SIGNAL": ref.SIGNAL,
        "STOP_LOSS": ref.STOP_LOSS,
        "TAKE_PROFIT": ref.TAKE_PROFIT,
        "TRAILING_STOP": ref.TRAILING_STOP,
        "MAX_BARS": ref.MAX_BARS,
        "END": ref.END,
    }
    assert engine.TRADE_DTYPE.names == tuple(ref.RefTrade.__dataclass_fields__)


def test_risk_sizing_needs_a_stop_loss() -> None:
    from stratopt.errors import ConfigError

    with pytest.raises(ConfigError):
        engine.ExecSettings(sizing="risk", size=0.01)


@pytest.mark.parametrize(
    ("fill", "direction", "sizing", "exits"), COMBOS, ids=["-".join(c) for c in COMBOS]
)
def test_engine_matches_reference(fill: str, direction: str, sizing: str, exits: str) -> None:
    seed = zlib.crc32(f"{fill}/{direction}/{sizing}/{exits}".encode())
    rng = np.random.default_rng(seed)
    for k in range(PATHS_PER_COMBO):
        grid = k % 4 == 3
        n = int(rng.integers(50, 301))
        bars = random_bars(rng, n, grid=grid)
        signals = random_signals(rng, n)
        kw = random_settings_kwargs(
            rng, fill=fill, direction=direction, sizing=sizing, exits=exits, grid=grid
        )
        problems = compare(bars, signals, kw)
        assert not problems, f"seed {seed} path {k}:\n" + _report(problems, bars, signals, kw)


# Hand-made corner cases (numbers that are exact in binary, so ties are real ties).
_B = tuple[float, float, float, float]


def _bars(rows: list[_B]) -> Bars:
    cols = [np.array([r[i] for r in rows], dtype=np.float64) for i in range(4)]
    return Bars(*cols)


_STOP_BASE: list[_B] = [(100, 100, 100, 100), (100, 101, 99, 100)]
_TRAIL: list[_B] = [
    (100, 100, 100, 100),
    (100, 120, 95, 110),
    (115, 140, 100, 130),
    (130, 132, 104, 110),
    (110, 111, 109, 110),
]
_STEPS: list[_B] = [(100.0 + k, 101.0 + k, 99.0 + k, 100.0 + k) for k in range(5)]
_U10: dict[str, Any] = {"sizing": "units", "size": 10.0}

CORNER_CASES: dict[str, tuple[list[_B], list[int], dict[str, Any]]] = {
    "stop touched exactly": ([*_STOP_BASE, (90, 95, 75, 80)], [1, 0, 0], {"stop_loss": 0.25}),
    "target touched exactly": (
        [*_STOP_BASE, (120, 150, 110, 130)],
        [1, 0, 0],
        {"take_profit": 0.5},
    ),
    "gap open exactly at stop": (
        [*_STOP_BASE, (75, 80, 74, 78)],
        [1, 0, 0],
        {"stop_loss": 0.25, "slippage_bps": 10.0},
    ),
    "gap open exactly at target": (
        [*_STOP_BASE, (150, 151, 140, 145)],
        [1, 0, 0],
        {"take_profit": 0.5, "slippage_bps": 10.0},
    ),
    "short stop touched exactly": (
        [*_STOP_BASE, (110, 125, 105, 120)],
        [-1, 0, 0],
        {"stop_loss": 0.25},
    ),
    "short target touched exactly": (
        [*_STOP_BASE, (60, 70, 50, 55)],
        [-1, 0, 0],
        {"take_profit": 0.5},
    ),
    "stop and target in one bar": (
        [*_STOP_BASE, (100, 160, 70, 100)],
        [1, 0, 0],
        {"stop_loss": 0.25, "take_profit": 0.5},
    ),
    "trailing": (_TRAIL, [1, 0, 0, 0, 0], {"trailing_stop": 0.25}),
    "trailing tighter than stop": (
        _TRAIL,
        [1, 0, 0, 0, 0],
        {"trailing_stop": 0.25, "stop_loss": 0.125},
    ),
    "trailing ties stop -> STOP_LOSS": (
        [_TRAIL[0], (100, 120, 70, 110), *_TRAIL[2:]],
        [1, 0, 0, 0, 0],
        {"trailing_stop": 0.25, "stop_loss": 0.25},
    ),
    "trailing extreme starts at entry (fill close)": (
        [(120, 150, 95, 100), (100, 101, 80, 90), (90, 91, 89, 90)],
        [1, 0, 0],
        {"fill": "close", "trailing_stop": 0.25},
    ),
    "new position has no gap rule": (
        [(100, 100, 100, 100), (100, 101, 99, 100), (100, 100, 100, 100)],
        [1, 0, 0],
        {"stop_loss": 0.1, "slippage_bps": 3000.0},
    ),
    "stopped out at the entry bar": (
        [(100, 100, 100, 100), (100, 101, 70, 90), (90, 91, 89, 90)],
        [1, 0, 0],
        {"stop_loss": 0.25, "holding_cost": 0.01},
    ),
    "max_bars then same-bar LONG (next_open)": (_STEPS, [1, 0, 1, 0, 0], {"max_bars": 2}),
    "max_bars then same-bar LONG (close)": (
        _STEPS,
        [1, 0, 1, 0, 0],
        {"max_bars": 2, "fill": "close"},
    ),
    "max_bars due at the last close (next_open)": (_STEPS, [0, 0, 1, 0, 0], {"max_bars": 2}),
    "max_bars 1": (_STEPS, [1, 0, 0, 0, 0], {"max_bars": 1}),
    "close fill: EXIT on the last bar": (_STEPS, [1, 0, 0, 0, 2], {"fill": "close"}),
    "close fill: reversal on the last bar": (_STEPS, [1, 0, 0, 0, -1], {"fill": "close"}),
    "next_open: entry at the last open": (_STEPS, [0, 0, 0, 1, 0], {}),
    "signal on the last bar": (_STEPS, [0, 0, 0, 0, 1], {}),
    "units sizing ignores whole_units": (
        _STEPS,
        [1, 0, 0, 0, 0],
        {"size": 7.5, "whole_units": True},
    ),
    "fraction: fixed fee larger than the budget": (
        _STEPS,
        [1, 0, 0, 0, 0],
        {"sizing": "fraction", "size": 0.5, "commission_fixed": 6000.0},
    ),
    "fraction whole units exact": (
        [(100, 100, 100, 100)] * 3,
        [1, 0, 0],
        {"sizing": "fraction", "size": 1.0, "whole_units": True, "fill": "close"},
    ),
    "risk capped by leverage": (
        [(100, 100, 100, 100)] * 3,
        [1, 0, 0],
        {"sizing": "risk", "size": 0.1, "stop_loss": 0.05, "max_leverage": 1.5},
    ),
    "no entry with negative equity": (
        [(100, 100, 100, 100), *[(250, 250, 250, 250)] * 3],
        [-1, 2, 1, 0],
        {"fill": "close", "size": 100.0},
    ),
    "repeated LONG / EXIT_SHORT while long": (_STEPS, [1, 1, 4, 1, 0], {}),
    "direction long turns SHORT into EXIT_LONG": (_STEPS, [1, 0, -1, 0, 0], {"direction": "long"}),
    "direction short turns LONG into EXIT_SHORT": (
        _STEPS,
        [-1, 0, 1, 0, 0],
        {"direction": "short"},
    ),
}


@pytest.mark.parametrize("name", list(CORNER_CASES))
def test_corner_case_matches_reference(name: str) -> None:
    rows, signals, extra = CORNER_CASES[name]
    kw = {**_U10, **extra}
    bars = _bars(rows)
    sig = np.array(signals, dtype=np.int8)
    problems = compare(bars, sig, kw)
    assert not problems, _report(problems, bars, sig, kw)

"""A cold start runs the composite kernels' Python twins (engine/_twins.py) until the
background child has compiled them: every output must be the compiled composite's,
bit for bit, on random rules, settings and path lengths around the chunk size, and on
a candidate whose tails are simulated again."""

from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest

from stratopt.engine import _nb
from stratopt.engine._twins import TWINS
from stratopt.engine._types import ExecSettings, pack_settings
from stratopt.metrics import METRIC_IDS, N_METRICS
from tests.engine._random import EXIT_RULES, SIZINGS, Bars, random_bars, random_settings_kwargs
from tests.engine.test_many_candidates import random_indicators, random_rules


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind != "f":
        return bool(np.array_equal(a, b))
    return bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


def _prices(bars: Bars) -> tuple[np.ndarray, ...]:
    out = tuple(np.ascontiguousarray(getattr(bars, f)) for f in ("open", "high", "low", "close"))
    for a in out:
        a.flags.writeable = False  # as a study's bars: the types the twins run for
    return out


def _check(
    bars: Bars, ind: np.ndarray, rules: np.ndarray, levels: np.ndarray, ex: np.ndarray
) -> np.ndarray:
    o, h, lo, c = _prices(bars)
    k, n = len(rules), c.shape[0]
    outs = [np.full((k, N_METRICS), np.nan) for _ in range(2)]
    founds = [np.ones(k, dtype=np.bool_) for _ in range(2)]
    for kernel, out, found in zip(
        (_nb.run_many_nb, TWINS[_nb.run_many_nb]), outs, founds, strict=True
    ):
        kernel(o, h, lo, c, ind, rules, levels, ex, 252.0, out, found)
    for i, name in enumerate(METRIC_IDS):
        assert _same(outs[0][:, i], outs[1][:, i]), name
    assert _same(founds[0], founds[1])
    for q, record in itertools.product(range(k), (False, True)):
        args = (o, h, lo, c, ind, rules[q], levels[q], ex[q], 252.0, record)
        want, got = _nb.run_one_nb(*args), TWINS[_nb.run_one_nb](*args)
        for name, a, b in zip(
            ("equity", "position", "exposure", "trades", "metrics"), want, got, strict=True
        ):
            assert _same(a, b), (q, record, name)
        signals = (ind, rules[q], levels[q], n)
        assert _same(_nb.eval_signals_nb(*signals), TWINS[_nb.eval_signals_nb](*signals))
    return founds[0]


@pytest.mark.parametrize("fill", ["next_open", "close"])
def test_the_twins_give_the_compiled_composites_bits(fill: str) -> None:
    rng = np.random.default_rng(zlib.crc32(fill.encode()))
    for n in (3, 700, _nb.SIM_CHUNK + 1):
        bars = random_bars(rng, n, grid=bool(rng.random() < 0.3))
        ind = random_indicators(rng, n)
        k = 6
        rules = np.zeros((k, 8, 5), dtype=np.int64)
        levels = np.zeros((k, 8))
        exs = []
        for i in range(k):
            rules[i], levels[i] = random_rules(rng, 4, 4)
            kw = random_settings_kwargs(
                rng,
                fill=fill,
                direction=str(rng.choice(["both", "long", "short"])),
                sizing=str(rng.choice(SIZINGS)),
                exits=str(rng.choice(EXIT_RULES)),
            )
            exs.append(pack_settings(ExecSettings(**kw)))
        _check(bars, ind, rules, levels, np.stack(exs))


def test_the_twins_agree_when_the_tails_are_simulated_again() -> None:
    # a wild first quarter and a calm rest, long throughout: `found` is False (see
    # test_many_candidates), the one-candidate path keeps every return
    n = 10 * _nb.SIM_CHUNK + 77
    rng = np.random.default_rng(11)
    steps = rng.normal(0.0, 1e-4, n)
    steps[: n // 4] *= 30.0
    close = np.ascontiguousarray(100.0 * np.cumprod(1.0 + steps))
    row = np.zeros((1, n))
    row[0, 0] = 1.0
    rules = np.zeros((1, 8, 5), dtype=np.int64)
    rules[0, 0] = (_nb.RULE_CODES, 0, 0, 0, 0)
    ex = pack_settings(ExecSettings(cash=1_000.0, fill="close"))
    found = _check(Bars(close, close, close, close), row, rules, np.zeros((1, 8)), ex[None])
    assert not found[0]

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
from stratopt.engine._many import new_buffers
from stratopt.engine._nb import BATCH
from stratopt.engine._twins import TWINS
from stratopt.metrics import METRIC_IDS, N_METRICS
from tests.engine._random import Bars, random_bars
from tests.engine.test_many_candidates import (
    random_candidates,
    random_indicators,
    wild_then_calm,
)


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
        kernel(o, h, lo, c, ind, rules, levels, ex, 252.0, out, found, *new_buffers(BATCH, n))
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
        direction = str(rng.choice(["both", "long", "short"]))
        _check(bars, ind, *random_candidates(rng, 6, fill=fill, direction=direction))


def test_the_twins_agree_when_the_tails_fall_inside_the_band() -> None:
    # the batch kernel finds them again from its change log (see test_many_candidates)
    bars, row, rules, ex = wild_then_calm()
    found = _check(bars, row, rules, np.zeros((1, 8)), ex[None])
    assert found[0]

"""The prefetch of the opens ``next_open`` fills read.

`prefetch_nb` is a hint: it must compile to LLVM's prefetch and change nothing a kernel
computes. `_prefetch_fills_nb` must ask for the open of the bar after every bar with a
signal code (and the chunk's first, for a signal pending from the chunk before),
whatever the codes' alignment in their 8-byte words.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from stratopt.engine import _nb
from stratopt.engine._prefetch_nb import prefetch_nb


@njit  # not cached: its LLVM code is inspected
def _sum_prefetched(a: np.ndarray, idx: np.ndarray) -> float:
    total = 0.0
    for i in idx:
        prefetch_nb(a, i)  # type: ignore[call-arg]  # an intrinsic
        total += a[i]
    return total


def test_prefetch_compiles_to_llvm_prefetch_and_changes_nothing() -> None:
    a = np.arange(1000, dtype=np.float64)
    idx = np.array([0, 999, 500, 3], dtype=np.int64)
    assert _sum_prefetched(a, idx) == 1502.0
    llvm = _sum_prefetched.inspect_llvm(_sum_prefetched.signatures[0])
    assert "call void @llvm.prefetch" in llvm


def test_prefetch_takes_only_a_contiguous_vector() -> None:
    with pytest.raises(TypingError):
        _sum_prefetched(np.zeros((3, 3)), np.zeros(2, dtype=np.int64))


def _recording_twin(asked: list[int]) -> types.FunctionType:
    """`_prefetch_fills_nb` in Python, with the prefetch recording its index."""
    body = _nb._prefetch_fills_nb.py_func
    names = dict(body.__globals__)
    names["prefetch_nb"] = lambda arr, i: asked.append(int(i))
    return types.FunctionType(body.__code__, names, body.__name__)


@pytest.mark.parametrize("j0", [0, 8192, 99_992])
@pytest.mark.parametrize("w", [1, 7, 8, 13, 8192])
def test_the_opens_after_every_signal_are_asked_for(j0: int, w: int) -> None:
    n = 100_000
    rng = np.random.default_rng(j0 + w)
    o = np.ones(n)
    w = min(w, n - j0)
    codes = np.zeros((w + 7) // 8 * 8 + 8, dtype=np.int8)  # stale bytes past w
    codes[:w] = np.where(rng.random(w) < 0.05, rng.choice([-1, 1, 2], w), 0)
    codes[w:] = 1
    codes[w - 1] = 1  # the chunk's last bar (on the series' last bar: its own open)
    asked: list[int] = []
    _recording_twin(asked)(o, codes, codes.view(np.uint64), j0, j0 + w)
    want = [j0] + [min(j0 + i + 1, n - 1) for i in np.flatnonzero(codes[:w])]
    assert asked == want

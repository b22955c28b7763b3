"""The metrics pass's compaction against plain NumPy.

`_compact_nb` stores the flagged returns 8 at a time on AVX-512 (`compress_store8`)
and one at a time otherwise; either way it must give exactly the flagged values, in
order, and write nothing past the slots it may use.
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from stratopt.metrics._compress_nb import compress_store8
from stratopt.metrics._nb import _compact_nb


@njit(cache=True)  # type: ignore[misc]
def _compress_all(r: np.ndarray, flags: np.ndarray, dest: np.ndarray) -> int:
    m = 0
    for t in range(0, r.shape[0] - 7, 8):
        m = compress_store8(r, t, flags, dest, m)
    return m


@pytest.mark.parametrize("share", [0.0, 0.08, 0.3, 0.9, 1.0])
def test_compaction_keeps_the_flagged_values_in_order(share: float) -> None:
    rng = np.random.default_rng(int(share * 100))
    for n in (1, 7, 8, 9, 1024, 2053):
        r = rng.normal(size=n)
        flags = (rng.random(n) < share).astype(np.uint8)
        want = r[flags.astype(bool)]
        dest = np.full(n + 3, np.nan)  # room for every return after m = 3
        m = _compact_nb(r, n, flags, dest, 3)
        assert m == 3 + want.size
        np.testing.assert_array_equal(dest[3:m], want)
        # in place, appended after values already kept, as the finishing pass does
        buf = np.concatenate((np.full(5, -7.0), r))
        m = _compact_nb(buf[5:], n, flags, buf, 2)
        np.testing.assert_array_equal(buf[:2], [-7.0, -7.0])
        np.testing.assert_array_equal(buf[2:m], want)
        # dest with exactly one slot per return after m (the kernels' case): the
        # 8-wide stores must not pass its end (a guard behind it stays untouched)
        guarded = np.full(1 + n + 16, 99.0)
        assert _compact_nb(r, n, flags, guarded[: 1 + n], 1) == want.size + 1
        np.testing.assert_array_equal(guarded[1 : 1 + want.size], want)
        np.testing.assert_array_equal(guarded[1 + n :], 99.0)


def test_compress_store8_alone() -> None:
    rng = np.random.default_rng(8)
    r = rng.normal(size=64)
    flags = (rng.random(64) < 0.4).astype(np.uint8)
    dest = np.zeros(64)
    m = _compress_all(r, flags, dest)
    np.testing.assert_array_equal(dest[:m], r[flags.astype(bool)])

"""The metrics pass of long series with the returns' divisions inside the drawdown scan.

`metrics_chunk_nb` computes a segment's returns in one loop (``e[i] / e[i-1] - 1``,
exact IEEE divisions) and then scans the same equity for the drawdown, block by block.
On Zen 4 the divisions alone took 0.33 ns a bar and the scan's vectorised counts most
of the rest; the divider works beside the adders and multipliers only when both are in
one loop, so here each drawdown block's count loop also divides (the block's previous
equities are read from the chunk itself, one bar back, so the loop starts at the
block's first bar and has no scalar head): 0.94 -> 0.78-0.80 ns a bar for returns,
drawdown and sums (one candidate, one thread, its chunk in L2; benchmarks/README.md,
session 18). Each return is the same lone division and subtraction, and the block's
sum of squares the same loop with one more store in it, so every bit is
`metrics_chunk_nb`'s (the engine's tests compare the two kernels' metrics bit for bit).

Linked only by `stratopt.engine`'s long-series kernel (`run_many_long_nb`), as the
long finish (`stratopt.metrics._probe_nb`): the kernels every study compiles keep
`metrics_chunk_nb`.
"""

from __future__ import annotations

import numpy as np

from stratopt._njit import njit
from stratopt.metrics._nb import (
    _A_DD2,
    _A_INV_PEAK,
    _A_MAX_DD,
    _A_MAX_RUN,
    _A_PEAK,
    _A_RUN,
    _A_SHIFT,
    _A_STORED,
    _BLOCK,
    _FASTMATH,
    _SAMPLE_MIN_N,
    _SEGMENT,
    F64Array,
    _block_drawdown_nb,
    _chunk_returns_drawdown_nb,
    _compact_nb,
    _sample_size,
    _segment_sample_nb,
    _segment_sums_nb,
)

__all__ = ["metrics_chunk_long_nb"]


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, called_from_python=False)
def _returns_drawdown_nb(cur: F64Array, before: F64Array, rout: F64Array, acc: F64Array) -> None:
    """`_chunk_returns_drawdown_nb` on ``cur`` (whole blocks: a multiple of
    ``_BLOCK`` bars) with ``before[i]`` the equity before ``cur[i]`` (a view one bar
    back, or a copy): the returns are computed in each block's count loop. Blocks
    start at ``cur[0]``, as there."""
    peak = acc[_A_PEAK]
    inv = acc[_A_INV_PEAK]
    max_dd = acc[_A_MAX_DD]
    dd2 = acc[_A_DD2]
    run = acc[_A_RUN]
    max_run = acc[_A_MAX_RUN]
    n = cur.shape[0]
    for b0 in range(0, n, _BLOCK):
        b1 = min(n, b0 + _BLOCK)
        blk = cur[b0:b1]
        den = before[b0:b1]
        ret = rout[b0:b1]
        # bars below `deeper` may set a new maximum drawdown (generous by 1e-9)
        deeper = peak - (max_dd - 1e-9) * peak
        n_top = 0
        n_deeper = 0
        sq = 0.0
        for i in range(blk.shape[0]):
            e = blk[i]
            p = den[i]
            ret[i] = e / p - 1.0 if p > 0.0 else 0.0
            n_top += e >= peak
            n_deeper += e < deeper
            g = peak - e
            sq += g * g
        peak, inv, max_dd, dd2, run, max_run = _block_drawdown_nb(
            blk, n_top, n_deeper, sq, peak, inv, max_dd, dd2, run, max_run
        )
    acc[_A_PEAK] = peak
    acc[_A_INV_PEAK] = inv
    acc[_A_MAX_DD] = max_dd
    acc[_A_DD2] = dd2
    acc[_A_RUN] = run
    acc[_A_MAX_RUN] = max_run


@njit(cache=True, error_model="numpy")  # type: ignore[misc]
def metrics_chunk_long_nb(
    cur: F64Array,
    prev: float,
    j0: int,
    n: int,
    rbuf: F64Array,
    sample: F64Array,
    stored: F64Array,
    acc: F64Array,
) -> None:
    """`metrics_chunk_nb` (the same arguments, state and bits) with the returns
    computed in the drawdown scan (`_returns_drawdown_nb`). The chunk's first block
    divides by a copy of its previous equities (``prev``, then its own first bars);
    every other block by the chunk one bar back. A segment's last block of fewer
    than ``_BLOCK`` bars (the series' end) goes through `_chunk_returns_drawdown_nb`
    itself: with the divisions inside, LLVM sums a short block's squares in another
    order (one bit off, the tests found)."""
    w = cur.shape[0]
    if j0 == 0 and w > 0:  # the shift of the power sums, as `metrics_chunk_nb` sets it
        b = min(w, _SEGMENT)
        e = cur[b - 1]
        acc[_A_SHIFT] = (e / prev) ** (1.0 / b) - 1.0 if e > 0.0 else 0.0  # prev = cash
    shift = acc[_A_SHIFT]
    s = _sample_size(n) if n >= _SAMPLE_MIN_N else 0
    flags = np.empty(_SEGMENT, dtype=np.uint8)
    head = np.empty(_BLOCK)
    for g0 in range(0, w, _SEGMENT):
        g1 = min(w, g0 + _SEGMENT)
        seg = cur[g0:g1]
        rseg = rbuf[g0:g1]
        full = g0 + (g1 - g0) // _BLOCK * _BLOCK  # the segment's whole blocks end here
        if g0 == 0 and full > 0:
            head[0] = prev
            for i in range(1, _BLOCK):
                head[i] = cur[i - 1]
            _returns_drawdown_nb(cur[:_BLOCK], head, rbuf[:_BLOCK], acc)
            _returns_drawdown_nb(
                cur[_BLOCK:full], cur[_BLOCK - 1 : full - 1], rbuf[_BLOCK:full], acc
            )
        elif full > g0:
            _returns_drawdown_nb(seg[: full - g0], cur[g0 - 1 : full - 1], rseg[: full - g0], acc)
        if full < g1:
            # a last block of fewer bars: its loops as `metrics_chunk_nb` compiles them
            # (those of a shorter block vectorise otherwise with the divisions inside)
            last = cur[full - 1] if full > 0 else prev
            _chunk_returns_drawdown_nb(cur[full:g1], last, rbuf[full:g1], acc)
        _segment_sums_nb(rseg, shift, flags, acc)
        if s > 0:
            _segment_sample_nb(rseg, j0 + g0, n, s, sample, acc)
        acc[_A_STORED] = _compact_nb(rseg, g1 - g0, flags, stored, int(acc[_A_STORED]))

"""The finish of long series: the tails' order statistics between pivots of a probe.

`metrics_finish_nb` selects each rank the tails need (four among the 16,384 sampled
returns, four among the ~20,000 stored returns inside the brackets) in the whole array,
a few passes over it for each. `metrics_finish_long_nb` finds the same values (an order
statistic is a value: any selection that finds it gives its bits) from a probe of the
array (`order_values_nb`; where a zero or a NaN makes that untrue, the whole array is
selected as before): 390-480 -> 240-260 us a candidate on 1M bars (Zen 4). Its
kernels are linked only by `stratopt.engine`'s long-series kernel (`run_many_long_nb`):
numba compiles a callee again inside every kernel that links it, and in the shared
finish they cost 2 s of every cold start (session 15).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

from stratopt.metrics._compress_nb import LANES
from stratopt.metrics._nb import (
    _B_LO1,
    _CHUNK,
    _N_BR,
    _N_CNT,
    _Q_HI,
    _Q_LO,
    F64Array,
    _bracket_ranks_nb,
    _certain_sum_nb,
    _compact_nb,
    _finish_but_tails_nb,
    _finish_candidates_nb,
    _order_stats_nb,
    _put_brackets_nb,
    _put_tail_nb,
    _quantile_ranks,
    _sample_size,
    _tail_count_nb,
    _tail_quantiles_nb,
    _tail_sum_nb,
    _tail_where_nb,
)

__all__ = ["metrics_finish_long_nb", "order_values_nb"]


@njit(cache=True, error_model="numpy")  # type: ignore[misc]
def metrics_finish_long_nb(
    n: int,
    final: float,
    cash: float,
    exposure_bars: int,
    ts: F64Array,
    periods_per_year: float,
    acc: F64Array,
    sample: F64Array,
    stored: F64Array,
    out: F64Array,
) -> bool:
    """`metrics_finish_nb` (the same arguments, result and bits), its selections
    through `order_values_nb` first."""
    _finish_but_tails_nb(n, final, cash, exposure_bars, ts, periods_per_year, acc, out)
    if n == 0:
        return True
    br = np.empty(_N_BR)
    want = np.empty(4, dtype=np.int64)
    inside = np.empty(4, dtype=np.int64)
    count = _bracket_ranks_nb(
        n, _quantile_ranks(n, _Q_LO)[0], _quantile_ranks(n, _Q_HI)[0], br, want, inside
    )
    if count >= 0:
        got = np.empty(4)
        s = _sample_size(n)
        if not order_values_nb(sample, s, inside, got, count):
            _order_stats_nb(sample, s, inside, got, count)
        _put_brackets_nb(n, want, got, br)
    cnt = np.zeros(_N_CNT, dtype=np.int64)
    m, below = _finish_candidates_nb(n, acc, stored, br, cnt)
    found, q_lo, cvar, q_hi = _tail_long_nb(stored, m, n, br, cnt, below)
    if found:
        _put_tail_nb(q_lo, cvar, q_hi, out)
    return found


@njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _tail_long_nb(
    buf: F64Array, m: int, n: int, br: F64Array, cnt: npt.NDArray[np.int64], below_sum: float
) -> tuple[bool, float, float, float]:
    """`_tail_nb` (the same arguments, result and bits), its selection through
    `order_values_nb` first, ``buf`` then left as it is. CVaR's compensated sum has
    the bits of the order `_order_stats_nb` leaves ``buf`` in: the sum in ``buf``'s
    own order stands for it where `_certain_sum_nb` is sure every order gives the
    same float; else ``buf`` is put in that order and summed again."""
    where = np.empty(4, dtype=np.int64)
    want = np.empty(4, dtype=np.int64)
    count = _tail_where_nb(buf, m, n, br, cnt, where, want)
    if count < 0:
        return False, 0.0, 0.0, 0.0
    got = np.empty(4)
    in_place = not order_values_nb(buf, m, want, got, count)
    if in_place:
        _order_stats_nb(buf, m, want, got, count)
    q_lo, q_hi = _tail_quantiles_nb(n, where, got)
    n_tail = _tail_count_nb(br, cnt, q_lo)
    total, comp, size, k = _tail_sum_nb(buf, m, br[_B_LO1], q_lo, below_sum)
    if not in_place:
        # `below_sum` is one more term of the sum, in first place in every order
        sure, tail_sum = _certain_sum_nb(total, comp, size, k + 1)
        if sure:
            return True, q_lo, tail_sum / (n_tail + k), q_hi
        _order_stats_nb(buf, m, want, got, count)
        total, comp, size, k = _tail_sum_nb(buf, m, br[_B_LO1], q_lo, below_sum)
    return True, q_lo, (total + comp) / (n_tail + k), q_hi


# `order_values_nb`: arrays from this long go through a probe first (shorter ones are
# quick to select in place); the probe's size, and how far (in binomial standard
# deviations of a probe rank) its pivots stand from each rank wanted.
_PROBE_FROM = 4096
_PROBE = 1024
_Z_PROBE = 3.5
_N_WINDOWS = 4


@njit(cache=True, error_model="numpy")  # type: ignore[misc]
def order_values_nb(
    a: F64Array, hi: int, want: npt.NDArray[np.int64], vals: F64Array, count: int
) -> bool:
    """`_order_stats_nb`'s ``vals`` (the ``want[i]``-th smallest of ``a[:hi]``, for
    ``i < count``), with ``a`` left as it is; False (``vals`` meaningless) when this
    way does not find them, and the caller then runs `_order_stats_nb`.

    Why: `_order_stats_nb` selects in the whole array, a few passes over it for each
    rank. Here a probe of ``_PROBE`` values, every ``hi // _PROBE``-th, gives two
    pivots around each rank wanted (``_Z_PROBE`` binomial standard deviations of the
    probe's rank on each side); one pass counts the values below and up to each
    window of pivots and picks the values inside the windows (a few percent of them;
    8 at a time on AVX-512, `_compact_nb`), and the ranks are selected among those.
    An order statistic is a value: any selection that finds it gives its bits, but
    for a zero (-0.0 and 0.0 compare equal) and with NaNs in the array. It is False
    when a rank falls outside the windows, too many values fall inside, the array
    holds a NaN, or a value found is zero.
    """
    if hi < _PROBE_FROM or count == 0:
        return False
    step = hi // _PROBE
    ns = hi // step
    probe = np.empty(ns)
    for i in range(ns):
        probe[i] = a[i * step]
    # the windows' pivots, as probe ranks, one window per rank wanted (in rank order)
    order = np.empty(count, dtype=np.int64)
    for t in range(count):
        j = t
        while j > 0 and want[order[j - 1]] > want[t]:
            order[j] = order[j - 1]
            j -= 1
        order[j] = t
    ranks = np.empty(2 * count, dtype=np.int64)
    for t in range(count):
        k = want[order[t]]
        p = (k + 0.5) / hi
        half = _Z_PROBE * math.sqrt(ns * p * (1.0 - p)) + 2.0
        ranks[2 * t] = max(-1, math.floor(p * ns - half))
        ranks[2 * t + 1] = min(ns, math.ceil(p * ns + half))
    inside = np.empty(2 * count, dtype=np.int64)
    n_in = 0 * ns
    for i in range(2 * count):
        if 0 <= ranks[i] < ns:
            inside[n_in] = ranks[i]
            n_in += 1
    got = np.empty(2 * count)
    _order_stats_nb(probe, ns, inside, got, n_in)
    # windows [plo, phi] of values, merged where they meet, in increasing order
    plo = np.full(_N_WINDOWS, np.inf)
    phi = np.full(_N_WINDOWS, -np.inf)
    w = -1
    n_in = 0
    for t in range(count):
        lo = -np.inf
        if ranks[2 * t] >= 0:
            lo = got[n_in]
            n_in += 1
        up = np.inf
        if ranks[2 * t + 1] < ns:
            up = got[n_in]
            n_in += 1
        if w >= 0 and lo <= phi[w]:
            phi[w] = max(phi[w], up)
        else:
            w += 1
            plo[w] = lo
            phi[w] = up
    cap = max(8 * _PROBE, hi >> 2)
    pick = np.empty(cap)
    flags = np.empty(_CHUNK, dtype=np.uint8)
    lt = np.zeros(_N_WINDOWS, dtype=np.int64)
    le = np.zeros(_N_WINDOWS, dtype=np.int64)
    m = 0 * hi
    for j0 in range(0, hi, _CHUNK):
        j1 = min(hi, j0 + _CHUNK)
        part = a[j0:j1]
        m_in, nans = _window_counts_nb(part, plo, phi, lt, le, flags)
        if nans or m + m_in > cap - LANES:
            return False
        m = _compact_nb(part, j1 - j0, flags, pick, m)
    # each rank among the picked values (in value order: window by window)
    pos = np.empty(count, dtype=np.int64)
    for i in range(count):
        k = want[i]
        base = 0
        pos[i] = -1
        for v in range(_N_WINDOWS):
            if lt[v] <= k < le[v]:
                pos[i] = base + k - lt[v]
                break
            base += max(le[v] - lt[v], 0)
        if pos[i] < 0:
            return False
    _order_stats_nb(pick, m, pos, vals, count)
    # -0.0 and 0.0 are one value to a comparison: which of them a rank gets is the
    # whole array's selection's own
    return not (vals[:count] == 0.0).any()


@njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _window_counts_nb(
    r: F64Array,
    plo: F64Array,
    phi: F64Array,
    lt: npt.NDArray[np.int64],
    le: npt.NDArray[np.int64],
    flags: npt.NDArray[np.uint8],
) -> tuple[int, int]:
    """Adds to ``lt[v]`` and ``le[v]`` the counts of ``r`` below ``plo[v]`` and up to
    ``phi[v]`` for each of the 4 windows (an empty one: ``+inf, -inf``); ``flags[i]``
    set to 1 for a value inside a window; returns their number, and the number of NaNs
    (which no count holds: the ranks would be off) (vectorised by LLVM: counts and
    compares, no sum of values)."""
    lo0, lo1, lo2, lo3 = plo[0], plo[1], plo[2], plo[3]
    hi0, hi1, hi2, hi3 = phi[0], phi[1], phi[2], phi[3]
    a0 = a1 = a2 = a3 = 0
    b0 = b1 = b2 = b3 = 0
    n_in = 0
    nans = 0
    for i in range(r.shape[0]):
        x = r[i]
        nans += x != x
        a0 += x < lo0
        a1 += x < lo1
        a2 += x < lo2
        a3 += x < lo3
        b0 += x <= hi0
        b1 += x <= hi1
        b2 += x <= hi2
        b3 += x <= hi3
        f = (
            ((x >= lo0) & (x <= hi0))
            | ((x >= lo1) & (x <= hi1))
            | ((x >= lo2) & (x <= hi2))
            | ((x >= lo3) & (x <= hi3))
        )
        flags[i] = f
        n_in += f
    lt[0] += a0
    lt[1] += a1
    lt[2] += a2
    lt[3] += a3
    le[0] += b0
    le[1] += b1
    le[2] += b2
    le[3] += b3
    return n_in, nans

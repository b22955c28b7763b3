"""Numba kernels of the performance metrics.

Pure functions over NumPy arrays, no objects: the engine calls them from inside its
many-candidates ``@njit(parallel=True)`` loop, one candidate per iteration, and the
Python wrapper (`stratopt.metrics.compute_metrics`) calls the very same kernels, so a
metric has exactly one implementation. Formulas, edge cases and the ``x / 0`` rule are
written down in ``docs/metrics.md``.

Protocol for one backtest::

    ts = np.empty(N_TRADE_STATS)
    trade_stats_init_nb(ts)
    for each closed trade:
        trade_stats_update_nb(ts, net_pnl, ret, bars_held, ret_on_risk)
    compute_metrics_nb(equity, cash, exposure_bars, ts, periods_per_year, scratch, out)

``out[M_SHARPE]`` etc. then hold the metrics; the position of a metric in ``out`` is its
position in `stratopt.metrics.METRICS`.

All kernels are compiled with ``error_model="numpy"``: a float division by zero gives
``inf``/``nan`` as in NumPy instead of raising (and no result depends on such a value).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from stratopt._njit import njit
from stratopt.metrics._compress_nb import LANES, VECTOR_COMPRESS, compress_store8

__all__ = [
    "K_ABOVE",
    "K_KEPT",
    "K_ZERO",
    "METRICS_SAMPLE",
    "METRICS_SEGMENT",
    "M_AVG_LOSS",
    "M_AVG_TRADE",
    "M_AVG_TRADE_DURATION",
    "M_AVG_WIN",
    "M_BEST_TRADE",
    "M_CAGR",
    "M_CALMAR",
    "M_CVAR_95",
    "M_EXPECTANCY",
    "M_EXPOSURE",
    "M_FINAL_EQUITY",
    "M_KURTOSIS",
    "M_MAX_DRAWDOWN",
    "M_MAX_DRAWDOWN_DURATION",
    "M_OMEGA",
    "M_PROFIT_FACTOR",
    "M_RETURN_ON_RISK",
    "M_SHARPE",
    "M_SKEW",
    "M_SORTINO",
    "M_SQN",
    "M_TAIL_RATIO",
    "M_TOTAL_RETURN",
    "M_TRADES",
    "M_ULCER_INDEX",
    "M_VAR_95",
    "M_VOLATILITY",
    "M_WIN_RATE",
    "M_WORST_TRADE",
    "N_ACC",
    "N_BR",
    "N_KEPT",
    "N_METRICS",
    "N_TRADE_STATS",
    "TS_BARS_SUM",
    "TS_BEST_RET",
    "TS_COUNT",
    "TS_GROSS_LOSS",
    "TS_GROSS_PROFIT",
    "TS_LOSSES",
    "TS_LOSS_RET_SUM",
    "TS_PNL_M2",
    "TS_PNL_MEAN",
    "TS_RET_SUM",
    "TS_ROR_COUNT",
    "TS_ROR_SUM",
    "TS_WINS",
    "TS_WIN_RET_SUM",
    "TS_WORST_RET",
    "compute_metrics_nb",
    "metrics_begin_nb",
    "metrics_chunk_nb",
    "metrics_finish_but_tails_nb",
    "metrics_finish_nb",
    "metrics_returns_chunk_nb",
    "open_brackets_nb",
    "per_bar_returns_nb",
    "quantile_nb",
    "ratio_nb",
    "tail_brackets_nb",
    "tail_by_value_nb",
    "tail_from_nonzero_nb",
    "tail_split_nb",
    "trade_stats_from_arrays_nb",
    "trade_stats_init_nb",
    "trade_stats_update_nb",
]

F64Array = npt.NDArray[np.float64]

# --------------------------------------------------------------------------------------
# Layout of the trade-statistics accumulator `ts` (float64[N_TRADE_STATS]).
# --------------------------------------------------------------------------------------
TS_COUNT = 0  # number of trades
TS_WINS = 1  # trades with net pnl > 0
TS_LOSSES = 2  # trades with net pnl < 0
TS_GROSS_PROFIT = 3  # sum of net pnl of winners (>= 0)
TS_GROSS_LOSS = 4  # minus the sum of net pnl of losers (>= 0)
TS_PNL_MEAN = 5  # running mean of net pnl (Welford)
TS_PNL_M2 = 6  # running sum of squared deviations of net pnl (Welford)
TS_RET_SUM = 7  # sum of trade returns
TS_WIN_RET_SUM = 8  # sum of returns of winners
TS_LOSS_RET_SUM = 9  # sum of returns of losers
TS_BEST_RET = 10  # largest trade return (-inf before the first trade)
TS_WORST_RET = 11  # smallest trade return (+inf before the first trade)
TS_BARS_SUM = 12  # sum of bars held
TS_ROR_SUM = 13  # sum of the finite returns on risk
TS_ROR_COUNT = 14  # number of finite returns on risk
N_TRADE_STATS = 15

# --------------------------------------------------------------------------------------
# Positions in `out` (float64[N_METRICS]); the registry (_registry.py) lists them in the
# same order and a test keeps both in step.
# --------------------------------------------------------------------------------------
M_TOTAL_RETURN = 0
M_CAGR = 1
M_VOLATILITY = 2
M_SHARPE = 3
M_SORTINO = 4
M_CALMAR = 5
M_MAX_DRAWDOWN = 6
M_MAX_DRAWDOWN_DURATION = 7
M_TRADES = 8
M_WIN_RATE = 9
M_PROFIT_FACTOR = 10
M_AVG_TRADE = 11
M_EXPECTANCY = 12
M_SQN = 13
M_EXPOSURE = 14
M_RETURN_ON_RISK = 15
M_BEST_TRADE = 16
M_WORST_TRADE = 17
M_AVG_TRADE_DURATION = 18
M_AVG_WIN = 19
M_AVG_LOSS = 20
M_SKEW = 21
M_KURTOSIS = 22
M_VAR_95 = 23
M_CVAR_95 = 24
M_ULCER_INDEX = 25
M_OMEGA = 26
M_TAIL_RATIO = 27
M_FINAL_EQUITY = 28
N_METRICS = 29

# Quantile levels of VaR / CVaR and of the tail ratio.
_Q_LO = 0.05
_Q_HI = 0.95

# _ZEROED: zeroed buffers are np.empty and a fill, not np.zeros: numba compiles its np.zeros
# (with an np.empty and a memset of its own) once per dtype and process, ~0.1 s each on a
# cold start's path; np.empty of these dtypes is compiled for the kernels anyway.

# Tuning of compute_metrics_nb (see metrics_chunk_nb and _tail_nb).
_CHUNK = 2048  # bars per chunk of compute_metrics_nb and of the pass over stored returns
_SEGMENT = 1024  # bars per segment of the first pass: sums, sample and store
METRICS_SEGMENT = _SEGMENT
_BLOCK = 64  # bars per block of the drawdown scan
if _CHUNK % _SEGMENT or _SEGMENT % _BLOCK:  # pragma: no cover
    raise RuntimeError("chunks must hold whole segments, segments whole blocks")
_P_BAND = 0.15  # the band of returns not stored: the sample's 15 % to 85 % quantiles
_BAND_MIN_SAMPLE = 256  # the smallest sample the band is placed from
_BAND_SAMPLE = 1024  # the largest
_SAMPLE_MIN_N = 2048  # below this every nonzero return is a quantile candidate
_N_SAMPLE = 16384  # largest sample that places the quantile brackets (n // 16 below)
METRICS_SAMPLE = _N_SAMPLE
_Z_BRACKET = 3.5  # bracket half-width in binomial standard deviations of a sample rank
_INSERTION = 16  # the selection routine finishes ranges this short by insertion sort
_GOLDEN = 0.6180339887498949  # jitter of the systematic sample
# Reassociation lets LLVM vectorise the reductions; no flag that assumes finite values
# or changes a division ("nnan", "ninf", "arcp", "afn") is used (the band's +-inf
# start, compared in _segment_sums_nb, relies on that too).
_FASTMATH = {"reassoc", "contract", "nsz"}


# ======================================================================================
# Small helpers
# ======================================================================================
@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def ratio_nb(x: float, y: float) -> float:
    """``x / y`` with the project-wide rule for a zero denominator.

    Returns ``x / y`` if ``y != 0``; otherwise ``+inf`` if ``x > 0``, ``-inf`` if
    ``x < 0`` and ``0.0`` if ``x == 0``. NaN in, NaN out.
    """
    if y != 0.0:
        return x / y
    if x > 0.0:
        return np.inf
    if x < 0.0:
        return -np.inf
    return x * 0.0  # 0.0, or NaN for a NaN x


@njit(cache=True, error_model="numpy")  # type: ignore[misc]
def per_bar_returns_nb(equity: F64Array, cash: float, out: F64Array) -> None:
    """Per-bar returns of an equity curve, the series every return metric uses.

    Args:
        equity: float64[n], equity marked at each bar close.
        cash: initial equity (the value before bar 0), > 0.
        out: float64[n] filled with ``r[j] = equity[j] / equity[j-1] - 1`` where
            ``equity[-1] = cash``; ``r[j] = 0`` when ``equity[j-1] <= 0`` (ruined account).
            NaN in ``equity`` gives NaN returns.
    """
    prev = cash
    for j in range(equity.shape[0]):
        e = equity[j]
        out[j] = e / prev - 1.0 if prev > 0.0 else 0.0
        prev = e


# ======================================================================================
# Trade statistics
# ======================================================================================
@njit(cache=True, error_model="numpy")  # type: ignore[misc]
def trade_stats_init_nb(ts: F64Array) -> None:
    """Reset the trade-statistics accumulator.

    Args:
        ts: float64[N_TRADE_STATS], overwritten (zeros; best = -inf, worst = +inf).
    """
    for i in range(N_TRADE_STATS):
        ts[i] = 0.0
    ts[TS_BEST_RET] = -np.inf
    ts[TS_WORST_RET] = np.inf


@njit(cache=True, error_model="numpy")  # type: ignore[misc]
def trade_stats_update_nb(
    ts: F64Array, net_pnl: float, ret: float, bars_held: float, ret_on_risk: float
) -> None:
    """Add one closed trade to the accumulator.

    Args:
        ts: float64[N_TRADE_STATS], initialised by `trade_stats_init_nb`.
        net_pnl: net pnl of the trade in currency (gross pnl minus all fees). A trade is
            a win if ``net_pnl > 0``, a loss if ``net_pnl < 0``, else break-even.
        ret: net pnl / entry notional.
        bars_held: ``exit_idx - entry_idx``.
        ret_on_risk: net pnl / capital at risk; NaN (or any non-finite value, e.g. from
            a zero risk) means "not known": the trade is left out of ``return_on_risk``
            only.

    ``net_pnl``, ``ret`` and ``bars_held`` must be finite.
    """
    count = ts[TS_COUNT] + 1.0
    ts[TS_COUNT] = count
    delta = net_pnl - ts[TS_PNL_MEAN]
    mean = ts[TS_PNL_MEAN] + delta / count
    ts[TS_PNL_MEAN] = mean
    ts[TS_PNL_M2] += delta * (net_pnl - mean)
    ts[TS_RET_SUM] += ret
    if net_pnl > 0.0:
        ts[TS_WINS] += 1.0
        ts[TS_GROSS_PROFIT] += net_pnl
        ts[TS_WIN_RET_SUM] += ret
    elif net_pnl < 0.0:
        ts[TS_LOSSES] += 1.0
        ts[TS_GROSS_LOSS] -= net_pnl
        ts[TS_LOSS_RET_SUM] += ret
    if ret > ts[TS_BEST_RET]:
        ts[TS_BEST_RET] = ret
    if ret < ts[TS_WORST_RET]:
        ts[TS_WORST_RET] = ret
    ts[TS_BARS_SUM] += bars_held
    if math.isfinite(ret_on_risk):
        ts[TS_ROR_SUM] += ret_on_risk
        ts[TS_ROR_COUNT] += 1.0


@njit(cache=True, error_model="numpy")  # type: ignore[misc]
def trade_stats_from_arrays_nb(
    net_pnl: F64Array, ret: F64Array, bars_held: F64Array, ret_on_risk: F64Array, ts: F64Array
) -> None:
    """Initialise ``ts`` and add every trade of four equal-length float64[m] arrays."""
    trade_stats_init_nb(ts)
    for i in range(net_pnl.shape[0]):
        trade_stats_update_nb(ts, net_pnl[i], ret[i], bars_held[i], ret_on_risk[i])


@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def _trade_metrics_nb(ts: F64Array, out: F64Array) -> None:
    """Fill the trade-based entries of ``out`` from the accumulator (see docs)."""
    count = ts[TS_COUNT]
    wins = ts[TS_WINS]
    losses = ts[TS_LOSSES]
    out[M_TRADES] = count
    out[M_WIN_RATE] = ratio_nb(wins, count)
    out[M_PROFIT_FACTOR] = ratio_nb(ts[TS_GROSS_PROFIT], ts[TS_GROSS_LOSS])
    out[M_AVG_TRADE] = ratio_nb(ts[TS_RET_SUM], count)
    out[M_EXPECTANCY] = ts[TS_PNL_MEAN] if count > 0.0 else 0.0
    if count >= 2.0:
        std = math.sqrt(max(ts[TS_PNL_M2], 0.0) / (count - 1.0))
        out[M_SQN] = math.sqrt(count) * ratio_nb(ts[TS_PNL_MEAN], std)
    else:
        out[M_SQN] = 0.0
    out[M_RETURN_ON_RISK] = ratio_nb(ts[TS_ROR_SUM], ts[TS_ROR_COUNT])
    out[M_BEST_TRADE] = ts[TS_BEST_RET] if count > 0.0 else 0.0
    out[M_WORST_TRADE] = ts[TS_WORST_RET] if count > 0.0 else 0.0
    out[M_AVG_TRADE_DURATION] = ratio_nb(ts[TS_BARS_SUM], count)
    out[M_AVG_WIN] = ratio_nb(ts[TS_WIN_RET_SUM], wins)
    out[M_AVG_LOSS] = ratio_nb(ts[TS_LOSS_RET_SUM], losses)


# ======================================================================================
# Selection (order statistics without a full sort)
# ======================================================================================
@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def _heapsort_nb(a: F64Array, lo: int, hi: int) -> None:
    """Sort ``a[lo:hi]`` in place in O(m log m) (the selection's worst-case guard)."""
    size = hi - lo
    for step in range(size // 2 + size - 1):
        if step < size // 2:  # build the max-heap
            root = size // 2 - 1 - step
            end = size
        else:  # move the maximum behind the heap, then restore it
            end = size - 1 - (step - size // 2)
            a[lo], a[lo + end] = a[lo + end], a[lo]
            root = 0
        while True:  # sift a[lo + root] down in the heap a[lo:lo + end]
            child = 2 * root + 1
            if child >= end:
                break
            if child + 1 < end and a[lo + child] < a[lo + child + 1]:
                child += 1
            if not a[lo + root] < a[lo + child]:
                break
            a[lo + root], a[lo + child] = a[lo + child], a[lo + root]
            root = child


@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def _select_nb(a: F64Array, lo: int, hi: int, k: int) -> float:
    """Rearrange ``a[lo:hi]`` so that ``a[k]`` is its (k - lo)-th smallest; return it.

    Quickselect: median-of-three pivot, branch-free Lomuto partitioning (fast on
    unpredictable data), and a grouping pass for values equal to the pivot when a
    partition comes out lopsided, so long runs of ties stay linear. Afterwards
    ``a[lo:k] <= a[k] <= a[k+1:hi]``. A depth limit switches to a heap sort of the
    remaining range, which bounds the worst case by O(m log m). Requires
    ``lo <= k < hi`` and no NaN.
    """
    depth = 8
    size = hi - lo
    while size > 1:
        size >>= 1
        depth += 2
    while hi - lo > _INSERTION:
        if depth == 0:
            _heapsort_nb(a, lo, hi)
            return float(a[k])
        depth -= 1
        mid = (lo + hi) >> 1
        # order a[lo] <= a[mid] <= a[hi-1]; the median is the pivot, parked at a[lo]
        if a[mid] < a[lo]:
            a[mid], a[lo] = a[lo], a[mid]
        if a[hi - 1] < a[mid]:
            a[hi - 1], a[mid] = a[mid], a[hi - 1]
            if a[mid] < a[lo]:
                a[mid], a[lo] = a[lo], a[mid]
        pivot = float(a[mid])
        a[mid] = a[lo]
        first = lo + 1
        for read in range(lo + 1, hi):
            x = a[read]
            a[read] = a[first]
            a[first] = x
            first += x < pivot
        p = first - 1  # a[lo+1:p+1] < pivot <= a[p+1:hi]
        a[lo] = a[p]
        a[p] = pivot
        if k < p:
            hi = p
        elif k == p:
            return pivot
        else:
            lopsided = (p - lo) < ((hi - lo) >> 4)
            lo = p + 1
            if lopsided:  # maybe many ties: gather the values equal to the pivot first
                first = lo
                for read in range(lo, hi):
                    x = a[read]
                    a[read] = a[first]
                    a[first] = x
                    first += x <= pivot
                if k < first:
                    return pivot
                lo = first
    for i in range(lo + 1, hi):  # insertion sort of the short remainder
        v = a[i]
        j = i - 1
        while j >= lo and a[j] > v:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = v
    return float(a[k])


@njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _order_stats_nb(
    a: F64Array, hi: int, want: npt.NDArray[np.int64], vals: F64Array, count: int
) -> None:
    """``vals[i]`` = the ``want[i]``-th smallest of ``a[:hi]`` for ``i < count``.

    ``want[i]`` in ``[0, hi)``, any order, repeats allowed. Reorders ``a[:hi]``; each
    selection works only on the part right of the previous one.
    """
    order = np.empty(count, dtype=np.int64)
    for t in range(count):  # insertion sort of the (at most four) positions by rank
        j = t
        while j > 0 and want[order[j - 1]] > want[t]:
            order[j] = order[j - 1]
            j -= 1
        order[j] = t
    prev = -1
    for t in range(count):
        i = order[t]
        k = want[i]
        if k == prev:
            vals[i] = vals[order[t - 1]]
            continue
        if k == prev + 1:  # the smallest of a[k:hi], moved to a[k]
            best = k
            for j in range(k + 1, hi):
                if a[j] < a[best]:
                    best = j
            v = a[best]
            a[best] = a[k]
            a[k] = v
            vals[i] = v
        else:
            vals[i] = _select_nb(a, prev + 1, hi, k)
        prev = k


@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def _lerp(a: float, b: float, t: float) -> float:
    """NumPy's ``_lerp`` of the 'linear' quantile method, to the last bit."""
    d = b - a
    if t >= 0.5:
        return b - d * (1.0 - t)
    return a + d * t


@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def _quantile_ranks(n: int, q: float) -> tuple[int, int, float]:
    """Ranks ``(k, k_next)`` and weight ``t`` of ``np.quantile(x, q)`` ('linear'), n >= 1."""
    v = (n - 1) * q
    if v >= n - 1:
        return n - 1, n - 1, 0.0
    k = int(v)  # v >= 0: truncation is the floor
    return k, k + 1, v - k


@njit(cache=True, error_model="numpy")  # type: ignore[misc]
def quantile_nb(a: F64Array, q: float) -> float:
    """``np.quantile(a, q)`` (method 'linear') by selection; reorders ``a`` in place.

    Args:
        a: float64[n], n >= 1, no NaN; its order is destroyed.
        q: quantile level in [0, 1].
    """
    n = a.shape[0]
    k, k1, t = _quantile_ranks(n, q)
    want = np.empty(2, dtype=np.int64)
    want[0] = k
    want[1] = k1
    vals = np.empty(2)
    _order_stats_nb(a, n, want, vals, np.int64(2))  # type: ignore[arg-type]  # not a literal
    return _lerp(vals[0], vals[1], t)


# ======================================================================================
# compute_metrics_nb: one chunked pass, then the tail quantiles
# ======================================================================================
# acc (float64) slots filled by the first pass
_A_S1, _A_S2, _A_S3, _A_S4, _A_DOWN, _A_GAIN, _A_LOSS = 0, 1, 2, 3, 4, 5, 6
_A_PEAK, _A_INV_PEAK, _A_MAX_DD, _A_DD2, _A_RUN, _A_MAX_RUN = 7, 8, 9, 10, 11, 12
_A_NEXT_SAMPLE = 13  # the first sampled return `metrics_chunk_nb` has not stored yet
_A_SHIFT = 14  # shift of the power sums, set on the first chunk
_A_BAND_LO, _A_BAND_HI = 15, 16  # the band: returns strictly inside are not stored
_A_STORED = 17  # number of returns stored so far
_A_ZEROS = 18  # number of returns equal to 0
_A_BR = 19  # 4 slots: the brackets `metrics_finish_nb` placed, before the band clips them
N_ACC = 23
# cnt (int64) slots filled by the pass over the stored returns
_C_LT1, _C_LT2, _C_ZERO = 0, 1, 2
_N_CNT = 3
# the two value brackets `br` (float64[_N_BR]) around the quantiles: lo1, hi1, lo2, hi2
_B_LO1, _B_HI1, _B_LO2, _B_HI2 = 0, 1, 2, 3
_N_BR = 4
N_BR = _N_BR
# kept (int64) slots of `tail_split_nb`: the nonzero returns kept, the zero returns,
# the nonzero returns above bracket 2 (counted, not kept)
K_KEPT, K_ZERO, K_ABOVE = 0, 1, 2
N_KEPT = 3
# metrics that do not depend on per-bar returns (set before the n == 0 early exit)
_TRADE_OR_LEVEL = (
    M_TRADES, M_WIN_RATE, M_PROFIT_FACTOR, M_AVG_TRADE, M_EXPECTANCY, M_SQN, M_EXPOSURE,
    M_RETURN_ON_RISK, M_BEST_TRADE, M_WORST_TRADE, M_AVG_TRADE_DURATION, M_AVG_WIN,
    M_AVG_LOSS, M_TOTAL_RETURN, M_FINAL_EQUITY,
)  # fmt: skip


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, called_from_python=False)
def _segment_sums_nb(
    r: F64Array, shift: float, flags: npt.NDArray[np.uint8], acc: F64Array
) -> None:
    """Add the power sums of ``r - shift``, the downside and omega sums and the count
    of zero returns of one segment's returns to ``acc`` (vectorised by LLVM; the
    segments are the same however the series is cut into chunks, so the bits are too).
    ``flags[i]`` is set to 1 for a return to store: nonzero and at or beyond the band
    as it is at the start of the segment (a band widened within it only stores more).
    """
    lo = acc[_A_BAND_LO]
    hi = acc[_A_BAND_HI]
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    s4 = 0.0
    down = 0.0
    gain = 0.0
    loss = 0.0
    n_zero = 0
    for i in range(r.shape[0]):
        x = r[i]
        d = x - shift
        d2 = d * d
        s1 += d
        s2 += d2
        s3 += d2 * d
        s4 += d2 * d2
        neg = min(x, 0.0)
        down += neg * neg
        gain += max(x, 0.0)
        loss -= neg
        n_zero += x == 0.0
        flags[i] = ((x <= lo) | (x >= hi)) & (x != 0.0)
    acc[_A_S1] += s1
    acc[_A_S2] += s2
    acc[_A_S3] += s3
    acc[_A_S4] += s4
    acc[_A_DOWN] += down
    acc[_A_GAIN] += gain
    acc[_A_LOSS] += loss
    acc[_A_ZEROS] += n_zero


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, called_from_python=False)
def _chunk_counts_nb(
    rbuf: F64Array,
    length: int,
    br: F64Array,
    cnt: npt.NDArray[np.int64],
    flags: npt.NDArray[np.uint8],
) -> float:
    """Counts over the stored (nonzero) returns ``rbuf[:length]`` (vectorised by LLVM).

    Adds to ``cnt[_C_LT1]`` the count of ``r < lo1`` and to ``cnt[_C_LT2]`` that of
    ``r >= lo2``; returns the sum of the returns below ``lo1``. ``flags[i]`` is set to
    1 for a quantile candidate (inside either bracket), else 0. The returns are only
    read and compared, so reassociation cannot make the counts or flags disagree with
    them.
    """
    lo1 = br[_B_LO1]
    hi1 = br[_B_HI1]
    lo2 = br[_B_LO2]
    hi2 = br[_B_HI2]
    below = 0.0
    n_lt1 = 0
    n_ge2 = 0
    for i in range(length):
        r = rbuf[i]
        below += r if r < lo1 else 0.0
        n_lt1 += r < lo1
        n_ge2 += r >= lo2
        flags[i] = ((r >= lo1) & (r <= hi1)) | ((r >= lo2) & (r <= hi2))
    cnt[_C_LT1] += n_lt1
    cnt[_C_LT2] += n_ge2
    return below


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, called_from_python=False)
def _chunk_returns_drawdown_nb(cur: F64Array, prev: float, rout: F64Array, acc: F64Array) -> None:
    """Per-bar returns and drawdown of one chunk of equity; the drawdown state is
    carried in ``acc``.

    ``rout[i] = cur[i] / cur[i-1] - 1`` (``cur[-1] = prev``; 0 after an equity
    ``<= 0``), bit for bit the returns of `per_bar_returns_nb` and of NumPy: a lone
    division and subtraction, which none of the fast-math flags used here can change.

    ``dd = (peak - e) / peak`` against the running peak (initially cash). Blocks of
    ``_BLOCK`` bars are first scanned with vectorised counts: a block that stays below
    the peak (the usual case) adds its squared drawdowns and its length to the
    under-water run at once, and is looked at bar by bar only if it may deepen the
    maximum drawdown; a block that reaches the peak goes bar by bar. The returns are
    computed first, in one loop over the segment (8 divisions an instruction): a loop
    per block left 7 of its 64 to scalar divisions, and the whole took 0.30 against
    0.27 ns a bar (the same bits).
    """
    peak = acc[_A_PEAK]
    inv = acc[_A_INV_PEAK]
    max_dd = acc[_A_MAX_DD]
    dd2 = acc[_A_DD2]
    run = acc[_A_RUN]
    max_run = acc[_A_MAX_RUN]
    n = cur.shape[0]
    if n > 0:
        rout[0] = cur[0] / prev - 1.0 if prev > 0.0 else 0.0
    for i in range(1, n):
        p = cur[i - 1]
        rout[i] = cur[i] / p - 1.0 if p > 0.0 else 0.0
    for b0 in range(0, n, _BLOCK):
        b1 = min(n, b0 + _BLOCK)
        blk = cur[b0:b1]
        # bars below `deeper` may set a new maximum drawdown (generous by 1e-9)
        deeper = peak - (max_dd - 1e-9) * peak
        n_top = 0
        n_deeper = 0
        sq = 0.0
        for i in range(blk.shape[0]):
            e = blk[i]
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


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, inline="always")  # type: ignore[misc]
def _block_drawdown_nb(
    blk: F64Array,
    n_top: int,
    n_deeper: int,
    sq: float,
    peak: float,
    inv: float,
    max_dd: float,
    dd2: float,
    run: float,
    max_run: float,
) -> tuple[float, float, float, float, float, float]:
    """One drawdown block after its vectorised counts (``n_top`` bars at or above the
    peak, ``n_deeper`` below the depth that may set a new maximum, ``sq`` the sum of
    their squared distances to the peak): the drawdown state ``(peak, inv, max_dd,
    dd2, run, max_run)`` after the block (see `_chunk_returns_drawdown_nb`; inlined
    into each block loop, so the compiled loops are as if written out there)."""
    if n_top == 0:
        dd2 += sq * inv * inv
        run += blk.shape[0]
        max_run = max(max_run, run)
        if n_deeper > 0:
            for i in range(blk.shape[0]):
                max_dd = max(max_dd, (peak - blk[i]) * inv)
    else:
        for i in range(blk.shape[0]):
            e = blk[i]
            if e > peak:
                peak = e
                inv = 1.0 / e
            dd = (peak - e) * inv
            max_dd = max(max_dd, dd)
            dd2 += dd * dd
            run = run + 1.0 if e < peak else 0.0
            max_run = max(max_run, run)
    return peak, inv, max_dd, dd2, run, max_run


@njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _compact_nb(
    r: F64Array, length: int, flags: npt.NDArray[np.uint8], dest: F64Array, m: int
) -> int:
    """Append the returns of ``r[:length]`` whose flag is set to ``dest[m:]``, in
    order; returns the new ``m``.

    On AVX-512, 8 returns per instruction (`compress_store8`, about 3x the scalar
    loop); elsewhere, and for the last few, branch-free: ``dest[m]`` is
    written for every return and ``m`` advances on the flagged ones (with a few
    percent flagged or more, this beats looking at flags 8 at a time and skipping
    empty words, whose branch the CPU mispredicts). ``dest`` needs a slot for each of
    the ``length`` returns from ``m`` on (a slot past the kept ones is written). It
    may be ``r``'s own array with ``m`` at or before ``r``'s start: ``m`` never passes
    the return being read.
    """
    t = 0 * length  # int64 from the start: one compiled loop below
    if VECTOR_COMPRESS:
        # each step writes 8 slots at dest[m:]; m grows by at most t, so with
        # m0 + t + 8 <= len(dest) they never pass its end
        end = min(length, dest.shape[0] - m) - LANES
        while t <= end:
            m = compress_store8(r, t, flags, dest, m)  # type: ignore[call-arg]  # an intrinsic
            t += LANES
    while t < length:
        dest[m] = r[t]
        # int(): nothing compiled (uint8 stays uint8, widened by the add); as Python
        # (NUMBA_DISABLE_JIT=1) a Python int, where int + uint8 would be a uint8
        m += int(flags[t])
        t += 1
    return m


@njit(cache=True, error_model="numpy")  # type: ignore[misc]
def metrics_begin_nb(cash: float, acc: F64Array) -> None:
    """Reset the accumulator ``acc`` (float64[N_ACC]) before the first chunk of a
    backtest whose initial equity is ``cash`` (> 0)."""
    for i in range(N_ACC):
        acc[i] = 0.0
    acc[_A_PEAK] = cash
    acc[_A_INV_PEAK] = 1.0 / cash
    acc[_A_BAND_LO] = np.inf  # no band yet: every nonzero return is stored
    acc[_A_BAND_HI] = -np.inf


@njit(cache=True, error_model="numpy")  # type: ignore[misc]
def metrics_chunk_nb(
    cur: F64Array,
    prev: float,
    j0: int,
    n: int,
    rbuf: F64Array,
    sample: F64Array,
    stored: F64Array,
    acc: F64Array,
) -> None:
    """The metrics pass over one chunk of an equity curve, while it is in cache.

    Args:
        cur: float64[k] (k >= 1), equity of bars ``j0 .. j0 + k - 1``.
        prev: equity before ``cur[0]`` (``cash`` for the first chunk).
        j0: index of the chunk's first bar; ``n`` the number of bars of the series.
        rbuf: float64[>= k] work buffer; receives the chunk's per-bar returns.
        sample: float64[_sample_size(n)] (any length if n < 2048), the same for every
            chunk; receives, in bar order, the returns of the bars the quantile
            brackets are placed from.
        stored: float64[n], the same for every chunk; receives, in bar order, the
            nonzero returns outside the band (see below), ``acc[_A_STORED]`` of them.
        acc: the accumulator of `metrics_begin_nb`; the state is carried.

    Chunks must be fed in order, and every chunk but the last must be a multiple of
    ``_SEGMENT`` (1024) bars long: the work is done segment by segment, so that sums,
    drawdown blocks and the band fall on the same bars however the series is cut, and
    the engine and `compute_metrics_nb` give the same bits.

    The band: a nonzero return is stored unless it lies strictly between ``lo`` and
    ``hi``. The band starts empty and is widened, never narrowed, to the 15 % and 85 %
    quantiles of the sampled returns when the sample reaches 1/16, 1/8, 1/4 and 1/2 of
    its size. So every nonzero return at or below the final ``lo`` and at or above the
    final ``hi`` is stored (about a third of the returns on a steady series), and the
    5 % and 95 % quantiles are found among those unless the series' tails moved inside
    the band (`metrics_finish_nb` tells).
    """
    w = cur.shape[0]
    if j0 == 0 and w > 0:
        # the shift of the power sums: the first segment's geometric mean return
        b = min(w, _SEGMENT)
        e = cur[b - 1]
        acc[_A_SHIFT] = (e / prev) ** (1.0 / b) - 1.0 if e > 0.0 else 0.0  # prev = cash
    shift = acc[_A_SHIFT]
    s = _sample_size(n) if n >= _SAMPLE_MIN_N else 0
    flags = np.empty(_SEGMENT, dtype=np.uint8)
    last = prev
    for g0 in range(0, w, _SEGMENT):
        g1 = min(w, g0 + _SEGMENT)
        seg = cur[g0:g1]
        rseg = rbuf[g0:g1]
        _chunk_returns_drawdown_nb(seg, last, rseg, acc)
        last = seg[g1 - g0 - 1]
        _segment_sums_nb(rseg, shift, flags, acc)
        if s > 0:
            _segment_sample_nb(rseg, j0 + g0, n, s, sample, acc)
        acc[_A_STORED] = _compact_nb(rseg, g1 - g0, flags, stored, int(acc[_A_STORED]))


@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def _segment_sample_nb(
    r: F64Array, g0: int, n: int, s: int, sample: F64Array, acc: F64Array
) -> None:
    """Store the sampled returns among ``r`` (bars ``g0 ..``); widen the band when the
    sample reaches 1/16, 1/8, 1/4 or 1/2 of its size ``s`` (and at least 256)."""
    i = int(acc[_A_NEXT_SAMPLE])
    g1 = g0 + r.shape[0]
    while i < s:
        j = _sample_bar(i, n, s)
        if j >= g1:
            break
        sample[i] = r[j - g0]
        i += 1
        if i >= _BAND_MIN_SAMPLE and (i == s >> 4 or i == s >> 3 or i == s >> 2 or i == s >> 1):
            _widen_band_nb(sample, i, acc)
    acc[_A_NEXT_SAMPLE] = i


@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def _widen_band_nb(sample: F64Array, c: int, acc: F64Array) -> None:
    """Widen the band to the ``_P_BAND`` and ``1 - _P_BAND`` quantiles of every
    ``step``-th of ``sample[:c]``, at most ``_BAND_SAMPLE`` returns."""
    step = (c + _BAND_SAMPLE - 1) // _BAND_SAMPLE
    sub = sample[:c:step].copy()
    size = sub.shape[0]
    k = int(size * _P_BAND)
    want = np.empty(2, dtype=np.int64)
    want[0] = k
    want[1] = size - 1 - k
    got = np.empty(2)
    _order_stats_nb(sub, size, want, got, np.int64(2))  # type: ignore[arg-type]  # not a literal
    acc[_A_BAND_LO] = min(acc[_A_BAND_LO], got[0])
    acc[_A_BAND_HI] = max(acc[_A_BAND_HI], got[1])


@njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _sample_size(n: int) -> int:
    """Size of the systematic sample of returns that places the quantile brackets."""
    return min(_N_SAMPLE, n >> 4)


@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def _sample_bar(i: int, n: int, s: int) -> int:
    """The bar of the i-th sampled return (jittered systematic sample, increasing)."""
    return min(n - 1, int((i + (i * _GOLDEN) % 1.0) * (n / s)))


@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def _stored_pass_nb(
    stored: F64Array, m: int, n: int, br: F64Array, cnt: npt.NDArray[np.int64]
) -> tuple[int, float]:
    """Counts over the stored returns ``stored[:m]`` and the quantile candidates.

    Fills ``cnt`` (returns below each bracket, zero returns) for the whole series:
    the brackets lie where every nonzero return was stored (`_clip_brackets_nb`), and
    zeros were counted by the first pass. The candidates (stored returns inside either
    bracket) are moved to the front of ``stored`` in their order; returns their number
    and the sum of the returns below bracket 1.
    """
    n_zero = cnt[_C_ZERO]
    cnt[_C_LT1] = n_zero if br[_B_LO1] > 0.0 else 0
    cnt[_C_LT2] = n_zero if br[_B_LO2] <= 0.0 else 0  # the count >= lo2, for now
    flags = np.empty(_CHUNK, dtype=np.uint8)  # zeroed below, not np.zeros (see _ZEROED)
    flags[:] = 0
    below = 0.0
    mc = 0 * m  # typed int64 from the start, so the callee compiles once, not for 0
    for j0 in range(0, m, _CHUNK):
        j1 = min(m, j0 + _CHUNK)
        rbuf = stored[j0:j1]
        below += _chunk_counts_nb(rbuf, j1 - j0, br, cnt, flags)
        # in place: the candidates move to the front, never past the returns unread
        mc = _compact_nb(rbuf, j1 - j0, flags, stored, mc)
    cnt[_C_LT2] = n - cnt[_C_LT2]
    return int(mc), below


@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def _clip_brackets_nb(br: F64Array, lo: float, hi: float) -> None:
    """Keep the brackets where every return is known: bracket 1 at or below the band's
    ``lo``, bracket 2 at or above its ``hi`` (the zeros are counted, so a band edge
    at 0 is known too)."""
    br[_B_HI1] = min(br[_B_HI1], lo)
    br[_B_LO1] = min(br[_B_LO1], br[_B_HI1])
    br[_B_LO2] = max(br[_B_LO2], hi)
    br[_B_HI2] = max(br[_B_HI2], br[_B_LO2])


@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def _brackets_nb(n: int, k_lo: int, k_hi: int, scratch: F64Array, br: F64Array) -> None:
    """Fill ``br`` with value brackets around return ranks ``k_lo, k_lo + 1`` and
    ``k_hi, k_hi + 1``.

    Short series get infinite brackets (every nonzero return is a candidate). Longer
    ones take them from a jittered systematic sample of ``s`` returns, which
    `metrics_chunk_nb` stored in ``scratch[:s]``: sample ranks ``s k / n`` widened by
    ``_Z_BRACKET`` binomial standard deviations. This is only a guess; the caller
    checks it with exact counts.
    """
    want = np.empty(4, dtype=np.int64)
    inside = np.empty(4, dtype=np.int64)
    count = _bracket_ranks_nb(n, k_lo, k_hi, br, want, inside)
    if count < 0:
        return
    got = np.empty(4)
    _order_stats_nb(scratch, _sample_size(n), inside, got, count)
    _put_brackets_nb(n, want, got, br)


@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def _bracket_ranks_nb(
    n: int,
    k_lo: int,
    k_hi: int,
    br: F64Array,
    want: npt.NDArray[np.int64],
    inside: npt.NDArray[np.int64],
) -> int:
    """`_brackets_nb` up to the selection: ``br`` infinite, ``want`` the sample rank
    of each bracket's edge, ``inside[:count]`` those within the sample; returns
    ``count``, or -1 for a short series (no sample: the brackets stay infinite)."""
    br[_B_LO1] = -np.inf
    br[_B_HI1] = np.inf
    br[_B_LO2] = -np.inf
    br[_B_HI2] = np.inf
    if n < _SAMPLE_MIN_N:
        return -1
    s = _sample_size(n)
    for b in range(2):
        k = k_lo if b == 0 else k_hi
        p = (k + 1.0) / n
        half = _Z_BRACKET * math.sqrt(s * p * (1.0 - p)) + 2.0
        want[2 * b] = math.floor(s * k / n - half)
        want[2 * b + 1] = math.ceil(s * (k + 2.0) / n + half)
    count = 0 * s  # int64, not Literal[int](0): one compiled callee
    for i in range(4):
        if 0 <= want[i] < s:
            inside[count] = want[i]
            count += 1
    return count


@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def _put_brackets_nb(n: int, want: npt.NDArray[np.int64], got: F64Array, br: F64Array) -> None:
    """The selected sample values ``got`` into the edges of ``br`` they stand for."""
    s = _sample_size(n)
    count = 0
    for i in range(4):
        if 0 <= want[i] < s:
            br[i] = got[count]
            count += 1


@njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _tail_nb(
    buf: F64Array, m: int, n: int, br: F64Array, cnt: npt.NDArray[np.int64], below_sum: float
) -> tuple[bool, float, float, float]:
    """``(found, q05, cvar, q95)`` from the candidates ``buf[:m]`` and the exact counts.

    ``buf[:m]`` holds every nonzero return inside either bracket, ``cnt`` the counts of
    returns below each bracket and of zeros, ``below_sum`` the sum of the returns below
    bracket 1. In sorted order the returns of bracket ``[lo, hi]`` are:
    the candidates in ``[lo, 0)``, the zeros (if ``lo <= 0 <= hi``), the candidates in
    ``(0, hi]``; a rank ``k`` with ``n_lt <= k < n_le`` is found among them, after the
    ``below`` candidates that are smaller than ``lo``. ``found`` is False when a rank
    lies outside its bracket (the caller then falls back).
    """
    where = np.empty(4, dtype=np.int64)
    want = np.empty(4, dtype=np.int64)
    count = _tail_where_nb(buf, m, n, br, cnt, where, want)
    if count < 0:
        return False, 0.0, 0.0, 0.0
    got = np.empty(4)
    _order_stats_nb(buf, m, want, got, count)
    q_lo, q_hi = _tail_quantiles_nb(n, where, got)
    total, comp, _, k = _tail_sum_nb(buf, m, br[_B_LO1], q_lo, below_sum)
    return True, q_lo, (total + comp) / (_tail_count_nb(br, cnt, q_lo) + k), q_hi


@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def _tail_where_nb(
    buf: F64Array,
    m: int,
    n: int,
    br: F64Array,
    cnt: npt.NDArray[np.int64],
    where: npt.NDArray[np.int64],
    want: npt.NDArray[np.int64],
) -> int:
    """`_tail_nb` up to the selection: ``where[i]`` the position among the sorted
    candidates of the i-th quantile rank (k1, k2, k3, k4; -1 on a zero return),
    ``want[:count]`` those positions; returns ``count``, or -1 when a rank lies
    outside its bracket."""
    k1, k2, _ = _quantile_ranks(n, _Q_LO)
    k3, k4, _ = _quantile_ranks(n, _Q_HI)
    n_zero = cnt[_C_ZERO]
    for b in range(2):
        lo = br[2 * b]
        hi = br[2 * b + 1]
        n_lt = cnt[_C_LT1 + b]
        below = 0
        neg = 0
        inside = 0
        for i in range(m):
            v = buf[i]
            below += v < lo
            neg += (v >= lo) & (v < 0.0)
            inside += (v >= lo) & (v <= hi)
        zero_inside = lo <= 0.0 <= hi
        # the bracket holds its candidates and, if 0 is inside, the zero returns
        n_le = n_lt + inside + (n_zero if zero_inside else 0)
        for r in range(2):
            k = (k1, k2, k3, k4)[2 * b + r]
            if k < n_lt or k >= n_le:
                return -1
            t = k - n_lt
            if zero_inside and t >= neg:
                where[2 * b + r] = -1 if t < neg + n_zero else below + t - n_zero
            else:
                where[2 * b + r] = below + t
    count = 0 * m  # int64, not Literal[int](0): one compiled callee
    for i in range(4):
        if where[i] >= 0:
            want[count] = where[i]
            count += 1
    return count


@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def _tail_quantiles_nb(n: int, where: npt.NDArray[np.int64], got: F64Array) -> tuple[float, float]:
    """The 5 % and 95 % quantiles from the selected values ``got`` (in the order of
    ``where``'s nonnegative entries; 0.0 for a rank on a zero return)."""
    t_lo = _quantile_ranks(n, _Q_LO)[2]
    t_hi = _quantile_ranks(n, _Q_HI)[2]
    vals = np.empty(4)  # zeroed below, not np.zeros (see _ZEROED)
    vals[:] = 0.0
    count = 0
    for i in range(4):
        if where[i] >= 0:
            vals[i] = got[count]
            count += 1
    return _lerp(vals[0], vals[1], t_lo), _lerp(vals[2], vals[3], t_hi)


@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def _tail_count_nb(br: F64Array, cnt: npt.NDArray[np.int64], q_lo: float) -> int:
    """The returns in the tail that are not candidates: those below bracket 1 and,
    if they belong to it, the zeros."""
    lo1 = br[_B_LO1]
    n_tail = cnt[_C_LT1]
    if lo1 <= 0.0 <= q_lo:
        n_tail += cnt[_C_ZERO]
    return int(n_tail)


# CVaR: the returns < lo1 (summed by the pass), then those in [lo1, q_lo]: zeros and
# candidates (q_lo <= hi1, so these all belong to bracket 1). The candidates are added
# with Neumaier's compensation: they can be hundreds of thousands of nearly equal values
# (a quantile inside a dense cluster), whose plain running sum drifted by 6e-12
# relative.
@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def _tail_sum_nb(
    buf: F64Array, m: int, lo1: float, q_lo: float, below_sum: float
) -> tuple[float, float, float, int]:
    """Neumaier's sum of ``below_sum`` and the values of ``buf[:m]`` in ``[lo1, q_lo]``
    in their order: ``(total, comp, size, k)``, with ``size`` the sum of the magnitudes
    (for `_certain_sum_nb`) and ``k`` the number of values of ``buf`` added."""
    total = below_sum
    comp = 0.0
    size = abs(below_sum)
    k = 0 * m
    for i in range(m):
        v = buf[i]
        if v >= lo1 and v <= q_lo:
            total, comp = _neumaier_nb(total, comp, v)
            size += abs(v)
            k += 1
    return total, comp, size, k


@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def _neumaier_nb(total: float, comp: float, v: float) -> tuple[float, float]:
    """``total + v`` and the compensation plus its rounding error, which this
    computes exactly (Fast2Sum, from the larger of the two)."""
    t = total + v
    if abs(total) >= abs(v):
        comp += (total - t) + v
    else:
        comp += (v - t) + total
    return t, comp


@njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _tail_from_returns_nb(returns: F64Array, out: F64Array) -> None:
    """VaR, CVaR and tail ratio selected among all the returns (float64[n], n >= 1,
    reordered): the fallback when the stored tails of `metrics_finish_nb` fall short."""
    n = returns.shape[0]
    m = 0 * n  # int64, not Literal[int](0): one compiled _tail_nb
    n_zero = 0
    for j in range(n):  # the nonzero returns to the front, in place
        r = returns[j]
        returns[m] = r
        m += r != 0.0
        n_zero += r == 0.0
    tail_from_nonzero_nb(returns, m, n, n_zero, out)


@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def tail_brackets_nb(acc: F64Array, br: F64Array) -> None:
    """The value brackets (float64[N_BR]) of the 5 % and 95 % quantiles that
    `metrics_finish_nb` placed from its sample (``acc``, after it ran), before the band
    clipped them: a guess, which `tail_by_value_nb` checks with exact counts."""
    for i in range(_N_BR):
        br[i] = acc[_A_BR + i]


@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def open_brackets_nb(br: F64Array) -> None:
    """Brackets that hold every return: `tail_split_nb` then keeps all the nonzero
    returns, in order, as `tail_from_nonzero_nb` takes them."""
    for b in range(2):
        br[2 * b] = -np.inf
        br[2 * b + 1] = np.inf


@njit(cache=True, error_model="numpy")  # type: ignore[misc]
def tail_split_nb(
    r: F64Array, w: int, br: F64Array, dest: F64Array, kept: npt.NDArray[np.int64]
) -> None:
    """Keep what `tail_by_value_nb` needs of the returns ``r[:w]``, which come chunk by
    chunk in bar order: the nonzero ones at or below bracket 1's high end or inside
    bracket 2, appended in order to ``dest`` (float64, a slot for every return fed
    so far: ``n`` for a series of n), counted in ``kept[K_KEPT]``; the nonzero ones
    above bracket 2 are only counted, in ``kept[K_ABOVE]``, the zeros in
    ``kept[K_ZERO]``. With
    `open_brackets_nb` every nonzero return is kept.
    (`metrics_chunk_nb` stores the same way, with the band (hi1, lo2).)
    """
    hi1 = br[_B_HI1]
    lo2 = br[_B_LO2]
    hi2 = br[_B_HI2]
    flags = np.empty(w, dtype=np.uint8)
    zeros = 0
    above = 0
    for i in range(w):  # vectorised; then `_compact_nb`, 8 at a time on AVX-512
        v = r[i]
        nonzero = v != 0.0
        flags[i] = ((v <= hi1) | ((v >= lo2) & (v <= hi2))) & nonzero
        above += (v > hi2) & nonzero
        zeros += v == 0.0
    kept[K_KEPT] = _compact_nb(r, w, flags, dest, kept[K_KEPT])
    kept[K_ZERO] += zeros
    kept[K_ABOVE] += above


@njit(cache=True, error_model="numpy")  # type: ignore[misc]
def tail_by_value_nb(
    dest: F64Array, kept: npt.NDArray[np.int64], n: int, br: F64Array, out: F64Array
) -> bool:
    """`tail_from_nonzero_nb`'s VaR, CVaR and tail ratio (the same bits) from what
    `tail_split_nb` kept and counted of ``n`` returns with the brackets ``br`` of
    `tail_brackets_nb` (``kept[K_ZERO]`` also counting any zeros the caller
    skipped); ``dest`` is reordered. False (``out`` untouched) if a quantile is
    outside its bracket or the sum cannot be sure: the caller then runs
    `tail_from_nonzero_nb` on all the nonzero returns.

    The quantiles are order statistics, the same whichever selection finds them:
    here among the returns inside the brackets, as `metrics_finish_nb` does. CVaR's
    sum is the one part that depends on an order: `tail_from_nonzero_nb` adds the
    tail with Neumaier's compensation in the order its selection left it, and
    `_certain_sum_nb` tells when every order gives the same bits.
    """
    m = kept[K_KEPT]
    n_zero = kept[K_ZERO]
    n_above = kept[K_ABOVE]
    lo1 = br[_B_LO1]
    total = 0.0
    comp = 0.0
    size = 0.0  # the sum of the magnitudes, for the error bound
    k = 0 * m  # int64 from the start
    for i in range(m):  # the returns below bracket 1; adding 0.0 changes nothing
        v = dest[i]
        x = v if v < lo1 else 0.0
        total, comp = _neumaier_nb(total, comp, x)
        size += abs(x)
        k += v < lo1
    cnt = np.empty(_N_CNT, dtype=np.int64)  # zeroed below, not np.zeros (see _ZEROED)
    cnt[:] = 0
    cnt[_C_ZERO] = n_zero
    # the returns above bracket 2, not kept, are above lo2: out of the count below it
    mc, below = _stored_pass_nb(dest, m, n - n_above, br, cnt)
    found, q_lo, _, q_hi = _tail_nb(dest, mc, n, br, cnt, below)
    if not found:
        return False
    for i in range(mc):  # then the candidates in the tail
        v = dest[i]
        if v >= lo1 and v <= q_lo:
            total, comp = _neumaier_nb(total, comp, v)
            size += abs(v)
            k += 1
    sure, tail_sum = _certain_sum_nb(total, comp, size, k)
    if not sure:
        return False
    # `tail_from_nonzero_nb`'s brackets start at -inf: the zeros are in its tail
    # exactly when the quantile is not below 0
    n_tail = k + (n_zero if q_lo >= 0.0 else 0)
    _put_tail_nb(q_lo, tail_sum / n_tail, q_hi, out)
    return True


_U = 2.0**-53  # the unit roundoff of float64


@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def _certain_sum_nb(total: float, comp: float, size: float, k: int) -> tuple[bool, float]:
    """Whether ``fl(total' + comp')`` is the same float for Neumaier's sum of the
    same ``k`` values in every order, given this order's ``total``, ``comp`` and
    ``size`` (the sum of the values' magnitudes); and that float.

    Why: each step's rounding error is computed exactly, so for any order
    ``total' + comp'`` is the exact sum S plus the error of adding those k errors
    into ``comp'`` (recursive summation: at most gamma(k) times the sum of their
    magnitudes, each at most u times a partial sum, so at most gamma(k) k u size,
    with some room for the rounding of ``size``: the bound E below). Two orders'
    values lie within 2E of each other, so when ``total + comp`` is farther than
    2E from either edge of the rounding cell of its float, every order rounds to it.
    """
    r = total + comp
    if k == 0:
        return True, r
    b = r - total  # the exact residual of r (Knuth's TwoSum)
    err = (total - (r - b)) + (comp - b)
    ku = k * _U
    bound = 4.0 * (ku * ku / (1.0 - ku)) * size + 4.0 * k * 5e-324
    up = np.nextafter(r, np.inf) - r
    down = r - np.nextafter(r, -np.inf)
    return err + 2.0 * bound < 0.5 * up and err - 2.0 * bound > -0.5 * down, r


# Inlined into its callers, `_tail_from_returns_nb` and the engine's many-candidates
# kernel (whose own fallback rebuilds the nonzero returns without the zeros): no
# compiled level more. Its body has no division but `ratio_nb`'s, after a zero test.
@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def tail_from_nonzero_nb(nonzero: F64Array, m: int, n: int, n_zero: int, out: F64Array) -> None:
    """`_tail_from_returns_nb` on returns given as their nonzero ones, ``nonzero[:m]``
    in bar order (reordered), and the number ``n_zero`` of zeros among the ``n``
    (``m + n_zero == n``): VaR, CVaR and the tail ratio into ``out``, the same bits."""
    br = np.empty(_N_BR)
    open_brackets_nb(br)
    cnt = np.empty(_N_CNT, dtype=np.int64)  # zeroed below, not np.zeros (see _ZEROED)
    cnt[:] = 0
    cnt[_C_ZERO] = n_zero
    _, q_lo, cvar, q_hi = _tail_nb(nonzero, m, n, br, cnt, 0.0)
    _put_tail_nb(q_lo, cvar, q_hi, out)


@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def _put_tail_nb(q_lo: float, cvar: float, q_hi: float, out: F64Array) -> None:
    out[M_VAR_95] = q_lo
    out[M_CVAR_95] = cvar
    out[M_TAIL_RATIO] = ratio_nb(abs(q_hi), abs(q_lo))


# Inlined into its compiled callers (`run_one_nb`): numba optimizes a callee again inside
# each caller, so a level fewer shortens a cold start. Its own body has no division, so
# the caller's error model changes nothing; the kernels it calls keep theirs.
@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def compute_metrics_nb(
    equity: F64Array,
    cash: float,
    exposure_bars: int,
    ts: F64Array,
    periods_per_year: float,
    scratch: F64Array,
    out: F64Array,
) -> None:
    """All metrics of one backtest, written to ``out`` in registry order.

    Args:
        equity: float64[n] (n >= 0), equity marked at each bar close; finite.
        cash: initial equity, the value before bar 0; finite and > 0.
        exposure_bars: number of bars with a position (0 <= exposure_bars <= n).
        ts: float64[N_TRADE_STATS] filled by `trade_stats_update_nb`; not modified.
        periods_per_year: bars per year, for annualization; finite and > 0.
        scratch: float64[n] work buffer, overwritten (reuse it across calls).
        out: float64[N_METRICS], overwritten.

    NaN policy: with finite inputs no output is NaN. Ratios with a zero denominator
    follow `ratio_nb` (``+inf``, ``-inf`` or ``0``); docs/metrics.md lists the metrics
    that can be infinite. NaN in ``equity`` gives unspecified return metrics.

    Cost: O(n). One chunked pass (`metrics_chunk_nb`, the pass the engine runs inside
    its simulation instead) takes the returns, the drawdown, the power, downside and
    omega sums and a sample, and stores the returns outside a central band; then
    `metrics_finish_nb` selects the 5% / 95% quantiles among the stored returns inside
    two brackets placed by the sample. If the tails moved inside the band, they are
    selected among all returns instead. The result is the same as NumPy's on the same
    returns up to summation order; quantiles match exactly.
    """
    n = equity.shape[0]
    acc = np.empty(N_ACC)
    metrics_begin_nb(cash, acc)
    rbuf = np.empty(min(n, _CHUNK))
    sample = np.empty(_sample_size(n) if n >= _SAMPLE_MIN_N else 0)
    prev = cash
    for j0 in range(0, n, _CHUNK):
        j1 = min(n, j0 + _CHUNK)
        metrics_chunk_nb(equity[j0:j1], prev, j0, n, rbuf, sample, scratch, acc)
        prev = equity[j1 - 1]
    ppy = periods_per_year
    if not metrics_finish_nb(n, prev, cash, exposure_bars, ts, ppy, acc, sample, scratch, out):
        per_bar_returns_nb(equity, cash, scratch)
        _tail_from_returns_nb(scratch, out)


@njit(cache=True, error_model="numpy")  # type: ignore[misc]
def metrics_finish_nb(
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
    """All metrics from the accumulator of the first pass.

    Args:
        n: number of bars.
        final: equity at the last bar (``cash`` if n == 0).
        acc: float64[N_ACC] after `metrics_chunk_nb` saw every chunk.
        sample, stored: the buffers `metrics_chunk_nb` filled; reordered.
        Others as in `compute_metrics_nb`.

    Returns False if VaR, CVaR and the tail ratio could not be found among the stored
    returns (the band held a tail); the caller then computes them from all returns
    with `_tail_from_returns_nb`. Every other entry of ``out`` is set either way.
    """
    _finish_but_tails_nb(n, final, cash, exposure_bars, ts, periods_per_year, acc, out)
    if n == 0:
        return True

    # ---- tail quantiles -----------------------------------------------------------------
    br = np.empty(_N_BR)
    k_lo = _quantile_ranks(n, _Q_LO)[0]
    k_hi = _quantile_ranks(n, _Q_HI)[0]
    _brackets_nb(n, k_lo, k_hi, sample, br)
    cnt = np.empty(_N_CNT, dtype=np.int64)  # zeroed below, not np.zeros (see _ZEROED)
    cnt[:] = 0
    m, below = _finish_candidates_nb(n, acc, stored, br, cnt)
    found, q_lo, cvar, q_hi = _tail_nb(stored, m, n, br, cnt, below)
    if found:
        _put_tail_nb(q_lo, cvar, q_hi, out)
    return found


# A kernel of its own, not inlined into its callers: numba copies an inlined function's
# IR once per block of it (each copy with all of its variables), and this one's 121
# blocks with its 862 variables (`_trade_metrics_nb` and the ratios inlined) cost
# ~0.3 s of each `metrics_finish_nb` compile, on a cold start's critical path (the
# compile child). A call per candidate finish costs nothing measurable.
@njit(cache=True, error_model="numpy", called_from_python=False)  # type: ignore[misc]
def _finish_but_tails_nb(
    n: int,
    final: float,
    cash: float,
    exposure_bars: int,
    ts: F64Array,
    periods_per_year: float,
    acc: F64Array,
    out: F64Array,
) -> None:
    """`metrics_finish_nb` up to the tails: every entry of ``out`` but VaR, CVaR and
    the tail ratio (those too, 0, when ``n == 0``). Arguments as there."""
    _trade_metrics_nb(ts, out)
    out[M_FINAL_EQUITY] = final
    out[M_TOTAL_RETURN] = final / cash - 1.0
    out[M_EXPOSURE] = ratio_nb(float(exposure_bars), float(n))
    if n == 0:  # no bar: every return and drawdown metric is 0
        for i in range(N_METRICS):
            if i not in _TRADE_OR_LEVEL:
                out[i] = 0.0
        return

    nf = float(n)
    growth = final / cash
    cagr = growth ** (periods_per_year / nf) - 1.0 if growth > 0.0 else -1.0

    # ---- moments (from power sums of d = r - shift) ------------------------------------
    shift = acc[_A_SHIFT]
    s1 = acc[_A_S1]
    s2 = acc[_A_S2]
    s3 = acc[_A_S3]
    s4 = acc[_A_S4]
    dm = s1 / nf
    mean = shift + dm
    c2 = max(s2 - s1 * dm, 0.0)
    c3 = s3 - 3.0 * dm * s2 + 2.0 * nf * dm * dm * dm
    c4 = s4 - 4.0 * dm * s3 + 6.0 * dm * dm * s2 - 3.0 * nf * dm * dm * dm * dm
    std = math.sqrt(c2 / (nf - 1.0)) if n > 1 else 0.0
    ann = math.sqrt(periods_per_year)
    out[M_VOLATILITY] = std * ann
    out[M_SHARPE] = ratio_nb(mean, std) * ann
    out[M_SORTINO] = ratio_nb(mean, math.sqrt(acc[_A_DOWN] / nf)) * ann
    m2 = c2 / nf
    if n > 1 and m2 > 0.0:
        out[M_SKEW] = (c3 / nf) / (m2 * math.sqrt(m2))
        out[M_KURTOSIS] = (c4 / nf) / (m2 * m2) - 3.0
    else:
        out[M_SKEW] = 0.0
        out[M_KURTOSIS] = 0.0
    out[M_OMEGA] = ratio_nb(acc[_A_GAIN], acc[_A_LOSS])

    # ---- drawdown -----------------------------------------------------------------------
    max_dd = acc[_A_MAX_DD]
    out[M_CAGR] = cagr
    out[M_MAX_DRAWDOWN] = max_dd
    out[M_CALMAR] = ratio_nb(cagr, max_dd)
    out[M_MAX_DRAWDOWN_DURATION] = acc[_A_MAX_RUN]
    out[M_ULCER_INDEX] = math.sqrt(acc[_A_DD2] / nf)


@njit(cache=True, error_model="numpy", inline="always")  # type: ignore[misc]
def _finish_candidates_nb(
    n: int, acc: F64Array, stored: F64Array, br: F64Array, cnt: npt.NDArray[np.int64]
) -> tuple[int, float]:
    """The finish between the brackets ``br`` (placed from the sample) and the tails:
    the brackets kept in ``acc`` (for `tail_brackets_nb`, should the tails not be
    found) and clipped to the band, the counts ``cnt`` and the candidates moved to
    the front of ``stored`` (`_stored_pass_nb`: their number, the sum below)."""
    for i in range(_N_BR):
        acc[_A_BR + i] = br[i]
    _clip_brackets_nb(br, acc[_A_BAND_LO], acc[_A_BAND_HI])
    cnt[_C_ZERO] = int(acc[_A_ZEROS])
    return _stored_pass_nb(stored, int(acc[_A_STORED]), n, br, cnt)


# The metric-subset path's finish (`stratopt.engine` run_but_tails_nb): a new function
# beside `metrics_finish_nb`, which stays as the full pass compiles it.
@njit(cache=True, error_model="numpy")  # type: ignore[misc]
def metrics_finish_but_tails_nb(
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
) -> None:
    """Every metric but VaR, CVaR and the tail ratio, the bits `metrics_finish_nb`
    gives (arguments as there, after `metrics_returns_chunk_nb`; ``sample`` and
    ``stored`` are not read): the same code up to the tails (`_finish_but_tails_nb`),
    without their search (the bracket selection on the sample was about half of the
    finish on 2,148 bars); their entries of ``out`` are left as they were."""
    _finish_but_tails_nb(n, final, cash, exposure_bars, ts, periods_per_year, acc, out)


@njit(cache=True, error_model="numpy", fastmath=_FASTMATH, called_from_python=False)
def _chunk_returns_nb(cur: F64Array, prev: float, rout: F64Array) -> None:
    """The per-bar returns of `_chunk_returns_drawdown_nb`, the same expression (so
    the same bits), without the drawdown."""
    if cur.shape[0] == 0:
        return
    rout[0] = cur[0] / prev - 1.0 if prev > 0.0 else 0.0
    for i in range(1, cur.shape[0]):
        p = cur[i - 1]
        rout[i] = cur[i] / p - 1.0 if p > 0.0 else 0.0


@njit(cache=True, error_model="numpy")  # type: ignore[misc]
def metrics_returns_chunk_nb(
    cur: F64Array, prev: float, j0: int, rbuf: F64Array, acc: F64Array, drawdown: bool
) -> None:
    """`metrics_chunk_nb` without what only the tails need (the sample and the stored
    returns): the per-bar returns, the drawdown (unless `drawdown` is False: its
    entries of ``acc`` are then left as they are) and the sums, by the same kernels,
    segment by segment as there, so `metrics_finish_but_tails_nb` then gives the
    full pass's bits. Arguments as in `metrics_chunk_nb`; a new function beside it,
    which stays as the full pass compiles it."""
    w = cur.shape[0]
    if j0 == 0 and w > 0:  # the shift of the power sums, as `metrics_chunk_nb` sets it
        b = min(w, _SEGMENT)
        e = cur[b - 1]
        acc[_A_SHIFT] = (e / prev) ** (1.0 / b) - 1.0 if e > 0.0 else 0.0
    shift = acc[_A_SHIFT]
    flags = np.empty(_SEGMENT, dtype=np.uint8)
    last = prev
    for g0 in range(0, w, _SEGMENT):
        g1 = min(w, g0 + _SEGMENT)
        seg = cur[g0:g1]
        rseg = rbuf[g0:g1]
        if drawdown:
            _chunk_returns_drawdown_nb(seg, last, rseg, acc)
        else:
            _chunk_returns_nb(seg, last, rseg)
        last = seg[g1 - g0 - 1]
        _segment_sums_nb(rseg, shift, flags, acc)

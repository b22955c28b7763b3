"""Compiled kernels of the backtest engine.

Pure functions over numpy arrays, no pandas, no objects. The semantics are those of
docs/engine.md; tests/engine/reference.py implements the same rules in plain Python.

Array conventions:
    o, h, l, c: float64[n] prices, validated (finite, positive, l <= o,c <= h).
    codes: int8[n] signal codes per bar (SIG_*).
    ind: float64[rows, n] indicator rows a candidate's rules refer to; NaN = not ready.
    rules: int64[R, 5] one rule per row: (kind, a_row, b_row, code, b_shift);
        b_row < 0 compares with levels[r] instead of a row. Rows after the first
        RULE_NONE are ignored. The first rule that fires gives the bar's signal.
    levels: float64[R].
    ex: float64[N_EXEC], the packed ExecSettings (see _types.pack_settings).

Constants passed to helper kernels are wrapped (``np.int64(EXIT_END)``,
``np.bool_(True)``): numba compiles a callee once per literal value it is called
with, and each compile is a slice of a cold start. The batch path passes
``np.bool_(False)`` for `record` too, so that it and the one-candidate path share one
compiled `simulate_range_nb` (a literal ``False`` compiled it twice, ~1.7 s of a cold
start; the untaken recording branches cost nothing `engine_throughput.py` pairs show).
Numba optimizes and generates machine code for every compiled callee again inside
each caller, so the one-candidate path calls `fill_codes_range_nb` directly and
inlines `simulate_nb` (``inline="always"``): two levels fewer in a cold start. The
batch path inlines `batch_metrics_nb` and `new_work_nb` into `run_many_nb` for the
same reason (their only caller).

The kernels are compiled with `stratopt._njit.njit`: without numba's C-callable
wrapper, and those only other kernels call (`_close`, `_fill_nb`) without the CPython
one either (``called_from_python=False``): fewer compiles in a cold start.
"""

from __future__ import annotations

import math

import numpy as np

from stratopt._njit import njit
from stratopt.engine._prefetch_nb import prefetch_nb
from stratopt.engine._types import (
    E_CASH,
    E_COMMISSION,
    E_COMMISSION_FIXED,
    E_DIRECTION,
    E_FILL,
    E_HOLDING,
    E_MAX_BARS,
    E_MAX_LEVERAGE,
    E_SIZE,
    E_SIZING,
    E_SLIPPAGE,
    E_STOP_LOSS,
    E_TAKE_PROFIT,
    E_TRAILING,
    E_WHOLE,
)
from stratopt.metrics._borrow_nb import borrowed
from stratopt.metrics._nb import (
    K_KEPT,
    K_ZERO,
    METRICS_SEGMENT,
    N_ACC,
    N_BR,
    N_KEPT,
    N_METRICS,
    N_TRADE_STATS,
    compute_metrics_nb,
    metrics_begin_nb,
    metrics_chunk_nb,
    metrics_finish_nb,
    open_brackets_nb,
    tail_brackets_nb,
    tail_by_value_nb,
    tail_from_nonzero_nb,
    tail_split_nb,
    trade_stats_init_nb,
    trade_stats_update_nb,
)
from stratopt.metrics.nb import metrics_chunk_long_nb, metrics_finish_long_nb

RULE_NONE = 0
RULE_CROSS_ABOVE = 1
RULE_CROSS_BELOW = 2
RULE_ABOVE = 3
RULE_BELOW = 4
RULE_CODES = 5

SIG_NONE = 0
SIG_LONG = 1
SIG_SHORT = -1
SIG_EXIT = 2
SIG_EXIT_LONG = 3
SIG_EXIT_SHORT = 4

EXIT_SIGNAL = 0
EXIT_STOP_LOSS = 1
EXIT_TAKE_PROFIT = 2
EXIT_TRAILING = 3
EXIT_MAX_BARS = 4
EXIT_END = 5

# Trade columns of the float64 trade table the kernel fills in record mode.
T_ENTRY_IDX = 0
T_EXIT_IDX = 1
T_SIDE = 2
T_UNITS = 3
T_ENTRY_PRICE = 4
T_EXIT_PRICE = 5
T_PNL = 6
T_FEES = 7
T_RET = 8
T_REASON = 9
N_TRADE_COLS = 10

# Slots of the small mutable position state shared by the fill helpers.
S_CASH = 0
S_UNITS = 1
S_ENTRY_PRICE = 2
S_ENTRY_IDX = 3
S_FEES = 4
S_BARS = 5
S_EXTREME = 6
S_STOP = 7
S_TAKE = 8
S_NTRADES = 9
S_PENDING = 10
S_PENDING_TIME = 11
S_EXPOSURE = 12
S_NLOG = 13  # changes of (cash, units) seen so far (see simulate_range_nb's `log`)
N_STATE = 14

# Columns of the change log of simulate_range_nb: from bar LOG_BAR on, the equity is
# LOG_CASH + LOG_UNITS * close.
LOG_BAR = 0
LOG_CASH = 1
LOG_UNITS = 2
N_LOG_COLS = 3

# Bars per chunk of the many-candidates kernel: its codes, equity and returns stay in
# L2 (8192 measured 2 % faster than 4096 and 2048, equal to 16384). A multiple of
# METRICS_SEGMENT, so the metrics' segments fall where compute_metrics_nb
# puts them and both give the same bits.
SIM_CHUNK = 8192
if SIM_CHUNK % METRICS_SEGMENT:  # pragma: no cover
    raise RuntimeError("SIM_CHUNK must be a multiple of the metrics' segment")

# The next_open fills' opens are prefetched (`_prefetch_fills_nb`) only on series of
# at least this many bars: shorter ones stay in cache between candidates, and the
# pass over the codes that finds the fills was a sixth of the simulation's time on
# 2,148 daily bars.
PREFETCH_FROM = 1 << 16


@njit(cache=True)
def fill_codes_nb(ind, rules, levels, codes):  # type: ignore[no-untyped-def]
    """Write each bar's signal code (int8[n]) as the rules give it; 0 where none fires."""
    fill_codes_range_nb(ind, rules, levels, codes, np.int64(0), codes.shape[0])


@njit(cache=True)
def fill_codes_range_nb(ind, rules, levels, codes, j0, j1):  # type: ignore[no-untyped-def]
    """The signal codes of bars ``j0 <= j < j1`` into ``codes[j - j0]`` (0: none).

    One tight pass per rule, last rule first, so that where several rules fire on a
    bar the earliest one's code is what remains. Separate passes per rule kind keep
    the inner loops free of the rule dispatch that would otherwise run on every bar.
    The engine calls it on chunks small enough for ``codes`` to stay in L1. The loops
    index slices from 0 so that LLVM sees non-negative indices and vectorises them.
    """
    w = j1 - j0
    for i in range(w):
        codes[i] = 0
    n_rules = 0
    while n_rules < rules.shape[0] and rules[n_rules, 0] != RULE_NONE:
        n_rules += 1
    first = max(j0, 1)  # crossings look one bar back
    r = n_rules
    while r > 0:
        r -= 1
        kind = rules[r, 0]
        if r > 0 and _is_cross_pair(rules[r - 1], rules[r]) and first < j1:
            # crosses above and below of the same two rows (a crossover strategy's
            # entry and exit): one pass. They never fire on the same bar, so which
            # rule comes first does not matter.
            up = r - 1 if rules[r - 1, 0] == RULE_CROSS_ABOVE else r
            code_up = rules[up, 3]
            code_dn = rules[2 * r - 1 - up, 3]
            out = codes[first - j0 : w]
            a0 = ind[rules[r, 1], first - 1 : j1 - 1]
            a1 = ind[rules[r, 1], first:j1]
            b0 = ind[rules[r, 2], first - 1 : j1 - 1]
            b1 = ind[rules[r, 2], first:j1]
            for i in range(j1 - first):
                x0 = a0[i]
                y0 = b0[i]
                x1 = a1[i]
                y1 = b1[i]
                v = out[i]
                v = code_dn if (x0 > y0) & (x1 < y1) else v
                out[i] = code_up if (x0 < y0) & (x1 > y1) else v
            r -= 1
            continue
        code = rules[r, 3]
        a_row = ind[rules[r, 1]]
        b_row = rules[r, 2]
        level = levels[r]
        if kind == RULE_CODES:
            a = a_row[j0:j1]
            for i in range(w):
                v = a[i]
                if v != 0.0 and not math.isnan(v):
                    codes[i] = int(v)
        elif kind == RULE_CROSS_ABOVE or kind == RULE_CROSS_BELOW:
            if first >= j1:
                continue
            out = codes[first - j0 : w]
            m = j1 - first
            a0 = a_row[first - 1 : j1 - 1]
            a1 = a_row[first:j1]
            if b_row >= 0:
                b0 = ind[b_row, first - 1 : j1 - 1]
                b1 = ind[b_row, first:j1]
                if kind == RULE_CROSS_ABOVE:
                    for i in range(m):
                        if a0[i] < b0[i] and a1[i] > b1[i]:
                            out[i] = code
                else:
                    for i in range(m):
                        if a0[i] > b0[i] and a1[i] < b1[i]:
                            out[i] = code
            elif kind == RULE_CROSS_ABOVE:
                for i in range(m):
                    if a0[i] < level and a1[i] > level:
                        out[i] = code
            else:
                for i in range(m):
                    if a0[i] > level and a1[i] < level:
                        out[i] = code
        else:
            above = kind == RULE_ABOVE
            shift = rules[r, 4]
            start = max(j0, shift)
            if start >= j1:
                continue
            out = codes[start - j0 : w]
            m = j1 - start
            a = a_row[start:j1]
            if b_row >= 0:
                b = ind[b_row, start - shift : j1 - shift]
                if above:
                    for i in range(m):
                        if a[i] > b[i]:
                            out[i] = code
                else:
                    for i in range(m):
                        if a[i] < b[i]:
                            out[i] = code
            elif above:
                for i in range(m):
                    if a[i] > level:
                        out[i] = code
            else:
                for i in range(m):
                    if a[i] < level:
                        out[i] = code


@njit(cache=True, inline="always")
def _is_cross_pair(p, q):  # type: ignore[no-untyped-def]
    """Whether rules p and q are a cross above and a cross below of the same two rows."""
    kinds = (p[0] == RULE_CROSS_ABOVE and q[0] == RULE_CROSS_BELOW) or (
        p[0] == RULE_CROSS_BELOW and q[0] == RULE_CROSS_ABOVE
    )
    return kinds and p[2] >= 0 and p[1] == q[1] and p[2] == q[2]


@njit(cache=True, inline="always")
def _filter_direction(code, direction):  # type: ignore[no-untyped-def]
    if direction == 1 and code == SIG_SHORT:
        return SIG_EXIT_LONG
    if direction == 2 and code == SIG_LONG:
        return SIG_EXIT_SHORT
    return code


@njit(cache=True, inline="always")
def _wants_exit(code, units):  # type: ignore[no-untyped-def]
    if units > 0.0:
        return code == SIG_SHORT or code == SIG_EXIT or code == SIG_EXIT_LONG
    if units < 0.0:
        return code == SIG_LONG or code == SIG_EXIT or code == SIG_EXIT_SHORT
    return False


@njit(cache=True, called_from_python=False)
def _close(pos, price, slip, reason, i, ex, ts, record, trades):  # type: ignore[no-untyped-def]
    """Close the whole position at `price` (before slippage); book the trade.

    ``pos`` is the position tuple ``(cash, units, entry_price, entry_idx, fees, bars,
    extreme, stop, take, n_trades)``; the new one is returned. The fill helpers pass
    the state as scalars, not in an array: a helper that writes a state array pays
    reference counting on every call (measured about 60 ns of a 10 ns close).
    """
    cash, units, entry, entry_idx, fees0, bars, extreme, stop, take, n_trades = pos
    side = 1.0 if units > 0.0 else -1.0
    fill = price * (1.0 - side * slip)
    fee = abs(units) * fill * ex[E_COMMISSION] + ex[E_COMMISSION_FIXED]
    cash += units * fill - fee
    pnl = units * (fill - entry)
    fees = fees0 + fee
    net = pnl - fees
    notional = abs(units) * entry
    ret = net / notional
    sl = ex[E_STOP_LOSS]
    risk = notional * sl if sl > 0.0 else notional
    held = i - int(entry_idx)
    trade_stats_update_nb(ts, net, ret, held, net / risk)
    if record:
        k = int(n_trades)
        trades[k, T_ENTRY_IDX] = entry_idx
        trades[k, T_EXIT_IDX] = i
        trades[k, T_SIDE] = side
        trades[k, T_UNITS] = abs(units)
        trades[k, T_ENTRY_PRICE] = entry
        trades[k, T_EXIT_PRICE] = fill
        trades[k, T_PNL] = pnl
        trades[k, T_FEES] = fees
        trades[k, T_RET] = ret
        trades[k, T_REASON] = reason
    return (cash, 0.0, entry, entry_idx, 0.0, bars, extreme, stop, take, n_trades + 1.0)


# `_close` compiled into its caller (the same Python function): a fill is a few
# divisions, and a call with the arrays and the position tuple as arguments cost about
# 10 ns of it. Inlined only where a signal closes a position (in `_fill_nb`: two
# fills per reversal, every ~30 bars on daily data): each copy
# lengthens the compile of `simulate_range_nb` (one copy about 0.1 s, measured).
_close_inline = njit(cache=True, inline="always")(getattr(_close, "py_func", _close))


@njit(cache=True, inline="always")
def _open(pos, side, price, i, ex):  # type: ignore[no-untyped-def]
    """Open a position of `side` (+1/-1) at `price` (before slippage) if it can be sized;
    returns the new position tuple (``pos`` itself if not)."""
    equity = pos[0]
    if equity <= 0.0:
        return pos
    fill = price * (1.0 + side * ex[E_SLIPPAGE])
    comm = ex[E_COMMISSION]
    fixed = ex[E_COMMISSION_FIXED]
    sizing = ex[E_SIZING]
    size = ex[E_SIZE]
    if sizing == 0.0:
        units = (size * equity - fixed) / (fill * (1.0 + comm))
    elif sizing == 1.0:
        units = size
    else:
        units = size * equity / (fill * ex[E_STOP_LOSS])
        cap = ex[E_MAX_LEVERAGE] * equity / fill
        if units > cap:
            units = cap
    if ex[E_WHOLE] != 0.0 and sizing != 1.0:
        units = math.floor(units)
    if not units > 0.0:
        return pos
    fee = units * fill * comm + fixed
    cash = equity - (side * units * fill + fee)
    sl = ex[E_STOP_LOSS]
    tp = ex[E_TAKE_PROFIT]
    stop = fill * (1.0 - side * sl) if sl > 0.0 else math.nan
    take = fill * (1.0 + side * tp) if tp > 0.0 else math.nan
    return (cash, side * units, fill, float(i), fee, 0.0, fill, stop, take, pos[9])


@njit(cache=True, called_from_python=False)
def _fill_nb(pos, time_exit, code, price, i, ex, ts, record, trades, allow_entry):  # type: ignore[no-untyped-def]
    """The fills at one price (a bar's open with ``next_open``, else its close): a
    max_bars exit if ``time_exit`` and in the market, then the signal ``code`` (an
    exit first, then an entry if ``allow_entry``). Returns the new position tuple. One
    call for all of them, with a signal's close and open inlined into it (a max_bars
    exit is rarer: a call). The signal's part is written here, not in an inline helper
    of its own: numba deep-copies an inlined function's IR (its close and open already
    inlined) into the caller, ~0.1 s of a cold start's compile for nothing."""
    if time_exit and pos[1] != 0.0:
        pos = _close(pos, price, ex[E_SLIPPAGE], np.int64(EXIT_MAX_BARS), i, ex, ts, record, trades)
    # the signal: exit first, then enter (a reversal is two fills)
    if code == SIG_NONE:
        return pos
    if pos[1] != 0.0 and _wants_exit(code, pos[1]):
        pos = _close_inline(
            pos, price, ex[E_SLIPPAGE], np.int64(EXIT_SIGNAL), i, ex, ts, record, trades
        )
    if allow_entry and pos[1] == 0.0 and (code == SIG_LONG or code == SIG_SHORT):
        pos = _open(pos, float(code), price, i, ex)
    return pos


@njit(cache=True)
def sim_state_init_nb(st, ex):  # type: ignore[no-untyped-def]
    """Reset the simulation state ``st`` (float64[N_STATE]): flat, with ``ex``'s cash."""
    for i in range(N_STATE):
        st[i] = 0.0
    st[S_CASH] = ex[E_CASH]
    st[S_STOP] = math.nan
    st[S_TAKE] = math.nan
    st[S_ENTRY_IDX] = -1.0


@njit(cache=True)
def copy_codes_nb(codes, padded):  # type: ignore[no-untyped-def]
    """``padded[:n] = codes`` (a loop: a slice assignment compiles numba's shape-error
    raise; a kernel of its own, so that `simulate_nb`'s Python twin loops compiled)."""
    for j in range(codes.shape[0]):
        padded[j] = codes[j]


@njit(cache=True, inline="always")
def simulate_nb(o, h, l, c, codes, ex, ts, equity, record, position, exposure, trades):  # type: ignore[no-untyped-def]
    """Run one candidate over all bars.

    `codes` (int8[n]) are the strategy's signal codes (see fill_codes_nb). Writes
    equity[n] always; position[n], exposure[n] (int8) and trades[k, N_TRADE_COLS]
    only when `record` (pass 1-element dummies otherwise). `ts` (float64[N_TRADE_STATS])
    accumulates trade statistics for the metrics. Returns (n_trades, exposure_bars).
    """
    st = np.empty(N_STATE)
    sim_state_init_nb(st, ex)
    n = c.shape[0]
    padded = np.zeros((n + 7) // 8 * 8, dtype=np.int8)
    copy_codes_nb(codes, padded)
    words = padded.view(np.uint64)
    no_log = np.empty((0, N_LOG_COLS))
    # chunk by chunk, as the many-candidates kernel: the same bits, and each chunk's
    # next_open fills are prefetched shortly before they are read
    for j0 in range(0, n, SIM_CHUNK):
        j1 = min(n, j0 + SIM_CHUNK)
        simulate_range_nb(
            o,
            h,
            l,
            c,
            padded[j0:],
            words[j0 >> 3 :],
            j0,
            j1,
            ex,
            ts,
            st,
            equity[j0:j1],
            record,
            position,
            exposure,
            trades,
            no_log,
        )
    return int(st[S_NTRADES]), int(st[S_EXPOSURE])


@njit(cache=True)
def simulate_range_nb(  # type: ignore[no-untyped-def]
    o, h, l, c, codes, words, j0, j1, ex, ts, st, equity, record, position, exposure, trades, log
):
    """Run bars ``j0 <= j < j1`` of one candidate, resuming from and saving to ``st``.

    ``codes[j - j0]`` is bar j's signal code (``words`` the same bytes as uint64, for
    skipping runs of zeros 8 at a time) and ``equity[j - j0]`` receives its
    equity, so the many-candidates kernel can feed chunks through small buffers that
    stay in cache; ``position[j]``, ``exposure[j]`` and the trade table are written
    only when `record` (whole-series arrays). Start with `sim_state_init_nb`; feed
    the chunks in order. ``st[S_NTRADES]`` and ``st[S_EXPOSURE]`` count trades and
    bars in the market.

    ``log`` (float64[cap, N_LOG_COLS], cap >= 0) receives every change of the
    equity's terms: a bar whose (cash, units) at its close differ from the bar
    before's gets a row (bar, cash, units), the first ``cap`` of them;
    ``st[S_NLOG]`` counts them all. From the log, `log_returns_nb` gives the
    per-bar returns again without simulating (the many-candidates kernel's tail
    fallback). Only bars that leave the tight loop below can change them.

    The per-bar work is written out in this one function on purpose: a numba call
    that takes arrays costs reference counting on every bar (measured 5-10x slower),
    so only rare events (fills) call helpers. The hot state lives in locals, which
    go to those helpers as a tuple of scalars and come back the same way (`st` is read
    once at the start and written once at the end).
    """
    n = c.shape[0]
    next_open = ex[E_FILL] == 0.0
    direction = int(ex[E_DIRECTION])
    trail = ex[E_TRAILING]
    has_intrabar = ex[E_STOP_LOSS] > 0.0 or ex[E_TAKE_PROFIT] > 0.0 or trail > 0.0
    holding = ex[E_HOLDING]
    max_bars = ex[E_MAX_BARS]
    slip = ex[E_SLIPPAGE]
    pending = int(st[S_PENDING])
    pending_time = st[S_PENDING_TIME] != 0.0
    exposure_bars = int(st[S_EXPOSURE])
    cash, units, fees, bars = st[S_CASH], st[S_UNITS], st[S_FEES], st[S_BARS]
    extreme, stop0, take, entry_idx = st[S_EXTREME], st[S_STOP], st[S_TAKE], st[S_ENTRY_IDX]
    entry, n_trades = st[S_ENTRY_PRICE], st[S_NTRADES]
    n_log = int(st[S_NLOG])
    cap = log.shape[0]
    # Without intrabar exits, holding cost or max_bars, a bar without a signal only
    # marks the position to market: such runs of bars take a tight loop.
    quiet = not has_intrabar and holding == 0.0 and max_bars == 0.0
    if next_open and n >= PREFETCH_FROM:
        _prefetch_fills_nb(o, codes, words, j0, j1)
    lim = min(j1, n - 1)
    j = j0
    while j < j1:
        if quiet and pending == SIG_NONE and not pending_time:
            # the next bar with a code: bytes up to a word boundary, then 8 at a time
            k = j
            while k < lim and codes[k - j0] == 0 and (k - j0) & 7 != 0:
                k += 1
            while k + 8 <= lim and codes[k - j0] == 0 and words[(k - j0) >> 3] == 0:
                k += 8
            while k < lim and codes[k - j0] == 0:
                k += 1
            if k > j:
                # slices indexed from 0: LLVM then sees non-negative indices, vectorises
                eq_run = equity[j - j0 : k - j0]
                c_run = c[j:k]
                for i in range(k - j):
                    eq_run[i] = cash + units * c_run[i]
                if units != 0.0:
                    exposure_bars += k - j
                    bars += k - j
                if record:
                    for i in range(j, k):
                        position[i] = units
                        exposure[i] = 1 if units != 0.0 else 0
                j = k
                if j == j1:
                    break
        cash0, units0 = cash, units
        # 1. the open: fills of instructions decided at the previous close
        if next_open and (pending_time or pending != SIG_NONE):
            pos = (cash, units, entry, entry_idx, fees, bars, extreme, stop0, take, n_trades)
            pos = _fill_nb(
                pos, pending_time, pending, o[j], j, ex, ts, record, trades, np.bool_(True)
            )
            pending = SIG_NONE
            pending_time = False
            cash, units, entry, entry_idx, fees, bars, extreme, stop0, take, n_trades = pos
        in_market = units != 0.0
        # 2. intrabar exits against the bar's range, stop first
        if in_market:
            exposure_bars += 1
            if has_intrabar:
                long = units > 0.0
                stop = stop0
                reason = EXIT_STOP_LOSS
                if trail > 0.0:
                    tl = extreme * (1.0 - trail) if long else extreme * (1.0 + trail)
                    if math.isnan(stop) or (tl > stop if long else tl < stop):
                        stop = tl
                        reason = EXIT_TRAILING
                has_stop = not math.isnan(stop)
                has_take = not math.isnan(take)
                held = entry_idx < j
                why = -1
                px = 0.0
                if long:
                    if held and has_stop and o[j] <= stop:
                        why, px = reason, o[j]
                    elif held and has_take and o[j] >= take:
                        why, px = EXIT_TAKE_PROFIT, o[j]
                    elif has_stop and l[j] <= stop:
                        why, px = reason, stop
                    elif has_take and h[j] >= take:
                        why, px = EXIT_TAKE_PROFIT, take
                    elif h[j] > extreme:
                        extreme = h[j]
                else:
                    if held and has_stop and o[j] >= stop:
                        why, px = reason, o[j]
                    elif held and has_take and o[j] <= take:
                        why, px = EXIT_TAKE_PROFIT, o[j]
                    elif has_stop and h[j] >= stop:
                        why, px = reason, stop
                    elif has_take and l[j] <= take:
                        why, px = EXIT_TAKE_PROFIT, take
                    elif l[j] < extreme:
                        extreme = l[j]
                if why >= 0:
                    # Take-profit is a limit order: no slippage.
                    s = 0.0 if why == EXIT_TAKE_PROFIT else slip
                    open_pos = (cash, units, entry, entry_idx, fees, bars, extreme, stop0, take)
                    pos = _close((*open_pos, n_trades), px, s, why, j, ex, ts, record, trades)
                    cash, units, entry, entry_idx, fees, bars, extreme, stop0, take, n_trades = pos
        # 3. the close: holding cost, bar count, the bar's signal
        time_exit = False
        if units != 0.0:
            if holding > 0.0:
                cost = abs(units) * c[j] * holding
                cash -= cost
                fees += cost
            bars += 1.0
            time_exit = max_bars > 0.0 and bars >= max_bars
        code = _filter_direction(codes[j - j0], direction)
        last = j == n - 1
        if next_open:
            pending_time = time_exit
            pending = code
        elif time_exit or code != SIG_NONE:
            # (time_exit only in the market)
            pos = (cash, units, entry, entry_idx, fees, bars, extreme, stop0, take, n_trades)
            pos = _fill_nb(pos, time_exit, code, c[j], j, ex, ts, record, trades, not last)
            cash, units, entry, entry_idx, fees, bars, extreme, stop0, take, n_trades = pos
        if record:
            position[j] = units
            exposure[j] = 1 if in_market else 0
        if last and units != 0.0:
            pos = (cash, units, entry, entry_idx, fees, bars, extreme, stop0, take, n_trades)
            pos = _close(pos, c[j], slip, np.int64(EXIT_END), j, ex, ts, record, trades)
            cash, units, entry, entry_idx, fees, bars, extreme, stop0, take, n_trades = pos
        if cash != cash0 or units != units0:
            if n_log < cap:
                log[n_log, LOG_BAR] = j
                log[n_log, LOG_CASH] = cash
                log[n_log, LOG_UNITS] = units
            n_log += 1
        equity[j - j0] = cash + units * c[j]
        j += 1
    st[S_CASH], st[S_UNITS], st[S_FEES], st[S_BARS] = cash, units, fees, bars
    st[S_EXTREME], st[S_STOP], st[S_TAKE], st[S_ENTRY_IDX] = extreme, stop0, take, entry_idx
    st[S_ENTRY_PRICE], st[S_NTRADES] = entry, n_trades
    st[S_PENDING] = pending
    st[S_PENDING_TIME] = 1.0 if pending_time else 0.0
    st[S_EXPOSURE] = exposure_bars
    st[S_NLOG] = n_log


@njit(cache=True, inline="always")
def _prefetch_fills_nb(o, codes, words, j0, j1):  # type: ignore[no-untyped-def]
    """Prefetch the opens the ``next_open`` fills of bars ``j0 <= j < j1`` will read:
    ``o[j + 1]`` of each bar with a signal code (a code that becomes an exit or
    nothing at the fill wastes one prefetch), and ``o[j0]`` for a signal pending from
    the chunk before. Issued all at once before the simulation reaches them, the
    misses overlap instead of stalling it one after the other (see `_prefetch_nb`).
    """
    last = o.shape[0] - 1
    prefetch_nb(o, min(j0, last))  # type: ignore[call-arg]  # an intrinsic
    w = j1 - j0
    for t in range(w >> 3):  # 8 codes at a time: most words are all zeros
        if words[t] != 0:
            for i in range(8 * t, 8 * t + 8):
                if codes[i] != 0:
                    prefetch_nb(o, min(j0 + i + 1, last))  # type: ignore[call-arg]
    for i in range(w - (w & 7), w):
        if codes[i] != 0:
            prefetch_nb(o, min(j0 + i + 1, last))  # type: ignore[call-arg]


@njit(cache=True, error_model="numpy")
def log_returns_nb(c, cash, log, n_log, ebuf, rbuf, br, dest, kept):  # type: ignore[no-untyped-def]
    """The per-bar returns of a simulation again, from its change log, through
    `tail_split_nb` (brackets ``br``, into ``dest`` and ``kept``).

    ``log[:n_log]`` is `simulate_range_nb`'s log of a whole series (none dropped),
    ``cash`` the initial cash; ``ebuf`` and ``rbuf`` are float64 buffers of the same
    size, for a stretch's equity and returns. The equity is recomputed as the
    simulation marks it (``cash + units * close``) and the returns as
    `per_bar_returns_nb` takes them, so they are the same bits; in the market they
    are computed a stretch at a time (vectorised). A flat stretch keeps its equity:
    after its first bar its returns are 0 (``e / e - 1``, or 0 after a ruin),
    counted in ``kept[K_ZERO]``, not computed.
    """
    n = c.shape[0]
    cap = rbuf.shape[0]
    units = 0.0
    prev = cash
    w = 0 * cap  # int64, not Literal[int](0): one compiled tail_split_nb
    j = 0
    for i in range(n_log + 1):
        end = int(log[i, LOG_BAR]) if i < n_log else n
        if j < end and units == 0.0:
            e = cash + units * c[j]
            rbuf[w] = e / prev - 1.0 if prev > 0.0 else 0.0
            prev = e
            w += 1
            kept[K_ZERO] += end - j - 1
            j = end
        while j < end:
            take = min(end - j, cap - w)
            es = ebuf[:take]
            c_run = c[j : j + take]
            for t in range(take):
                es[t] = cash + units * c_run[t]
            rs = rbuf[w : w + take]
            rs[0] = es[0] / prev - 1.0 if prev > 0.0 else 0.0
            for t in range(1, take):
                p = es[t - 1]
                rs[t] = es[t] / p - 1.0 if p > 0.0 else 0.0
            prev = es[take - 1]
            w += take
            j += take
            if w == cap:
                tail_split_nb(rbuf, w, br, dest, kept)
                w = 0
        if w == cap:
            tail_split_nb(rbuf, w, br, dest, kept)
            w = 0
        if i < n_log:
            cash = log[i, LOG_CASH]
            units = log[i, LOG_UNITS]
    tail_split_nb(rbuf, w, br, dest, kept)


@njit(cache=True)
def eval_signals_nb(ind, rules, levels, n):  # type: ignore[no-untyped-def]
    """int8[n]: the signal code of every bar (fill_codes_nb into a new array)."""
    codes = np.zeros(n, dtype=np.int8)
    fill_codes_range_nb(ind, rules, levels, codes, np.int64(0), n)
    return codes


@njit(cache=True, nogil=True)
def run_one_nb(o, h, l, c, ind, rules, levels, ex, ppy, record):  # type: ignore[no-untyped-def]
    """One candidate with full outputs: (equity, position, exposure, trades, metrics)."""
    n = c.shape[0]
    ts = np.empty(N_TRADE_STATS)
    trade_stats_init_nb(ts)
    equity = np.empty(n)
    m = n if record else 1
    position = np.zeros(m)
    exposure = np.zeros(m, dtype=np.int8)
    trades = np.zeros((1, N_TRADE_COLS))
    codes = np.zeros(n, dtype=np.int8)
    fill_codes_range_nb(ind, rules, levels, codes, np.int64(0), n)
    if record:
        # A counting pass first, so the trade table is allocated at its exact size.
        n_trades, _ = simulate_nb(
            o, h, l, c, codes, ex, ts, equity, np.bool_(False), position, exposure, trades
        )
        trades = np.zeros((max(n_trades, 1), N_TRADE_COLS))
        trade_stats_init_nb(ts)
    n_trades, exposure_bars = simulate_nb(
        o, h, l, c, codes, ex, ts, equity, record, position, exposure, trades
    )
    metrics = np.empty(N_METRICS)
    scratch = np.empty(n)
    compute_metrics_nb(equity, ex[E_CASH], exposure_bars, ts, ppy, scratch, metrics)
    return equity, position, exposure, trades[:n_trades] if record else trades[:0], metrics


@njit(cache=True, inline="always")
def batch_metrics_nb(  # type: ignore[no-untyped-def]
    o, h, l, c, ind, rules, levels, ex, ppy, stored, samples, logs, work, out, found, chunk, finish
):
    """The metrics of a few candidates, ``rules[q]``, ``levels[q]``, ``ex[q]`` ->
    ``out[q]``, in one pass over the bars, chunk by chunk (the engine's
    many-candidates path; `run_one_nb` is the one-candidate reference).

    Each chunk of ``SIM_CHUNK`` bars gets each candidate's signal codes, is simulated
    and goes through the metrics pass (`metrics_chunk_nb`) while its equity is still in
    cache; only the returns outside the candidate's band are kept, in ``stored[q]``
    (float64[n]), for `metrics_finish_nb`. No whole-series code, equity or returns
    array is written. The candidates go through each chunk one after the other, so the
    chunk's prices and the indicator rows they share are read from memory once for all
    of them (reading the series is a good part of the cost). ``samples[q]``
    (float64[s] with s = min(n, METRICS_SAMPLE)) receives candidate q's bracket
    sample. A candidate whose tails were not among its stored returns (its 5 %
    quantile moved inside the band, e.g. when it stays flat for long stretches) gets
    them from all its returns, as `run_one_nb` does: they are rebuilt from the
    simulation's change log, ``logs[q]`` (float64[cap, N_LOG_COLS], see
    `simulate_range_nb`), into ``stored[q]``. ``found[q]`` is False only if the log
    overflowed (more than ``cap`` changes, e.g. a holding cost changes the cash on
    every bar): the caller runs it again with `run_one_nb`, which keeps all its
    returns (not called from here: that would compile the one-candidate path into
    this kernel, about a third of a cold start). ``work`` holds the small buffers of
    `new_work_nb`, with room for ``len(rules)`` candidates, reused across batches.
    ``chunk`` and ``finish`` are `metrics_chunk_nb` and `metrics_finish_nb` or, on
    long series, `metrics_chunk_long_nb` and `metrics_finish_long_nb` (the same
    bits). The result is bit for bit that of `run_one_nb` (the same kernels on the
    same bars, chunk boundaries on segment boundaries).
    """
    n = c.shape[0]
    k = rules.shape[0]
    # Borrowed views (no reference counting, see `borrowed`) of every array the
    # per-chunk kernels get: they slice them and pass them on thousands of times per
    # candidate. All of them outlive this call (arguments, and run_many_nb's buffers).
    o, h, l, c, ind = borrowed(o), borrowed(h), borrowed(l), borrowed(c), borrowed(ind)
    rules, levels, ex = borrowed(rules), borrowed(levels), borrowed(ex)
    stored, samples, logs = borrowed(stored), borrowed(samples), borrowed(logs)
    codes, equity, rbuf, ts, st, acc, dummy_pos, dummy_exp, dummy_trades = work
    codes, equity, rbuf = borrowed(codes), borrowed(equity), borrowed(rbuf)
    ts, st, acc = borrowed(ts), borrowed(st), borrowed(acc)
    dummy_pos, dummy_exp = borrowed(dummy_pos), borrowed(dummy_exp)
    dummy_trades = borrowed(dummy_trades)
    words = codes.view(np.uint64)
    br = np.empty(N_BR)
    kept = np.zeros(N_KEPT, dtype=np.int64)
    prev = np.empty(k)
    for q in range(k):
        trade_stats_init_nb(ts[q])
        sim_state_init_nb(st[q], ex[q])
        metrics_begin_nb(ex[q, E_CASH], acc[q])
        prev[q] = ex[q, E_CASH]
    for j0 in range(0, n, SIM_CHUNK):
        j1 = min(n, j0 + SIM_CHUNK)
        w = j1 - j0
        for q in range(k):
            fill_codes_range_nb(ind, rules[q], levels[q], codes, j0, j1)
            simulate_range_nb(
                o,
                h,
                l,
                c,
                codes,
                words,
                j0,
                j1,
                ex[q],
                ts[q],
                st[q],
                equity,
                np.bool_(False),
                dummy_pos,
                dummy_exp,
                dummy_trades,
                logs[q],
            )
            chunk(equity[:w], prev[q], j0, n, rbuf, samples[q], stored[q], acc[q])
            prev[q] = equity[w - 1]
    for q in range(k):
        found[q] = finish(
            n,
            prev[q],
            ex[q, E_CASH],
            int(st[q, S_EXPOSURE]),
            ts[q],
            ppy,
            acc[q],
            samples[q],
            stored[q],
            out[q],
        )
        n_log = int(st[q, S_NLOG])
        if not found[q] and n_log <= logs.shape[1]:
            # the fallback's tails (from all the returns), without simulating again:
            # by value, else from all the nonzero returns in order, as run_one_nb
            cash = ex[q, E_CASH]
            tail_brackets_nb(acc[q], br)
            kept[:] = 0
            log_returns_nb(c, cash, logs[q], n_log, equity, rbuf, br, stored[q], kept)
            if not tail_by_value_nb(stored[q], kept, n, br, out[q]):
                open_brackets_nb(br)
                kept[:] = 0
                log_returns_nb(c, cash, logs[q], n_log, equity, rbuf, br, stored[q], kept)
                tail_from_nonzero_nb(stored[q], kept[K_KEPT], n, kept[K_ZERO], out[q])
            found[q] = True


# Candidates per batch of the many-candidates kernel (see batch_metrics_nb): more
# share more reads of the prices and rows, but each keeps its own float64[n] buffer of
# stored returns (measured with this pass: 1 and 2 equal, 4 about 5 % slower).
BATCH = 2

# Bars per row of a candidate's change log in the many-candidates kernel: room for a
# change every LOG_PER bars on average (a reversal every 8 minutes on 1-minute bars);
# a candidate with more that needs its log is simulated again (see batch_metrics_nb).
LOG_PER = 8


@njit(cache=True, inline="always")
def new_work_nb(k):  # type: ignore[no-untyped-def]
    """Small per-thread buffers of `batch_metrics_nb` for up to k candidates (a tuple,
    reused)."""
    return (
        np.zeros(SIM_CHUNK, dtype=np.int8),
        np.empty(SIM_CHUNK),
        np.empty(SIM_CHUNK),
        np.empty((k, N_TRADE_STATS)),
        np.empty((k, N_STATE)),
        np.empty((k, N_ACC)),
        np.zeros(1),
        np.zeros(1, dtype=np.int8),
        np.zeros((1, N_TRADE_COLS)),
    )


@njit(cache=True, nogil=True)
def run_many_nb(o, h, l, c, ind, rules, levels, ex, ppy, out, found, stored, samples, logs):  # type: ignore[no-untyped-def]
    """Metrics of many candidates, one after the other: rules[k], levels[k], ex[k] ->
    out[k]; found[k] False where `run_one_nb` must redo candidate k (see
    batch_metrics_nb).

    Candidates go in batches of ``b = len(stored)`` consecutive ones
    (`batch_metrics_nb`), with the caller's buffers (``stored``
    float64[b, n], ``samples`` float64[b, min(n, METRICS_SAMPLE)] (see
    `metrics_chunk_nb`), ``logs``
    float64[b, n // LOG_PER + 16, N_LOG_COLS]), so memory does not grow with the
    number of candidates and a caller running several calls on a thread reuses pages
    already mapped. It releases the GIL: `stratopt.engine.run_many` runs slices of the
    candidates on several threads. (Not a numba ``prange``: its parallel lowering took
    about a fifth of a cold start's compile time, and its thread launch cost more than
    small calls themselves.)
    """
    batches_nb(o, h, l, c, ind, rules, levels, ex, ppy, out, found,
               stored, samples, logs, metrics_chunk_nb, metrics_finish_nb)  # fmt: skip


@njit(cache=True, nogil=True)
def run_many_long_nb(o, h, l, c, ind, rules, levels, ex, ppy, out, found, stored, samples, logs):  # type: ignore[no-untyped-def]
    """`run_many_nb` for long series (`stratopt.engine.run_many`'s tiles), the same
    arguments and bits, with `metrics_chunk_long_nb` (the returns' divisions inside
    the drawdown scan) and `metrics_finish_long_nb` (its selections take about half
    the time of `metrics_finish_nb`'s): compiled into the kernels every study
    compiles (`run_many_nb`, `run_one_nb`) they would lengthen a cold start (the
    finish by 2 s); this kernel is compiled on the first long series only."""
    batches_nb(o, h, l, c, ind, rules, levels, ex, ppy, out, found,
               stored, samples, logs, metrics_chunk_long_nb, metrics_finish_long_nb)  # fmt: skip


@njit(cache=True, inline="always")
def batches_nb(  # type: ignore[no-untyped-def]
    o, h, l, c, ind, rules, levels, ex, ppy, out, found, stored, samples, logs, chunk, finish
):
    """The body of `run_many_nb` and `run_many_long_nb`: the candidates in batches
    of ``len(stored)``, each through `batch_metrics_nb` with the metrics pass
    ``chunk`` and the finish ``finish``."""
    n_cand = rules.shape[0]
    b = stored.shape[0]
    work = new_work_nb(b)
    for g in range((n_cand + b - 1) // b):
        k0 = g * b
        k1 = min(n_cand, k0 + b)
        batch_metrics_nb(
            o,
            h,
            l,
            c,
            ind,
            rules[k0:k1],
            levels[k0:k1],
            ex[k0:k1],
            ppy,
            stored,
            samples,
            logs,
            work,
            out[k0:k1],
            found[k0:k1],
            chunk,
            finish,
        )

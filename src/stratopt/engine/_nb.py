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
"""

from __future__ import annotations

import math

import numpy as np
from numba import get_thread_id, njit, prange  # type: ignore[attr-defined]

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
from stratopt.metrics._nb import (
    N_METRICS,
    N_TRADE_STATS,
    compute_metrics_nb,
    trade_stats_init_nb,
    trade_stats_update_nb,
)

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
N_STATE = 10


@njit(cache=True)
def fill_codes_nb(ind, rules, levels, codes):  # type: ignore[no-untyped-def]
    """Write each bar's signal code (int8[n]) as the rules give it; 0 where none fires.

    One tight pass per rule, last rule first, so that where several rules fire on a
    bar the earliest one's code is what remains. Separate passes per rule kind keep
    the inner loops free of the rule dispatch that would otherwise run on every bar.
    """
    n = codes.shape[0]
    codes[:] = 0
    n_rules = 0
    while n_rules < rules.shape[0] and rules[n_rules, 0] != RULE_NONE:
        n_rules += 1
    for r in range(n_rules - 1, -1, -1):
        kind = rules[r, 0]
        code = rules[r, 3]
        a = ind[rules[r, 1]]
        b_row = rules[r, 2]
        b = ind[b_row] if b_row >= 0 else ind[rules[r, 1], :1]
        level = levels[r]
        if kind == RULE_CODES:
            for j in range(n):
                v = a[j]
                if v != 0.0 and not math.isnan(v):
                    codes[j] = int(v)
        elif kind == RULE_CROSS_ABOVE:
            if b_row >= 0:
                for j in range(1, n):
                    if a[j - 1] < b[j - 1] and a[j] > b[j]:
                        codes[j] = code
            else:
                for j in range(1, n):
                    if a[j - 1] < level and a[j] > level:
                        codes[j] = code
        elif kind == RULE_CROSS_BELOW:
            if b_row >= 0:
                for j in range(1, n):
                    if a[j - 1] > b[j - 1] and a[j] < b[j]:
                        codes[j] = code
            else:
                for j in range(1, n):
                    if a[j - 1] > level and a[j] < level:
                        codes[j] = code
        else:
            above = kind == RULE_ABOVE
            shift = rules[r, 4]
            for j in range(shift, n):
                bv = b[j - shift] if b_row >= 0 else level
                if (a[j] > bv) if above else (a[j] < bv):
                    codes[j] = code


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


@njit(cache=True)
def _close(st, price, slip, reason, i, ex, ts, record, trades):  # type: ignore[no-untyped-def]
    """Close the whole position at `price` (before slippage); book the trade."""
    units = st[S_UNITS]
    side = 1.0 if units > 0.0 else -1.0
    fill = price * (1.0 - side * slip)
    fee = abs(units) * fill * ex[E_COMMISSION] + ex[E_COMMISSION_FIXED]
    st[S_CASH] += units * fill - fee
    entry = st[S_ENTRY_PRICE]
    pnl = units * (fill - entry)
    fees = st[S_FEES] + fee
    net = pnl - fees
    notional = abs(units) * entry
    ret = net / notional
    sl = ex[E_STOP_LOSS]
    risk = notional * sl if sl > 0.0 else notional
    bars = i - int(st[S_ENTRY_IDX])
    trade_stats_update_nb(ts, net, ret, bars, net / risk)
    if record:
        k = int(st[S_NTRADES])
        trades[k, T_ENTRY_IDX] = st[S_ENTRY_IDX]
        trades[k, T_EXIT_IDX] = i
        trades[k, T_SIDE] = side
        trades[k, T_UNITS] = abs(units)
        trades[k, T_ENTRY_PRICE] = entry
        trades[k, T_EXIT_PRICE] = fill
        trades[k, T_PNL] = pnl
        trades[k, T_FEES] = fees
        trades[k, T_RET] = ret
        trades[k, T_REASON] = reason
    st[S_NTRADES] += 1.0
    st[S_UNITS] = 0.0
    st[S_FEES] = 0.0


@njit(cache=True)
def _open(st, side, price, i, ex):  # type: ignore[no-untyped-def]
    """Open a position of `side` (+1/-1) at `price` (before slippage) if it can be sized."""
    equity = st[S_CASH]
    if equity <= 0.0:
        return
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
        return
    fee = units * fill * comm + fixed
    st[S_CASH] -= side * units * fill + fee
    st[S_UNITS] = side * units
    st[S_ENTRY_PRICE] = fill
    st[S_ENTRY_IDX] = i
    st[S_FEES] = fee
    st[S_BARS] = 0.0
    st[S_EXTREME] = fill
    sl = ex[E_STOP_LOSS]
    tp = ex[E_TAKE_PROFIT]
    st[S_STOP] = fill * (1.0 - side * sl) if sl > 0.0 else math.nan
    st[S_TAKE] = fill * (1.0 + side * tp) if tp > 0.0 else math.nan


@njit(cache=True)
def _apply_signal(st, code, price, i, ex, ts, record, trades, allow_entry):  # type: ignore[no-untyped-def]
    """Execute a signal at `price`: exit first, then enter (a reversal is two fills)."""
    if code == SIG_NONE:
        return
    if st[S_UNITS] != 0.0 and _wants_exit(code, st[S_UNITS]):
        _close(st, price, ex[E_SLIPPAGE], EXIT_SIGNAL, i, ex, ts, record, trades)
    if allow_entry and st[S_UNITS] == 0.0 and (code == SIG_LONG or code == SIG_SHORT):
        _open(st, float(code), price, i, ex)


@njit(cache=True)
def _save(st, cash, fees, bars, extreme):  # type: ignore[no-untyped-def]
    st[S_CASH] = cash
    st[S_FEES] = fees
    st[S_BARS] = bars
    st[S_EXTREME] = extreme


@njit(cache=True)
def simulate_nb(o, h, l, c, codes, ex, ts, equity, record, position, exposure, trades):  # type: ignore[no-untyped-def]
    """Run one candidate over all bars.

    `codes` (int8[n]) are the strategy's signal codes (see fill_codes_nb). Writes
    equity[n] always; position[n], exposure[n] (int8) and trades[k, N_TRADE_COLS]
    only when `record` (pass 1-element dummies otherwise). `ts` (float64[N_TRADE_STATS])
    accumulates trade statistics for the metrics. Returns (n_trades, exposure_bars).

    The per-bar work is written out in this one function on purpose: a numba call
    that takes arrays costs reference counting on every bar (measured 5-10x slower),
    so only rare events (fills) call helpers, and the hot state lives in locals that
    are saved to / loaded from the `st` array around those calls.
    """
    n = c.shape[0]
    st = np.zeros(N_STATE)
    st[S_CASH] = ex[E_CASH]
    next_open = ex[E_FILL] == 0.0
    direction = int(ex[E_DIRECTION])
    trail = ex[E_TRAILING]
    has_intrabar = ex[E_STOP_LOSS] > 0.0 or ex[E_TAKE_PROFIT] > 0.0 or trail > 0.0
    holding = ex[E_HOLDING]
    max_bars = ex[E_MAX_BARS]
    slip = ex[E_SLIPPAGE]
    pending = SIG_NONE
    pending_time = False
    exposure_bars = 0
    cash = st[S_CASH]
    units = 0.0
    fees = 0.0
    bars = 0.0
    extreme = 0.0
    stop0 = math.nan
    take = math.nan
    entry_idx = -1.0
    # Without intrabar exits, holding cost or max_bars, a bar without a signal only
    # marks the position to market: such runs of bars take a tight loop.
    quiet = not has_intrabar and holding == 0.0 and max_bars == 0.0
    j = 0
    while j < n:
        if quiet and pending == SIG_NONE and not pending_time:
            k = j
            while k < n - 1 and codes[k] == 0:
                k += 1
            if k > j:
                for i in range(j, k):
                    equity[i] = cash + units * c[i]
                if units != 0.0:
                    exposure_bars += k - j
                    bars += k - j
                if record:
                    for i in range(j, k):
                        position[i] = units
                        exposure[i] = 1 if units != 0.0 else 0
                j = k
        # 1. the open: fills of instructions decided at the previous close
        if next_open and (pending_time or pending != SIG_NONE):
            _save(st, cash, fees, bars, extreme)
            if pending_time and st[S_UNITS] != 0.0:
                _close(st, o[j], slip, EXIT_MAX_BARS, j, ex, ts, record, trades)
            if pending != SIG_NONE:
                _apply_signal(st, pending, o[j], j, ex, ts, record, trades, True)
            pending = SIG_NONE
            pending_time = False
            cash, units, fees, bars = st[S_CASH], st[S_UNITS], st[S_FEES], st[S_BARS]
            extreme, stop0, take, entry_idx = st[S_EXTREME], st[S_STOP], st[S_TAKE], st[S_ENTRY_IDX]
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
                    _save(st, cash, fees, bars, extreme)
                    _close(st, px, s, why, j, ex, ts, record, trades)
                    cash, units, fees = st[S_CASH], 0.0, 0.0
        # 3. the close: holding cost, bar count, the bar's signal
        time_exit = False
        if units != 0.0:
            if holding > 0.0:
                cost = abs(units) * c[j] * holding
                cash -= cost
                fees += cost
            bars += 1.0
            time_exit = max_bars > 0.0 and bars >= max_bars
        code = _filter_direction(codes[j], direction)
        last = j == n - 1
        if next_open:
            pending_time = time_exit
            pending = code
        elif time_exit or code != SIG_NONE:
            _save(st, cash, fees, bars, extreme)
            if time_exit:
                _close(st, c[j], slip, EXIT_MAX_BARS, j, ex, ts, record, trades)
            if code != SIG_NONE:
                _apply_signal(st, code, c[j], j, ex, ts, record, trades, not last)
            cash, units, fees, bars = st[S_CASH], st[S_UNITS], st[S_FEES], st[S_BARS]
            extreme, stop0, take, entry_idx = st[S_EXTREME], st[S_STOP], st[S_TAKE], st[S_ENTRY_IDX]
        if record:
            position[j] = units
            exposure[j] = 1 if in_market else 0
        if last and units != 0.0:
            _save(st, cash, fees, bars, extreme)
            _close(st, c[j], slip, EXIT_END, j, ex, ts, record, trades)
            cash, units = st[S_CASH], 0.0
        equity[j] = cash + units * c[j]
        j += 1
    return int(st[S_NTRADES]), exposure_bars


@njit(cache=True)
def eval_signals_nb(ind, rules, levels, n):  # type: ignore[no-untyped-def]
    """int8[n]: the signal code of every bar (fill_codes_nb into a new array)."""
    codes = np.zeros(n, dtype=np.int8)
    fill_codes_nb(ind, rules, levels, codes)
    return codes


@njit(cache=True)
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
    codes = eval_signals_nb(ind, rules, levels, n)
    if record:
        # A counting pass first, so the trade table is allocated at its exact size.
        n_trades, _ = simulate_nb(
            o, h, l, c, codes, ex, ts, equity, False, position, exposure, trades
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


@njit(cache=True, parallel=True)
def run_many_nb(o, h, l, c, ind, rules, levels, ex, ppy, n_threads, out):  # type: ignore[no-untyped-def]
    """Metrics of many candidates in parallel: rules[k], levels[k], ex[k] -> out[k].

    Only one equity curve and one scratch buffer per thread is ever alive, so memory
    does not grow with the number of candidates. `n_threads` must be
    `numba.get_num_threads()` (asking for it inside the kernel defeats caching).
    """
    n = c.shape[0]
    n_cand = rules.shape[0]
    equity = np.empty((n_threads, n))
    scratch = np.empty((n_threads, n))
    stats = np.empty((n_threads, N_TRADE_STATS))
    dummy_pos = np.zeros(1)
    dummy_exp = np.zeros(1, dtype=np.int8)
    dummy_trades = np.zeros((1, N_TRADE_COLS))
    codes = np.zeros((n_threads, n), dtype=np.int8)
    for k in prange(n_cand):
        t = get_thread_id()
        ts = stats[t]
        trade_stats_init_nb(ts)
        fill_codes_nb(ind, rules[k], levels[k], codes[t])
        _, exposure_bars = simulate_nb(
            o, h, l, c, codes[t], ex[k], ts, equity[t], False, dummy_pos, dummy_exp, dummy_trades
        )
        compute_metrics_nb(equity[t], ex[k, E_CASH], exposure_bars, ts, ppy, scratch[t], out[k])

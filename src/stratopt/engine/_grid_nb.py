"""Compiled kernels of the grid engine: a lot book per candidate, fills along bar paths.

Pure functions over numpy arrays, no pandas, no objects. The semantics are those of
docs/grid.md; tests/engine/reference_grid.py implements the same rules in plain
Python and the tests check that both give the same fills.

Array conventions (one run = the same market for every candidate):
    po, ph, pl, pc: float64[m] the path bars (the bars themselves, or detail bars).
    psub: int64[m] the position of each path bar in the series it came from.
    bar_end: int64[n] bar j's path bars are ``bar_end[j-1] <= i < bar_end[j]``.
    decide: int8[n] 1 where the bar's close is a decision.
    f_pos: int64[F] the path bar at whose start funding instant f is charged (sorted).
    f_rate, f_mark: float64[F] its rate and mark price.
    g_gap: float64[n] ns from bar j's close to the next funding instant (inf: none).
    g_rate: float64[n] the forecast funding rate at bar j's close.
    sides: int8[R, n] active sides per bar (bit 1 long, bit 2 short); a candidate reads
        row ``gp[P_SIDES_ROW]``.
    gp: float64[NP] one candidate's parameters (the P_* columns).

Constants passed to a compiled callee go through ``np.int64``/``np.bool_``: numba
compiles a callee once per literal value it is passed (``record`` True and False made
two copies of the whole simulation, the exit reasons more), which doubled the compile.

The per-bar loop keeps its hot state in locals and only calls helpers when a path bar
can fill something (see `_thresholds_nb`): a numba call that takes arrays costs
reference counting, which quiet bars must not pay.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange  # type: ignore[attr-defined]

from stratopt.metrics.nb import (
    N_METRICS,
    N_TRADE_STATS,
    compute_metrics_nb,
    trade_stats_init_nb,
    trade_stats_update_nb,
)

# Candidate parameters (columns of gp).
P_STEP_BPS = 0
P_LEVELS_LONG = 1
P_LEVELS_SHORT = 2
P_BASE_QTY = 3
P_QTY_SCALE = 4
P_TP_STEPS = 5
P_SL_STEPS = 6
P_RECENTER_BPS = 7
P_MAX_INVENTORY = 8
P_MAX_LEVERAGE = 9
P_GEOMETRIC = 10
P_FUND_WINDOW_MIN = 11
P_FUND_MAX_BPS = 12
P_CASH = 13
P_MAKER = 14
P_TAKER = 15
P_SLIPPAGE_BPS = 16
P_HEDGE = 17
P_PATH = 18
P_MAX_LOTS = 19
P_SIDES_ROW = 20
NP = 21

PATH_OHLC = 0
PATH_OLHC = 1
PATH_ADAPTIVE = 2

SIDE_LONG = 1
SIDE_SHORT = 2

R_ENTRY = 0
R_TAKE_PROFIT = 1
R_STOP_LOSS = 2
R_NETTED = 3
R_END = 4

# Fill records (float64 rows of the fill table).
F_BAR = 0
F_SUB = 1
F_PRICE = 2
F_SIDE = 3
F_QTY = 4
F_LOT = 5
F_REASON = 6
F_FEE = 7
N_FILL_COLS = 8

# Trade records.
T_LOT = 0
T_SIDE = 1
T_QTY = 2
T_ENTRY_IDX = 3
T_EXIT_IDX = 4
T_ENTRY_PRICE = 5
T_EXIT_PRICE = 6
T_PNL = 7
T_FEES = 8
T_FUNDING = 9
T_RET = 10
T_REASON = 11
T_RISK = 12
N_TRADE_COLS = 13

# Grid statistics of a candidate (after the metrics in the many-candidates output).
GS_NET_PNL = 0
GS_ROUND_TRIPS = 1
GS_GRID_PROFIT = 2
GS_INVENTORY_PNL = 3
GS_FUNDING = 4
GS_FEES = 5
GS_FILLS = 6
GS_TRADES = 7
GS_MAX_OPEN_LOTS = 8
N_GRID_STATS = 9

# Open lots: rows in lot-id order, these columns.
L_ID = 0
L_SIDE = 1
L_QTY = 2
L_ENTRY = 3
L_TP = 4
L_SL = 5  # NaN: no stop
L_LEVEL = 6  # index k-1 in its side's ladder; -1: a lot of an older ladder
L_ENTRY_BAR = 7
L_FEES = 8
L_FUNDING = 9
N_LOT_COLS = 10

# Levels: lv[side index (0 long, 1 short), k-1, column].
V_PRICE = 0
V_QTY = 1
V_STATE = 2
N_LEVEL_COLS = 3
FREE = 0.0
ARMED = 1.0
OCCUPIED = 2.0

# Scalar state of one run.
S_CASH = 0
S_CENTER = 1
S_STEP = 2  # the arithmetic step, or the ratio r of a geometric ladder
S_HAS_LADDER = 3
S_ACTIVE = 4
S_NEXT_ID = 5
S_NLOTS = 6
S_NFILLS = 7
S_NTRADES = 8
S_BAR = 9
S_SUB = 10
S_OPENED = 11
S_ROUND_TRIPS = 12
S_GRID_PROFIT = 13
S_INVENTORY_PNL = 14
S_FUNDING = 15
S_FEES = 16
S_CHANGED = 17  # the book changed since the last arming pass
S_REFUSED_EQUITY = 18  # the last arming pass refused a level on equity or leverage
S_NET = 19
S_GROSS = 20
S_MAX_OPEN = 21
S_T_LIVE_DOWN = 22
S_T_DORM_DOWN = 23
S_T_LIVE_UP = 24
S_T_DORM_UP = 25
N_STATE = 26


@njit(cache=True, inline="always")
def _record_fill(st, fills, record, price, side, qty, lot_id, reason, fee):  # type: ignore[no-untyped-def]
    """Book one fill: its cash and fee, and its record when recording."""
    st[S_CASH] = st[S_CASH] - side * qty * price
    st[S_CASH] = st[S_CASH] - fee
    st[S_FEES] += fee
    k = int(st[S_NFILLS])
    if record:
        fills[k, F_BAR] = st[S_BAR]
        fills[k, F_SUB] = st[S_SUB]
        fills[k, F_PRICE] = price
        fills[k, F_SIDE] = side
        fills[k, F_QTY] = qty
        fills[k, F_LOT] = lot_id
        fills[k, F_REASON] = reason
        fills[k, F_FEE] = fee
    st[S_NFILLS] = k + 1


@njit(cache=True, inline="always")
def _book_trade(st, lot, qty, exit_px, exit_fee, entry_fees, funding, reason, ts, trades, record):  # type: ignore[no-untyped-def]
    """Book one trade (a lot's round trip, or the closed part of one)."""
    side = lot[L_SIDE]
    entry = lot[L_ENTRY]
    pnl = side * qty * (exit_px - entry)
    fees = entry_fees + exit_fee
    net = pnl - fees + funding
    notional = qty * entry
    ret = net / notional
    sl = lot[L_SL]
    risk = qty * abs(entry - sl) if not math.isnan(sl) else notional
    held = st[S_BAR] - lot[L_ENTRY_BAR]
    trade_stats_update_nb(ts, net, ret, held, net / risk)
    if reason == R_TAKE_PROFIT:
        st[S_ROUND_TRIPS] += 1.0
        st[S_GRID_PROFIT] += pnl - fees
    else:
        st[S_INVENTORY_PNL] += pnl - fees
    st[S_FUNDING] += funding
    k = int(st[S_NTRADES])
    if record:
        trades[k, T_LOT] = lot[L_ID]
        trades[k, T_SIDE] = side
        trades[k, T_QTY] = qty
        trades[k, T_ENTRY_IDX] = lot[L_ENTRY_BAR]
        trades[k, T_EXIT_IDX] = st[S_BAR]
        trades[k, T_ENTRY_PRICE] = entry
        trades[k, T_EXIT_PRICE] = exit_px
        trades[k, T_PNL] = pnl
        trades[k, T_FEES] = fees
        trades[k, T_FUNDING] = funding
        trades[k, T_RET] = ret
        trades[k, T_REASON] = reason
        trades[k, T_RISK] = risk
    st[S_NTRADES] = k + 1


@njit(cache=True, inline="always")
def _totals(st, lots):  # type: ignore[no-untyped-def]
    """N and G (sum of side * qty and of qty over the open lots, in lot-id order)."""
    net = 0.0
    gross = 0.0
    for i in range(int(st[S_NLOTS])):
        net = net + lots[i, L_SIDE] * lots[i, L_QTY]
        gross = gross + lots[i, L_QTY]
    st[S_NET] = net
    st[S_GROSS] = gross
    if st[S_NLOTS] > st[S_MAX_OPEN]:
        st[S_MAX_OPEN] = st[S_NLOTS]


@njit(cache=True, inline="always")
def _remove_lot(st, lots, i):  # type: ignore[no-untyped-def]
    n = int(st[S_NLOTS])
    for r in range(i, n - 1):
        for col in range(N_LOT_COLS):
            lots[r, col] = lots[r + 1, col]
    st[S_NLOTS] = n - 1


@njit(cache=True)
def _build(st, gp, lv, center):  # type: ignore[no-untyped-def]
    """Compute a new ladder around `center`; every level free (docs/grid.md §2)."""
    u = gp[P_STEP_BPS] / 10000
    n_long = int(gp[P_LEVELS_LONG])
    n_short = int(gp[P_LEVELS_SHORT])
    q = gp[P_BASE_QTY]
    scale = gp[P_QTY_SCALE]
    if gp[P_GEOMETRIC] != 0.0:
        r = 1 + u
        rk = r
        for k in range(1, max(n_long, n_short) + 1):
            if k > 1:
                rk = rk * r
                q = q * scale
            if k <= n_long:
                lv[0, k - 1, V_PRICE] = center / rk
                lv[0, k - 1, V_QTY] = q
                lv[0, k - 1, V_STATE] = FREE
            if k <= n_short:
                lv[1, k - 1, V_PRICE] = center * rk
                lv[1, k - 1, V_QTY] = q
                lv[1, k - 1, V_STATE] = FREE
        st[S_STEP] = r
    else:
        step = center * u
        for k in range(1, max(n_long, n_short) + 1):
            if k > 1:
                q = q * scale
            if k <= n_long:
                lv[0, k - 1, V_PRICE] = center - k * step
                lv[0, k - 1, V_QTY] = q
                lv[0, k - 1, V_STATE] = FREE
            if k <= n_short:
                lv[1, k - 1, V_PRICE] = center + k * step
                lv[1, k - 1, V_QTY] = q
                lv[1, k - 1, V_STATE] = FREE
        st[S_STEP] = step
    st[S_CENTER] = center
    st[S_HAS_LADDER] = 1.0


@njit(cache=True)
def _exits(st, gp, side, p):  # type: ignore[no-untyped-def]
    """(take-profit, stop or NaN) of a lot of `side` entered at `p` (docs/grid.md §3)."""
    step = st[S_STEP]
    tp = gp[P_TP_STEPS]
    sl = gp[P_SL_STEPS]
    stop = math.nan
    if gp[P_GEOMETRIC] != 0.0:
        if side > 0:
            take = p * step**tp
            if sl > 0:
                stop = p / step**sl
        else:
            take = p / step**tp
            if sl > 0:
                stop = p * step**sl
    elif side > 0:
        take = p + tp * step
        if sl > 0:
            stop = p - sl * step
    else:
        take = p - tp * step
        if sl > 0:
            stop = p + sl * step
    return take, stop


@njit(cache=True, inline="always")
def _sums(st, gp, lots, lv):  # type: ignore[no-untyped-def]
    """(notional of the longs, of the shorts, of both sides, slots in use), each sum
    taken in the §4 order: open lots by id, then armed long levels, then short ones."""
    s_long = 0.0
    s_short = 0.0
    s_all = 0.0
    n_lots = int(st[S_NLOTS])
    for i in range(n_lots):
        v = lots[i, L_QTY] * lots[i, L_ENTRY]
        s_all = s_all + v
        if lots[i, L_SIDE] > 0:
            s_long = s_long + v
        else:
            s_short = s_short + v
    slots = n_lots
    for si in range(2):
        n_levels = int(gp[P_LEVELS_LONG] if si == 0 else gp[P_LEVELS_SHORT])
        for k in range(n_levels):
            if lv[si, k, V_STATE] == ARMED:
                v = lv[si, k, V_QTY] * lv[si, k, V_PRICE]
                s_all = s_all + v
                slots += 1
                if si == 0:
                    s_long = s_long + v
                else:
                    s_short = s_short + v
    return s_long, s_short, s_all, slots


@njit(cache=True, inline="always")
def _allowed(gp, qty, price, slots, s_side, s_all, eq):  # type: ignore[no-untyped-def]
    """0 if the level may be armed, 1 if a slot or inventory cap refuses it, 2 if equity
    or leverage does (docs/grid.md §4)."""
    if slots + 1 > gp[P_MAX_LOTS]:
        return 1
    v = qty * price
    cap = gp[P_MAX_INVENTORY]
    if cap > 0 and not s_side + v <= cap:
        return 1
    if not eq > 0:
        return 2
    lev = gp[P_MAX_LEVERAGE]
    if lev > 0 and not s_all + v <= lev * eq:
        return 2
    return 0


@njit(cache=True, inline="always")
def _rearm(st, gp, lots, lv, si, k, price):  # type: ignore[no-untyped-def]
    """A freed level of the current ladder re-arms if its side is active and caps allow."""
    lv[si, k, V_STATE] = FREE
    bit = SIDE_LONG if si == 0 else SIDE_SHORT
    if not int(st[S_ACTIVE]) & bit:
        return
    eq = st[S_CASH] + st[S_NET] * price
    room = st[S_NLOTS] + gp[P_LEVELS_LONG] + gp[P_LEVELS_SHORT] <= gp[P_MAX_LOTS]
    if room and gp[P_MAX_INVENTORY] <= 0 and gp[P_MAX_LEVERAGE] <= 0:
        # no cap reads the sums and every level fits in the slots: only equity counts
        if eq > 0:
            lv[si, k, V_STATE] = ARMED
        return
    s_long, s_short, s_all, slots = _sums(st, gp, lots, lv)
    s_side = s_long if si == 0 else s_short
    if _allowed(gp, lv[si, k, V_QTY], lv[si, k, V_PRICE], slots, s_side, s_all, eq) == 0:
        lv[si, k, V_STATE] = ARMED


@njit(cache=True)
def _fill_entry(st, gp, lots, lv, si, k, ts, record, fills, trades, wk):  # type: ignore[no-untyped-def]
    """Fill the entry of level (si, k) at its price (docs/grid.md §3, §8).

    The levels of netted lots are noted in ``wk[lv.shape[1]:]`` until the fill is done.
    """
    p = lv[si, k, V_PRICE]
    q = lv[si, k, V_QTY]
    side = 1.0 if si == 0 else -1.0
    maker = gp[P_MAKER]
    left = q
    base = lv.shape[1]
    n_freed = 0
    if gp[P_HEDGE] == 0.0:
        i = 0
        while i < int(st[S_NLOTS]) and left > 0:
            if lots[i, L_SIDE] != -side:
                i += 1
                continue
            lot_qty = lots[i, L_QTY]
            if lot_qty <= left:
                c = lot_qty
                fee = c * p * maker
                _record_fill(st, fills, record, p, side, c, lots[i, L_ID], R_NETTED, fee)
                _book_trade(
                    st, lots[i], c, p, fee, lots[i, L_FEES], lots[i, L_FUNDING], R_NETTED,
                    ts, trades, record,
                )  # fmt: skip
                wk[base + n_freed] = int(lots[i, L_LEVEL])
                n_freed += 1
                _remove_lot(st, lots, i)
            else:
                c = left
                fee = c * p * maker
                _record_fill(st, fills, record, p, side, c, lots[i, L_ID], R_NETTED, fee)
                share = lots[i, L_FEES] * (c / lot_qty)
                fshare = lots[i, L_FUNDING] * (c / lot_qty)
                _book_trade(st, lots[i], c, p, fee, share, fshare, R_NETTED, ts, trades, record)
                lots[i, L_FEES] = lots[i, L_FEES] - share
                lots[i, L_FUNDING] = lots[i, L_FUNDING] - fshare
                lots[i, L_QTY] = lot_qty - c
                i += 1
            left = left - c
    if left > 0:
        fee = left * p * maker
        lot_id = st[S_NEXT_ID]
        st[S_NEXT_ID] = lot_id + 1.0
        _record_fill(st, fills, record, p, side, left, lot_id, R_ENTRY, fee)
        take, stop = _exits(st, gp, side, p)
        r = int(st[S_NLOTS])
        lots[r, L_ID] = lot_id
        lots[r, L_SIDE] = side
        lots[r, L_QTY] = left
        lots[r, L_ENTRY] = p
        lots[r, L_TP] = take
        lots[r, L_SL] = stop
        lots[r, L_LEVEL] = k
        lots[r, L_ENTRY_BAR] = st[S_BAR]
        lots[r, L_FEES] = fee
        lots[r, L_FUNDING] = 0.0
        st[S_NLOTS] = r + 1
        lv[si, k, V_STATE] = OCCUPIED
        st[S_OPENED] = 1.0
    else:
        lv[si, k, V_STATE] = FREE
    _totals(st, lots)
    st[S_CHANGED] = 1.0
    other = 1 - si  # netted lots are of the other side
    for f in range(n_freed):
        if wk[base + f] >= 0:
            _rearm(st, gp, lots, lv, other, wk[base + f], p)
    if not left > 0:
        _rearm(st, gp, lots, lv, si, k, p)


@njit(cache=True)
def _fill_exit(st, gp, lots, lv, i, reason, x, ts, record, fills, trades):  # type: ignore[no-untyped-def]
    """Close lot row `i` whole by its take-profit or stop; `x` the price before slippage."""
    side = lots[i, L_SIDE]
    d = -side
    qty = lots[i, L_QTY]
    if reason == R_STOP_LOSS:
        price = x * (1.0 + d * (gp[P_SLIPPAGE_BPS] / 10000))
        fee = qty * price * gp[P_TAKER]
    else:
        price = x
        fee = qty * price * gp[P_MAKER]
    _record_fill(st, fills, record, price, d, qty, lots[i, L_ID], reason, fee)
    _book_trade(
        st, lots[i], qty, price, fee, lots[i, L_FEES], lots[i, L_FUNDING], reason,
        ts, trades, record,
    )  # fmt: skip
    k = int(lots[i, L_LEVEL])
    si = 0 if side > 0 else 1
    _remove_lot(st, lots, i)
    _totals(st, lots)
    st[S_CHANGED] = 1.0
    if k >= 0:
        _rearm(st, gp, lots, lv, si, k, x)


@njit(cache=True, inline="always")
def _find_lot(st, lots, lot_id):  # type: ignore[no-untyped-def]
    for i in range(int(st[S_NLOTS])):
        if lots[i, L_ID] == lot_id:
            return i
    return -1


@njit(cache=True)
def _segment(st, gp, lots, lv, a, b, gap, ts, record, fills, trades, wk):  # type: ignore[no-untyped-def]
    """Fill what a segment from `a` to `b` reaches, batch by batch (docs/grid.md §3).

    Level prices fall with k on the long side and rise with k on the short side, so the
    next entry a segment reaches is found by a scan that stops at the first armed level
    inside it. `wk` (int64, one slot per level) holds a batch's entries.
    """
    if a == b:
        return
    falling = b < a
    bound = a
    # a falling segment fills buys of longs' levels and shorts' take-profits, sells of
    # longs' stops; a rising one the mirror image
    si = 0 if falling else 1
    tp_side = -1.0 if falling else 1.0  # the side whose take-profits this segment fills
    n_levels = int(gp[P_LEVELS_LONG] if falling else gp[P_LEVELS_SHORT])
    while True:
        # the next trigger the price reaches, and which kinds of order sit there
        found = False
        best = -math.inf if falling else math.inf
        n_tp = 0
        n_sl = 0
        for i in range(int(st[S_NLOTS])):
            is_tp = lots[i, L_SIDE] == tp_side
            t = lots[i, L_TP] if is_tp else lots[i, L_SL]
            if math.isnan(t) or not ((b <= t < bound) if falling else (bound < t <= b)):
                continue
            if t == best:
                n_tp += is_tp
                n_sl += not is_tp
            elif (t > best) if falling else (t < best):
                best = t
                found = True
                n_tp = 1 if is_tp else 0
                n_sl = 0 if is_tp else 1
        entry = False
        for k in range(n_levels):
            t = lv[si, k, V_PRICE]
            if (t >= bound) if falling else (t <= bound):
                continue
            if (t < b) if falling else (t > b):
                break
            if lv[si, k, V_STATE] == ARMED:
                if t == best:
                    entry = True
                elif (t > best) if falling else (t < best):
                    best = t
                    found = True
                    entry = True
                    n_tp = 0
                    n_sl = 0
                break
        if not found:
            return
        p = best
        # the entries of the batch, as they stand before its exits
        n_en = 0
        for k in range(n_levels if entry else 0):
            t = lv[si, k, V_PRICE]
            if t == p and lv[si, k, V_STATE] == ARMED:
                wk[n_en] = k
                n_en += 1
            elif (t < p) if falling else (t > p):
                break
        # take-profits, then stops, each in lot-id order; exits add no lot
        lot = np.int64(0)
        while n_tp and lot < int(st[S_NLOTS]):
            if lots[lot, L_SIDE] == tp_side and lots[lot, L_TP] == p:
                _fill_exit(
                    st, gp, lots, lv, lot, np.int64(R_TAKE_PROFIT), p, ts, record, fills, trades
                )
            else:
                lot += 1
        lot = np.int64(0)
        while n_sl and lot < int(st[S_NLOTS]):
            if lots[lot, L_SIDE] != tp_side and lots[lot, L_SL] == p:
                x = b if gap else p
                _fill_exit(
                    st, gp, lots, lv, lot, np.int64(R_STOP_LOSS), x, ts, record, fills, trades
                )
            else:
                lot += 1
        for e in range(n_en):
            k = wk[e]
            if lv[si, k, V_STATE] == ARMED:
                _fill_entry(st, gp, lots, lv, si, k, ts, record, fills, trades, wk)
        bound = p


@njit(cache=True)
def _bounds(st, gp, lots, lv):  # type: ignore[no-untyped-def]
    """(lowest, highest) trigger of the falling orders and of the rising ones."""
    d_lo = math.inf
    d_hi = -math.inf
    u_lo = math.inf
    u_hi = -math.inf
    for i in range(int(st[S_NLOTS])):
        long = lots[i, L_SIDE] > 0
        tp = lots[i, L_TP]
        sl = lots[i, L_SL]
        down = sl if long else tp
        up = tp if long else sl
        if not math.isnan(down):
            d_lo = min(d_lo, down)
            d_hi = max(d_hi, down)
        if not math.isnan(up):
            u_lo = min(u_lo, up)
            u_hi = max(u_hi, up)
    for si in range(2):
        for k in range(int(gp[P_LEVELS_LONG] if si == 0 else gp[P_LEVELS_SHORT])):
            if lv[si, k, V_STATE] == ARMED:
                t = lv[si, k, V_PRICE]
                if si == 0:
                    d_lo = min(d_lo, t)
                    d_hi = max(d_hi, t)
                else:
                    u_lo = min(u_lo, t)
                    u_hi = max(u_hi, t)
    return d_lo, d_hi, u_lo, u_hi


@njit(cache=True)
def _walk(st, gp, lots, lv, prev, o, h, lw, c, model, ts, record, fills, trades, wk):  # type: ignore[no-untyped-def]
    """Walk one path bar: the gap from `prev` (NaN: none), then the model's points.

    A segment that no trigger lies within (by the bounds of the triggers, taken afresh
    after every fill) is not scanned.
    """
    if model == PATH_OHLC or (model == PATH_ADAPTIVE and not o - lw < h - o):
        x1 = h
        x2 = lw
    else:
        x1 = lw
        x2 = h
    nf = -1.0
    d_lo = d_hi = u_lo = u_hi = 0.0
    for s in range(4):
        if s == 0:
            if math.isnan(prev):
                continue
            a, b = prev, o
        elif s == 1:
            a, b = o, x1
        elif s == 2:
            a, b = x1, x2
        else:
            a, b = x2, c
        if a == b:
            continue
        if st[S_NFILLS] != nf:
            nf = st[S_NFILLS]
            d_lo, d_hi, u_lo, u_hi = _bounds(st, gp, lots, lv)
        if (b < a and (d_hi < b or d_lo >= a)) or (b > a and (u_lo > b or u_hi <= a)):
            continue
        _segment(st, gp, lots, lv, a, b, s == 0, ts, record, fills, trades, wk)


@njit(cache=True)
def _thresholds(st, gp, lots, lv, cur):  # type: ignore[no-untyped-def]
    """Where the next fill can be, seen from the price `cur`.

    Falling orders below `cur` fill when the price falls to them; those at or above it
    only after the price has risen above them first (and rising orders mirrored). A
    path bar whose low stays above the first kind and whose high stays at or below the
    second (and the mirror for rising orders) fills nothing: the loop skips it.
    """
    live_down = -math.inf
    dorm_down = math.inf
    live_up = math.inf
    dorm_up = -math.inf
    for i in range(int(st[S_NLOTS])):
        side = lots[i, L_SIDE]
        t = lots[i, L_TP]
        s = lots[i, L_SL]
        # a long's take-profit rises, its stop falls; a short's the other way round
        up = t if side > 0 else s
        down = s if side > 0 else t
        if not math.isnan(down):
            if down < cur:
                live_down = max(live_down, down)
            else:
                dorm_down = min(dorm_down, down)
        if not math.isnan(up):
            if up > cur:
                live_up = min(live_up, up)
            else:
                dorm_up = max(dorm_up, up)
    # long levels fall with k: the first armed one below cur is the nearest
    for k in range(int(gp[P_LEVELS_LONG])):
        if lv[0, k, V_STATE] == ARMED:
            t = lv[0, k, V_PRICE]
            if t < cur:
                live_down = max(live_down, t)
                break
            dorm_down = min(dorm_down, t)
    for k in range(int(gp[P_LEVELS_SHORT])):
        if lv[1, k, V_STATE] == ARMED:
            t = lv[1, k, V_PRICE]
            if t > cur:
                live_up = min(live_up, t)
                break
            dorm_up = max(dorm_up, t)
    st[S_T_LIVE_DOWN] = live_down
    st[S_T_DORM_DOWN] = dorm_down
    st[S_T_LIVE_UP] = live_up
    st[S_T_DORM_UP] = dorm_up


@njit(cache=True)
def _decide(st, gp, lots, lv, sides, price, recenter):  # type: ignore[no-untyped-def]
    """Steps 3-5 of a decision (docs/grid.md §6) with the sides after the guard."""
    if recenter:
        for i in range(int(st[S_NLOTS])):
            lots[i, L_LEVEL] = -1.0
        _build(st, gp, lv, price)
    st[S_ACTIVE] = sides
    n_long = int(gp[P_LEVELS_LONG])
    n_short = int(gp[P_LEVELS_SHORT])
    for si in range(2):
        bit = SIDE_LONG if si == 0 else SIDE_SHORT
        if not sides & bit:
            for k in range(n_long if si == 0 else n_short):
                if lv[si, k, V_STATE] == ARMED:
                    lv[si, k, V_STATE] = FREE
    st[S_CHANGED] = 0.0
    st[S_REFUSED_EQUITY] = 0.0
    wanted = False
    for si in range(2):
        bit = SIDE_LONG if si == 0 else SIDE_SHORT
        for k in range((n_long if si == 0 else n_short) if sides & bit else 0):
            wanted = wanted or lv[si, k, V_STATE] == FREE
    if not wanted:  # nothing to arm
        return
    eq = st[S_CASH] + st[S_NET] * price
    s_long, s_short, s_all, slots = _sums(st, gp, lots, lv)
    refused_equity = False
    for si in range(2):
        bit = SIDE_LONG if si == 0 else SIDE_SHORT
        if not sides & bit:
            continue
        for k in range(n_long if si == 0 else n_short):
            if lv[si, k, V_STATE] != FREE:
                continue
            qty = lv[si, k, V_QTY]
            px = lv[si, k, V_PRICE]
            s_side = s_long if si == 0 else s_short
            why = _allowed(gp, qty, px, slots, s_side, s_all, eq)
            if why == 0:
                lv[si, k, V_STATE] = ARMED
                v = qty * px
                slots += 1
                s_all = s_all + v
                if si == 0:
                    s_long = s_long + v
                else:
                    s_short = s_short + v
            elif why == 2:
                refused_equity = True
    st[S_REFUSED_EQUITY] = 1.0 if refused_equity else 0.0


@njit(cache=True)
def _close_all(st, gp, lots, price, ts, record, fills, trades):  # type: ignore[no-untyped-def]
    """The END close of every open lot at the last bar's price (docs/grid.md §9)."""
    s = gp[P_SLIPPAGE_BPS] / 10000
    while st[S_NLOTS] > 0:
        d = -lots[0, L_SIDE]
        fill = price * (1.0 + d * s)
        qty = lots[0, L_QTY]
        fee = qty * fill * gp[P_TAKER]
        _record_fill(st, fills, record, fill, d, qty, lots[0, L_ID], R_END, fee)
        _book_trade(
            st, lots[0], qty, fill, fee, lots[0, L_FEES], lots[0, L_FUNDING], R_END,
            ts, trades, record,
        )  # fmt: skip
        _remove_lot(st, lots, 0)
    _totals(st, lots)


@njit(cache=True)
def _charge_funding(st, lots, mark, rate):  # type: ignore[no-untyped-def]
    for i in range(int(st[S_NLOTS])):
        amount = -lots[i, L_SIDE] * lots[i, L_QTY] * mark * rate
        st[S_CASH] = st[S_CASH] + amount
        lots[i, L_FUNDING] = lots[i, L_FUNDING] + amount


@njit(cache=True)
def grid_simulate_nb(  # type: ignore[no-untyped-def]
    po, ph, pl, pc, psub, bar_end, decide, f_pos, f_rate, f_mark, g_gap, g_rate,
    side_row, gp, ts, equity, record, fills, trades, per_bar,
):  # fmt: skip
    """Run one candidate over every bar (docs/grid.md).

    Writes equity[n] always; fills[k, N_FILL_COLS], trades[k, N_TRADE_COLS] and
    per_bar[n, 4] (net exposure, gross exposure, open lots, exposed 0/1) only when
    `record` (pass 1-row dummies otherwise). `ts` (float64[N_TRADE_STATS]) accumulates
    the trade statistics. Returns the state array (`S_*`) and the exposed bar count.
    """
    n = bar_end.shape[0]
    n_levels = max(int(gp[P_LEVELS_LONG]), int(gp[P_LEVELS_SHORT]), 1)
    lv = np.zeros((2, n_levels, N_LEVEL_COLS))
    lots = np.zeros((int(gp[P_MAX_LOTS]) + 1, N_LOT_COLS))
    wk = np.zeros(n_levels + int(gp[P_MAX_LOTS]) + 1, dtype=np.int64)
    st = np.zeros(N_STATE)
    st[S_CASH] = gp[P_CASH]
    st[S_T_LIVE_DOWN] = -math.inf
    st[S_T_DORM_DOWN] = math.inf
    st[S_T_LIVE_UP] = math.inf
    st[S_T_DORM_UP] = -math.inf
    model = int(gp[P_PATH])
    recenter_bps = gp[P_RECENTER_BPS]
    window_ns = gp[P_FUND_WINDOW_MIN] * 60e9
    max_cost = gp[P_FUND_MAX_BPS]
    n_fund = f_pos.shape[0]
    fp = 0
    prev = math.nan
    exposed_bars = 0
    # hot state in locals; reloaded from st after every helper call
    cash = st[S_CASH]
    net = 0.0
    n_lots = 0
    t_ld = -math.inf
    t_dd = math.inf
    t_lu = math.inf
    t_du = -math.inf
    i0 = 0
    for j in range(n):
        i1 = bar_end[j]
        exposed = n_lots > 0
        opened = False
        for i in range(i0, i1):
            while fp < n_fund and f_pos[fp] == i:
                if n_lots > 0:
                    st[S_CASH] = cash
                    _charge_funding(st, lots, f_mark[fp], f_rate[fp])
                    cash = st[S_CASH]
                fp += 1
            if n_lots > 0:
                exposed = True
            o = po[i]
            h = ph[i]
            lw = pl[i]
            c = pc[i]
            lo = lw if math.isnan(prev) else min(prev, lw)
            hi = h if math.isnan(prev) else max(prev, h)
            if not (lo > t_ld and hi <= t_dd and hi < t_lu and lo >= t_du):
                st[S_CASH] = cash
                st[S_BAR] = j
                st[S_SUB] = psub[i]
                st[S_OPENED] = 0.0
                _walk(st, gp, lots, lv, prev, o, h, lw, c, model, ts, record, fills, trades, wk)
                if st[S_OPENED] != 0.0:
                    opened = True
                _thresholds(st, gp, lots, lv, c)
                cash = st[S_CASH]
                net = st[S_NET]
                n_lots = int(st[S_NLOTS])
                t_ld = st[S_T_LIVE_DOWN]
                t_dd = st[S_T_DORM_DOWN]
                t_lu = st[S_T_LIVE_UP]
                t_du = st[S_T_DORM_UP]
            prev = c
        i0 = i1
        price = prev
        if j == n - 1:
            st[S_CASH] = cash
            st[S_BAR] = j
            st[S_SUB] = psub[i1 - 1]
            _close_all(st, gp, lots, price, ts, record, fills, trades)
            cash = st[S_CASH]
            net = st[S_NET]
        elif decide[j] != 0:
            sides = int(side_row[j])
            if window_ns > 0 and g_gap[j] <= window_ns:
                rho = g_rate[j]
                if rho * 10000 > max_cost:
                    sides &= ~SIDE_LONG
                if -rho * 10000 > max_cost:
                    sides &= ~SIDE_SHORT
            has = st[S_HAS_LADDER] != 0.0
            recenter = not has or (
                recenter_bps > 0 and abs(price / st[S_CENTER] - 1) * 10000 >= recenter_bps
            )
            if (
                recenter
                or sides != int(st[S_ACTIVE])
                or st[S_CHANGED] != 0.0
                or st[S_REFUSED_EQUITY] != 0.0
            ):
                st[S_CASH] = cash
                _decide(st, gp, lots, lv, sides, price, recenter)
                _thresholds(st, gp, lots, lv, price)
                t_ld = st[S_T_LIVE_DOWN]
                t_dd = st[S_T_DORM_DOWN]
                t_lu = st[S_T_LIVE_UP]
                t_du = st[S_T_DORM_UP]
        if exposed or opened:
            exposed_bars += 1
        equity[j] = cash + net * price
        if record:
            per_bar[j, 0] = net * price
            per_bar[j, 1] = st[S_GROSS] * price
            per_bar[j, 2] = n_lots if j < n - 1 else 0
            per_bar[j, 3] = 1.0 if exposed or opened else 0.0
    st[S_CASH] = cash
    return st, exposed_bars


@njit(cache=True)
def _stats_row(st, cash0, out):  # type: ignore[no-untyped-def]
    out[GS_NET_PNL] = st[S_CASH] - cash0
    out[GS_ROUND_TRIPS] = st[S_ROUND_TRIPS]
    out[GS_GRID_PROFIT] = st[S_GRID_PROFIT]
    out[GS_INVENTORY_PNL] = st[S_INVENTORY_PNL]
    out[GS_FUNDING] = st[S_FUNDING]
    out[GS_FEES] = st[S_FEES]
    out[GS_FILLS] = st[S_NFILLS]
    out[GS_TRADES] = st[S_NTRADES]
    out[GS_MAX_OPEN_LOTS] = st[S_MAX_OPEN]


@njit(cache=True)
def grid_run_one_nb(  # type: ignore[no-untyped-def]
    po, ph, pl, pc, psub, bar_end, decide, f_pos, f_rate, f_mark, g_gap, g_rate,
    side_row, gp, ppy,
):  # fmt: skip
    """One candidate with full outputs: (equity, per_bar, fills, trades, metrics, stats).

    A counting pass first, so that the fill and trade tables get their exact sizes.
    """
    n = bar_end.shape[0]
    ts = np.empty(N_TRADE_STATS)
    trade_stats_init_nb(ts)
    equity = np.empty(n)
    dummy_f = np.zeros((1, N_FILL_COLS))
    dummy_t = np.zeros((1, N_TRADE_COLS))
    dummy_b = np.zeros((1, 4))
    st, _ = grid_simulate_nb(
        po, ph, pl, pc, psub, bar_end, decide, f_pos, f_rate, f_mark, g_gap, g_rate,
        side_row, gp, ts, equity, np.bool_(False), dummy_f, dummy_t, dummy_b,
    )  # fmt: skip
    fills = np.zeros((max(int(st[S_NFILLS]), 1), N_FILL_COLS))
    trades = np.zeros((max(int(st[S_NTRADES]), 1), N_TRADE_COLS))
    per_bar = np.zeros((n, 4))
    trade_stats_init_nb(ts)
    st, exposed = grid_simulate_nb(
        po, ph, pl, pc, psub, bar_end, decide, f_pos, f_rate, f_mark, g_gap, g_rate,
        side_row, gp, ts, equity, np.bool_(True), fills, trades, per_bar,
    )  # fmt: skip
    metrics = np.empty(N_METRICS)
    compute_metrics_nb(equity, gp[P_CASH], exposed, ts, ppy, np.empty(n), metrics)
    stats = np.empty(N_GRID_STATS)
    _stats_row(st, gp[P_CASH], stats)
    nf = int(st[S_NFILLS])
    nt = int(st[S_NTRADES])
    return equity, per_bar, fills[:nf], trades[:nt], metrics, stats


@njit(cache=True, parallel=True)
def grid_run_many_nb(  # type: ignore[no-untyped-def]
    po, ph, pl, pc, psub, bar_end, decide, f_pos, f_rate, f_mark, g_gap, g_rate,
    sides, gp, ppy, with_metrics, out,
):  # fmt: skip
    """Many candidates in parallel: gp[k] -> out[k] = metrics (N_METRICS, NaN when not
    `with_metrics`), then the N_GRID_STATS grid statistics.

    Each candidate allocates its own small lot book and one float64[n] equity buffer;
    nothing grows with the number of candidates.
    """
    n = bar_end.shape[0]
    n_cand = gp.shape[0]
    for q in prange(n_cand):
        ts = np.empty(N_TRADE_STATS)
        trade_stats_init_nb(ts)
        equity = np.empty(n)
        dummy_f = np.zeros((1, N_FILL_COLS))
        dummy_t = np.zeros((1, N_TRADE_COLS))
        dummy_b = np.zeros((1, 4))
        row = sides[int(gp[q, P_SIDES_ROW])]
        st, exposed = grid_simulate_nb(
            po, ph, pl, pc, psub, bar_end, decide, f_pos, f_rate, f_mark, g_gap, g_rate,
            row, gp[q], ts, equity, np.bool_(False), dummy_f, dummy_t, dummy_b,
        )  # fmt: skip
        if with_metrics:
            compute_metrics_nb(
                equity, gp[q, P_CASH], exposed, ts, ppy, np.empty(n), out[q, :N_METRICS]
            )
        else:
            for m in range(N_METRICS):
                out[q, m] = math.nan
        _stats_row(st, gp[q, P_CASH], out[q, N_METRICS:])

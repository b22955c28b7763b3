"""A slow, plain-Python reference of the grid engine (docs/grid.md in code).

Written from ``docs/grid.md`` only: one loop over the bars, lot and level objects,
every order scanned on every segment, sums recomputed where the page says so. The
compiled lot-book kernel (``stratopt.engine``'s grid simulation) is checked against
it fill by fill (``tests/engine/test_grid_vs_reference.py``).

Inputs are plain Python values: bar times as integer nanoseconds, prices as lists of
floats, the active sides of each bar (bit 1 long, bit 2 short) as the strategy gives
them. The reference places detail bars and funding instants itself, from the times.

Readings of the page that are fixed here (marked ``Reading:`` below):

* ``sub`` of a fill is the position of its path bar in the detail series as given
  (the bar's own position without detail).
* A bar with no decision (``decide[j]`` false) only marks equity.
* With ``skip_quiet`` (the default), a path bar is not walked segment by segment
  when no lot and no resting order has a trigger inside the range its walk covers
  (``min(prev close, low)`` to ``max(prev close, high)``): no segment of it could fill
  anything (a falling segment fills triggers in ``[b, a)``, a rising one in
  ``(a, b]``). The sorted triggers are kept between bars and dropped whenever a fill,
  a re-arm or a decision changes the orders. This changes nothing but the time the
  reference takes; ``skip_quiet=False`` walks every segment of every bar.
"""

from __future__ import annotations

import bisect
import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "END",
    "ENTRY",
    "NETTED",
    "STOP_LOSS",
    "TAKE_PROFIT",
    "RefFunding",
    "RefGrid",
    "RefResult",
    "run_reference",
]

ENTRY = 0
TAKE_PROFIT = 1
STOP_LOSS = 2
NETTED = 3
END = 4

LONG_SIDE = 1
SHORT_SIDE = 2

_MIN_NS = 60 * 1_000_000_000


@dataclass(frozen=True)
class RefGrid:
    """One candidate: the strategy's grid parameters and the execution settings."""

    grid_step_bps: float
    grid_levels_long: int
    grid_levels_short: int
    base_qty: float
    qty_scale: float = 1.0
    tp_steps: float = 1.0
    sl_steps: float = 0.0
    recenter_trigger_bps: float = 0.0
    max_inventory_quote: float = 0.0
    max_leverage_used: float = 0.0
    geometric: bool = False
    funding_window_minutes: float = 0.0
    funding_max_cost_bps: float = 0.0
    cash: float = 10_000.0
    maker_fee: float = 0.0
    taker_fee: float = 0.0
    slippage_bps: float = 0.0
    hedge: bool = True
    path: str = "ohlc"  # the model of each path bar (detail_path with detail)
    max_lots: int = 512


@dataclass(frozen=True)
class RefFunding:
    """A constant rate on a schedule, or (time ns, rate) rows; optional mark opens."""

    rate: float | None = None
    interval_ns: int | None = None
    phase_ns: int = 0
    rows: Sequence[tuple[int, float]] | None = None
    marks: Sequence[tuple[int, float]] | None = None  # (time ns, open), sorted


@dataclass
class RefResult:
    fills: list[tuple[int, int, float, int, float, int, int, float]] = field(default_factory=list)
    trades: list[dict[str, float]] = field(default_factory=list)
    equity: list[float] = field(default_factory=list)
    net_exposure: list[float] = field(default_factory=list)
    gross_exposure: list[float] = field(default_factory=list)
    open_lots: list[int] = field(default_factory=list)
    exposed: list[bool] = field(default_factory=list)
    cash: float = 0.0

    @property
    def round_trips(self) -> int:
        return sum(1 for t in self.trades if t["exit_reason"] == TAKE_PROFIT)

    @property
    def funding(self) -> float:
        return sum(t["funding"] for t in self.trades)


@dataclass(eq=False)
class _Level:
    side: int  # +1 long (buy), -1 short (sell)
    k: int
    price: float
    qty: float
    state: str = "free"  # free | armed | occupied


@dataclass(eq=False)
class _Lot:
    id: int
    side: int
    qty: float
    entry: float
    tp: float
    sl: float | None
    level: _Level | None
    entry_bar: int
    fees: float
    funding: float = 0.0


@dataclass
class _Ladder:
    center: float
    step: float  # arithmetic step, or the ratio r (geometric)
    longs: list[_Level]
    shorts: list[_Level]


class _Sim:
    """The state of one run; methods are the rules of docs/grid.md."""

    def __init__(self, g: RefGrid, res: RefResult, skip_quiet: bool) -> None:
        self.g = g
        self.skip_quiet = skip_quiet
        self.sorted_triggers: list[float] | None = None
        self.res = res
        self.cash = g.cash
        self.lots: list[_Lot] = []
        self.ladder: _Ladder | None = None
        self.active = 0
        self.next_id = 0
        self.bar = 0
        self.sub = 0
        self.opened_in_bar = False

    # ---- ladder, exits -------------------------------------------------------------
    def build(self, center: float) -> None:
        g = self.g
        self.sorted_triggers = None
        u = g.grid_step_bps / 10000
        longs: list[_Level] = []
        shorts: list[_Level] = []
        if g.geometric:
            r = 1 + u
            rk = r
            q = g.base_qty
            for k in range(1, max(g.grid_levels_long, g.grid_levels_short) + 1):
                if k > 1:
                    rk = rk * r
                    q = q * g.qty_scale
                if k <= g.grid_levels_long:
                    longs.append(_Level(1, k, center / rk, q))
                if k <= g.grid_levels_short:
                    shorts.append(_Level(-1, k, center * rk, q))
            self.ladder = _Ladder(center, r, longs, shorts)
            return
        step = center * u
        q = g.base_qty
        for k in range(1, max(g.grid_levels_long, g.grid_levels_short) + 1):
            if k > 1:
                q = q * g.qty_scale
            if k <= g.grid_levels_long:
                longs.append(_Level(1, k, center - k * step, q))
            if k <= g.grid_levels_short:
                shorts.append(_Level(-1, k, center + k * step, q))
        self.ladder = _Ladder(center, step, longs, shorts)

    def exits(self, side: int, p: float) -> tuple[float, float | None]:
        g = self.g
        assert self.ladder is not None
        step = self.ladder.step
        tp, sl = g.tp_steps, g.sl_steps
        if g.geometric:
            take = p * step**tp if side > 0 else p / step**tp
            stop = (p / step**sl if side > 0 else p * step**sl) if sl > 0 else None
        else:
            take = p + tp * step if side > 0 else p - tp * step
            stop = (p - sl * step if side > 0 else p + sl * step) if sl > 0 else None
        return take, stop

    # ---- accounting ----------------------------------------------------------------
    def net_qty(self) -> float:
        n = 0.0
        for lot in self.lots:
            n = n + lot.side * lot.qty
        return n

    def equity(self, price: float) -> float:
        return self.cash + self.net_qty() * price

    def record(self, price: float, side: int, qty: float, lot: int, reason: int, fee: float):  # type: ignore[no-untyped-def]
        self.res.fills.append((self.bar, self.sub, price, side, qty, lot, reason, fee))
        self.sorted_triggers = None
        self.cash = self.cash - side * qty * price
        self.cash = self.cash - fee

    def book_trade(self, lot: _Lot, qty: float, exit_price: float, exit_fee: float,
                   entry_fees: float, funding: float, reason: int) -> None:  # fmt: skip
        pnl = lot.side * qty * (exit_price - lot.entry)
        fees = entry_fees + exit_fee
        net = pnl - fees + funding
        self.res.trades.append(
            {
                "lot": lot.id,
                "side": lot.side,
                "qty": qty,
                "entry_idx": lot.entry_bar,
                "exit_idx": self.bar,
                "entry_price": lot.entry,
                "exit_price": exit_price,
                "pnl": pnl,
                "fees": fees,
                "funding": funding,
                "ret": net / (qty * lot.entry),
                "exit_reason": reason,
                "stop": lot.sl if lot.sl is not None else float("nan"),
            }
        )

    # ---- caps (§4) -------------------------------------------------------------------
    def armed(self) -> list[_Level]:
        if self.ladder is None:
            return []
        return [lv for lv in self.ladder.longs + self.ladder.shorts if lv.state == "armed"]

    def sums(self, side: int) -> tuple[float, float]:
        s_side = 0.0
        s_all = 0.0
        for lot in self.lots:
            v = lot.qty * lot.entry
            s_all = s_all + v
            if lot.side == side:
                s_side = s_side + v
        for lv in self.armed():
            v = lv.qty * lv.price
            s_all = s_all + v
            if lv.side == side:
                s_side = s_side + v
        return s_side, s_all

    def allowed(self, lv: _Level, slots: int, s_side: float, s_all: float, eq: float) -> bool:
        g = self.g
        if slots + 1 > g.max_lots:
            return False
        v = lv.qty * lv.price
        if g.max_inventory_quote > 0 and not s_side + v <= g.max_inventory_quote:
            return False
        if not eq > 0:
            return False
        return not (g.max_leverage_used > 0 and not s_all + v <= g.max_leverage_used * eq)

    def rearm(self, lv: _Level | None, price: float) -> None:
        """§3: a freed level of the current ladder re-arms if its side is active."""
        if lv is None or self.ladder is None:
            return
        self.sorted_triggers = None
        if not any(lv is x for x in self.ladder.longs + self.ladder.shorts):
            return
        lv.state = "free"
        bit = LONG_SIDE if lv.side > 0 else SHORT_SIDE
        if not self.active & bit:
            return
        s_side, s_all = self.sums(lv.side)
        slots = len(self.lots) + len(self.armed())
        if self.allowed(lv, slots, s_side, s_all, self.equity(price)):
            lv.state = "armed"

    # ---- fills -----------------------------------------------------------------------
    def fill_entry(self, lv: _Level) -> None:
        g = self.g
        p = lv.price
        q = lv.qty
        side = lv.side
        freed: list[_Level | None] = []
        left = q
        if not g.hedge:
            for lot in [x for x in self.lots if x.side == -side]:
                if not left > 0:
                    break
                if lot.qty <= left:
                    c = lot.qty
                    fee = c * p * g.maker_fee
                    self.record(p, side, c, lot.id, NETTED, fee)
                    self.book_trade(lot, c, p, fee, lot.fees, lot.funding, NETTED)
                    self.lots.remove(lot)
                    freed.append(lot.level)
                else:
                    c = left
                    fee = c * p * g.maker_fee
                    self.record(p, side, c, lot.id, NETTED, fee)
                    share = lot.fees * (c / lot.qty)
                    fshare = lot.funding * (c / lot.qty)
                    self.book_trade(lot, c, p, fee, share, fshare, NETTED)
                    lot.fees = lot.fees - share
                    lot.funding = lot.funding - fshare
                    lot.qty = lot.qty - c
                left = left - c
        if left > 0:
            fee = left * p * g.maker_fee
            lot_id = self.next_id
            self.next_id += 1
            self.record(p, side, left, lot_id, ENTRY, fee)
            take, stop = self.exits(side, p)
            self.lots.append(_Lot(lot_id, side, left, p, take, stop, lv, self.bar, fee))
            lv.state = "occupied"
            self.opened_in_bar = True
        else:
            lv.state = "free"
        for level in freed:
            self.rearm(level, p)
        if not left > 0:
            self.rearm(lv, p)

    def fill_exit(self, lot: _Lot, reason: int, x: float) -> None:
        """Close `lot` whole; `x` is the price before slippage."""
        g = self.g
        d = -lot.side
        if reason == STOP_LOSS:
            price = x * (1.0 + d * (g.slippage_bps / 10000))
            fee = lot.qty * price * g.taker_fee
        else:
            price = x
            fee = lot.qty * price * g.maker_fee
        self.record(price, d, lot.qty, lot.id, reason, fee)
        self.book_trade(lot, lot.qty, price, fee, lot.fees, lot.funding, reason)
        self.lots.remove(lot)
        if lot.level is not None:
            lot.level.state = "free"
        self.rearm(lot.level, x)

    # ---- the walk (§3) -----------------------------------------------------------------
    def orders(self, falling: bool) -> list[tuple[float, int, int, object]]:
        """(trigger, group, order key, target): group 0 take-profit, 1 stop, 2 entry."""
        out: list[tuple[float, int, int, object]] = []
        for lot in self.lots:
            if (lot.side < 0) == falling:  # a short's take-profit is a buy
                out.append((lot.tp, 0, lot.id, lot))
            if lot.sl is not None and (lot.side > 0) == falling:  # a long's stop sells
                out.append((lot.sl, 1, lot.id, lot))
        if self.ladder is not None:
            for lv in self.ladder.longs if falling else self.ladder.shorts:
                if lv.state == "armed":
                    out.append((lv.price, 2, lv.k, lv))
        return out

    def triggers(self) -> list[float]:
        if self.sorted_triggers is None:
            both = [t for t, *_ in self.orders(True)] + [t for t, *_ in self.orders(False)]
            self.sorted_triggers = sorted(both)
        return self.sorted_triggers

    def segment(self, a: float, b: float, gap: bool) -> None:
        if a == b:
            return
        falling = b < a
        bound = a
        while True:
            if falling:
                found = [o for o in self.orders(True) if b <= o[0] < bound]
            else:
                found = [o for o in self.orders(False) if bound < o[0] <= b]
            if not found:
                return
            p = max(o[0] for o in found) if falling else min(o[0] for o in found)
            batch = sorted((o for o in found if o[0] == p), key=lambda o: (o[1], o[2]))
            for _, group, _, target in batch:
                if group == 2:
                    assert isinstance(target, _Level)
                    if target.state == "armed":
                        self.fill_entry(target)
                else:
                    assert isinstance(target, _Lot)
                    if target in self.lots:
                        if group == 0:
                            self.fill_exit(target, TAKE_PROFIT, p)
                        else:
                            self.fill_exit(target, STOP_LOSS, b if gap else p)
            bound = p

    def walk(self, prev: float | None, o: float, h: float, lo: float, c: float) -> None:
        if self.skip_quiet:
            low = lo if prev is None else min(prev, lo)
            high = h if prev is None else max(prev, h)
            trig = self.triggers()
            i = bisect.bisect_left(trig, low)
            if i == len(trig) or trig[i] > high:
                return
        if prev is not None:
            self.segment(prev, o, True)
        model = self.g.path
        if model == "ohlc" or (model == "adaptive" and not o - lo < h - o):
            points = (o, h, lo, c)
        else:
            points = (o, lo, h, c)
        for a, b in itertools.pairwise(points):
            self.segment(a, b, False)

    # ---- decisions (§6) ------------------------------------------------------------
    def decide(self, sides: int, price: float, guard: tuple[int | None, float]) -> None:
        g = self.g
        next_gap, rho = guard
        near = next_gap is not None and next_gap <= g.funding_window_minutes * 60e9
        if g.funding_window_minutes > 0 and near:
            if rho * 10000 > g.funding_max_cost_bps:
                sides &= ~LONG_SIDE
            if -rho * 10000 > g.funding_max_cost_bps:
                sides &= ~SHORT_SIDE
        if self.ladder is None:
            self.build(price)
        elif (
            g.recenter_trigger_bps > 0
            and abs(price / self.ladder.center - 1) * 10000 >= g.recenter_trigger_bps
        ):
            for lot in self.lots:
                lot.level = None
            self.build(price)
        self.active = sides
        assert self.ladder is not None
        for bit, levels in ((LONG_SIDE, self.ladder.longs), (SHORT_SIDE, self.ladder.shorts)):
            if not sides & bit:
                for lv in levels:
                    if lv.state == "armed":
                        lv.state = "free"
                        self.sorted_triggers = None
        wanted = [
            lv
            for bit, levels in ((LONG_SIDE, self.ladder.longs), (SHORT_SIDE, self.ladder.shorts))
            if sides & bit
            for lv in levels
            if lv.state == "free"
        ]
        if not wanted:  # nothing to arm
            return
        eq = self.equity(price)
        s_long, s_all = self.sums(1)
        s_short, _ = self.sums(-1)
        slots = len(self.lots) + len(self.armed())
        for bit, levels in ((LONG_SIDE, self.ladder.longs), (SHORT_SIDE, self.ladder.shorts)):
            if not sides & bit:
                continue
            for lv in levels:
                if lv.state != "free":
                    continue
                s_side = s_long if lv.side > 0 else s_short
                if self.allowed(lv, slots, s_side, s_all, eq):
                    lv.state = "armed"
                    self.sorted_triggers = None
                    v = lv.qty * lv.price
                    slots += 1
                    s_all = s_all + v
                    if lv.side > 0:
                        s_long = s_long + v
                    else:
                        s_short = s_short + v

    def close_all(self, price: float) -> None:
        for lot in list(self.lots):
            g = self.g
            d = -lot.side
            fill = price * (1.0 + d * (g.slippage_bps / 10000))
            fee = lot.qty * fill * g.taker_fee
            self.record(fill, d, lot.qty, lot.id, END, fee)
            self.book_trade(lot, lot.qty, fill, fee, lot.fees, lot.funding, END)
            self.lots.remove(lot)


# ---- time: detail placement and funding (§1, §7) ----------------------------------------
def _interval(times: Sequence[int]) -> int:
    return int(statistics.median(b - a for a, b in itertools.pairwise(times)))


def _instants(f: RefFunding, first: int, last_end: int) -> list[tuple[int, float]]:
    if f.rows is not None:
        return [(t, r) for t, r in f.rows if first <= t < last_end]
    assert f.rate is not None and f.interval_ns is not None
    k = -((f.phase_ns - first) // f.interval_ns)  # ceil((first - phase) / interval)
    out = []
    t = f.phase_ns + k * f.interval_ns
    while t < last_end:
        if t >= first:
            out.append((t, f.rate))
        t += f.interval_ns
    return out


def _guard(f: RefFunding | None, t: int) -> tuple[int | None, float]:
    """(ns to the first instant at or after t, the forecast rate) for a decision at t."""
    if f is None:
        return None, 0.0
    if f.rows is not None:
        after = [ti for ti, _ in f.rows if ti >= t]
        before = [r for ti, r in f.rows if ti < t]
        return (after[0] - t if after else None), (before[-1] if before else 0.0)
    assert f.rate is not None and f.interval_ns is not None
    k = -((f.phase_ns - t) // f.interval_ns)
    return f.phase_ns + k * f.interval_ns - t, f.rate


def _mark(f: RefFunding, t: int, fallback: float) -> float:
    if f.marks is None:
        return fallback
    rows = [o for tm, o in f.marks if tm <= t]
    if not rows:
        raise ValueError(f"no mark price at or before {t}")
    return rows[-1]


def run_reference(
    g: RefGrid,
    time: Sequence[int],
    bars: tuple[Sequence[float], Sequence[float], Sequence[float], Sequence[float]],
    sides: Sequence[int],
    *,
    detail: tuple[Sequence[int], Sequence[float], Sequence[float], Sequence[float], Sequence[float]]
    | None = None,
    funding: RefFunding | None = None,
    decide: Sequence[bool] | None = None,
    skip_quiet: bool = True,
) -> RefResult:
    """Run one candidate over `bars` (o, h, l, c lists) as docs/grid.md says."""
    res = RefResult()
    sim = _Sim(g, res, skip_quiet)
    n = len(time)
    delta = _interval(time)
    o, h, lo, c = bars
    # path bars of each bar: (sub index, time, o, h, l, c)
    if detail is None:
        paths = [[(j, time[j], o[j], h[j], lo[j], c[j])] for j in range(n)]
        path_delta = delta
    else:
        dt, do, dh, dl, dc = detail
        path_delta = _interval(dt)
        paths = [[] for _ in range(n)]
        j = 0
        for i in range(len(dt)):
            while j < n and dt[i] >= time[j] + delta:
                j += 1
            if j < n and time[j] <= dt[i]:
                paths[j].append((i, dt[i], do[i], dh[i], dl[i], dc[i]))
        assert all(paths), "a bar without detail bars"
    flat = [p for bar in paths for p in bar]
    charges: dict[int, list[tuple[int, float]]] = {}
    if funding is not None:
        first = flat[0][1]
        last_end = flat[-1][1] + path_delta
        closes = [p[1] + path_delta for p in flat]
        for t_f, rate in _instants(funding, first, last_end):
            pos = bisect.bisect_right(closes, t_f)  # the first path bar closing after t_f
            charges.setdefault(pos, []).append((t_f, rate))
    prev: float | None = None
    pos = 0
    for j in range(n):
        sim.bar = j
        sim.opened_in_bar = False
        exposed = bool(sim.lots)
        for sub, _, po, ph, pl, pc in paths[j]:
            sim.sub = sub
            for t_f, rate in charges.get(pos, []):
                assert funding is not None
                mark = _mark(funding, t_f, po)
                for lot in sim.lots:
                    amount = -lot.side * lot.qty * mark * rate
                    sim.cash = sim.cash + amount
                    lot.funding = lot.funding + amount
            if sim.lots:
                exposed = True
            sim.walk(prev, po, ph, pl, pc)
            prev = pc
            pos += 1
        assert prev is not None
        price = prev
        if j == n - 1:
            sim.close_all(price)
        elif decide is None or decide[j]:
            sim.decide(int(sides[j]), price, _guard(funding, time[j] + delta))
        res.exposed.append(exposed or sim.opened_in_bar)
        nq = sim.net_qty()
        gq = 0.0
        for lot in sim.lots:
            gq = gq + lot.qty
        res.equity.append(sim.cash + nq * price)
        res.net_exposure.append(nq * price)
        res.gross_exposure.append(gq * price)
        res.open_lots.append(len(sim.lots))
    res.cash = sim.cash
    return res

"""docs/analysis.md restated in plain Python and pandas, from the page, not from the code.

Slow loops on purpose: each function reads like the definition it restates.
"""

from __future__ import annotations

import math
import statistics

import pandas as pd
from scipy import integrate
from scipy import stats as sps


def returns(equity: list[float], cash: float) -> list[float]:
    out, prev = [], cash
    for e in equity:
        out.append(e / prev - 1.0 if prev > 0 else 0.0)
        prev = e
    return out


def quantile(values: list[float], q: float) -> float:
    """Hyndman & Fan definition 7."""
    x = sorted(values)
    h = (len(x) - 1) * q
    k = math.floor(h)
    if k == len(x) - 1:
        return x[k]
    return x[k] + (h - k) * (x[k + 1] - x[k])


def drawdown_table(equity: list[float], cash: float, times: list[pd.Timestamp]) -> list[dict]:
    """Every episode: a maximal run of bars with E_j < max(C, E_0..E_j)."""
    peak, dds, under = cash, [], []
    for e in equity:
        peak = max(peak, e)
        dds.append((peak - e) / peak)
        under.append(e < peak)
    episodes, j, n = [], 0, len(equity)
    while j < n:
        if not under[j]:
            j += 1
            continue
        s = j
        while j < n and under[j]:
            j += 1
        e = j - 1
        valley = max(range(s, e + 1), key=lambda i: (dds[i], -i))
        recovered = e + 1 < n
        peak_bar = s - 1
        episodes.append({
            "peak": str(times[max(peak_bar, 0)]),
            "valley": str(times[valley]),
            "recovery": str(times[e + 1]) if recovered else "not recovered",
            "depth": dds[valley],
            "bars_to_valley": valley - peak_bar,
            "bars_to_recovery": (e + 1 - peak_bar) if recovered else None,
            "bars_under_water": e - s + 1,
            "_start": s,
        })  # fmt: skip
    return episodes


def top_drawdowns(equity: list[float], cash: float, times: list, top: int) -> list[dict]:
    eps = drawdown_table(equity, cash, times)
    eps.sort(key=lambda d: (-d["depth"], d["_start"]))
    return [{k: v for k, v in d.items() if k != "_start"} for d in eps[:top]]


def time_under_water(equity: list[float], cash: float) -> float:
    peak, count = cash, 0
    for e in equity:
        peak = max(peak, e)
        count += e < peak
    return count / len(equity) if equity else 0.0


def sharpe_sortino_vol(r: list[float], ppy: float) -> dict[str, float]:
    n = len(r)
    mean = sum(r) / n
    sd = statistics.stdev(r) if n >= 2 else 0.0
    down = math.sqrt(sum(min(x, 0.0) ** 2 for x in r) / n)

    def div(x: float, y: float) -> float:
        if y != 0:
            return x / y
        return math.inf if x > 0 else (-math.inf if x < 0 else 0.0)

    root = math.sqrt(ppy)
    return {"volatility": sd * root, "sharpe": div(mean, sd) * root,
            "sortino": div(mean, down) * root}  # fmt: skip


def moments(r: list[float]) -> tuple[float, float, float, float]:
    """mean, sample std, population skew, raw kurtosis (0 when flat)."""
    n = len(r)
    mean = sum(r) / n
    m2 = sum((x - mean) ** 2 for x in r) / n
    m3 = sum((x - mean) ** 3 for x in r) / n
    m4 = sum((x - mean) ** 4 for x in r) / n
    sd = statistics.stdev(r) if n >= 2 else 0.0
    if n < 2 or m2 == 0:
        return mean, sd, 0.0, 0.0
    return mean, sd, m3 / m2**1.5, m4 / m2**2


def cornish_fisher(r: list[float], level: float) -> tuple[float, float]:
    mean, sd, s, k = moments(r)
    if sd == 0:
        return mean, mean
    x_ = k - 3

    def zcf(x: float) -> float:
        return x + (x * x - 1) * s / 6 + (x**3 - 3 * x) * x_ / 24 - (2 * x**3 - 5 * x) * s * s / 36

    z = sps.norm.ppf(1 - level)
    tail, _ = integrate.quad(lambda x: zcf(x) * sps.norm.pdf(x), -math.inf, z)
    return mean + zcf(z) * sd, mean + sd * tail / (1 - level)


def distribution(r: list[float], times: list[pd.Timestamp], cash: float, equity: list[float]):
    mean, sd, s, k = moments(r)
    out = {"mean": mean, "std": sd, "skew": s, "kurtosis": k}
    out["quantiles"] = {f"{q:g}": quantile(r, q) for q in (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)}
    for level, key in ((0.95, "95"), (0.99, "99")):
        var = quantile(r, 1 - level)
        out[f"var_{key}"] = var
        tail = [x for x in r if x <= var]
        out[f"cvar_{key}"] = sum(tail) / len(tail)
        out[f"var_cf_{key}"], out[f"cvar_cf_{key}"] = cornish_fisher(r, level)
    if len(r) >= 2 and k != 0:
        jb = len(r) / 6 * (s * s + (k - 3) ** 2 / 4)
        out["jb"] = (jb, sps.chi2.sf(jb, 2))
    series = pd.Series(r, index=pd.DatetimeIndex(times))
    out["best_bar"] = (max(r), str(series.idxmax()))
    out["worst_bar"] = (min(r), str(series.idxmin()))
    daily = (1 + series).groupby(series.index.normalize()).prod() - 1
    monthly = (1 + series).groupby(series.index.to_period("M")).prod() - 1
    yearly = (1 + series).groupby(series.index.year).prod() - 1
    out["best_day"] = (daily.max(), daily.idxmax().strftime("%Y-%m-%d"))
    out["worst_day"] = (daily.min(), daily.idxmin().strftime("%Y-%m-%d"))
    out["best_month"] = (monthly.max(), str(monthly.idxmax()))
    out["worst_month"] = (monthly.min(), str(monthly.idxmin()))
    out["monthly"] = {(p.year, p.month): v for p, v in monthly.items()}
    out["yearly"] = dict(yearly.items())
    return out

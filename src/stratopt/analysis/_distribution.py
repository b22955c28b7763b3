"""The `distribution` section: moments, quantiles, VaR/CVaR, Jarque-Bera, best and worst.

Definitions: docs/analysis.md ("distribution"). Skew, excess kurtosis, VaR 95 % and
CVaR 95 %, volatility, Sharpe and Sortino are the candidate's metrics.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from stratopt.analysis._curve import Curve, period_returns

__all__ = [
    "QUANTILES",
    "cornish_fisher_cvar",
    "cornish_fisher_var",
    "distribution_section",
    "monthly_grid",
]

_N = NormalDist()  # the standard normal (stdlib: scipy.stats costs a second to import)
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
LEVELS = (0.95, 0.99)


def _z_cf_coefficients(skew: float, excess: float) -> tuple[float, float, float, float]:
    """a0..a3 of z_cf(x) = a0 + a1 x + a2 x^2 + a3 x^3."""
    s, x = skew, excess
    return (-s / 6, 1 - 3 * x / 24 + 5 * s * s / 36, s / 6, x / 24 - 2 * s * s / 36)


def cornish_fisher_var(mean: float, std: float, skew: float, excess: float, level: float) -> float:
    """mean + z_cf(z) std, z = Φ⁻¹(1 - level)."""
    z = _N.inv_cdf(1.0 - level)
    a0, a1, a2, a3 = _z_cf_coefficients(skew, excess)
    return mean + (a0 + a1 * z + a2 * z * z + a3 * z**3) * std


def cornish_fisher_cvar(mean: float, std: float, skew: float, excess: float, level: float) -> float:
    """mean + std / (1 - level) × ∫_{-∞}^{z} z_cf(x) φ(x) dx, from normal partial moments."""
    z = _N.inv_cdf(1.0 - level)
    cdf, pdf = _N.cdf(z), _N.pdf(z)
    moments = (cdf, -pdf, cdf - z * pdf, -(z * z + 2) * pdf)  # ∫ x^k φ(x) dx below z
    coef = _z_cf_coefficients(skew, excess)
    integral = sum(a * m for a, m in zip(coef, moments, strict=True))
    return mean + std * integral / (1.0 - level)


def distribution_section(curve: Curve) -> dict[str, Any]:
    """Every figure of the `distribution` section of one candidate."""
    r = curve.returns
    m = curve.metrics
    n = r.size
    mean = float(r.mean()) if n else 0.0
    std = float(r.std(ddof=1)) if n >= 2 else 0.0
    flat = n < 2 or not np.any(r != r[0])
    kurt = 0.0 if flat else m["kurtosis"] + 3.0
    q = np.quantile(r, QUANTILES) if n else np.zeros(len(QUANTILES))
    var = {"95": m["var_95"], "99": float(q[0])}
    out: dict[str, Any] = {
        "mean": mean,
        "std": std,
        "volatility": m["volatility"],
        "sharpe": m["sharpe"],
        "sortino": m["sortino"],
        "skew": m["skew"],
        "kurtosis": kurt,
        "quantiles": {f"{p:g}": float(v) for p, v in zip(QUANTILES, q, strict=True)},
        "var": var,
        "cvar": {"95": m["cvar_95"], "99": float(r[r <= var["99"]].mean()) if n else 0.0},
        **_cornish_fisher(mean, std, m["skew"], kurt - 3.0, flat=flat),
        "jarque_bera": None if flat else _jarque_bera(n, m["skew"], kurt),
    }
    out.update(_extremes(curve, r))
    out["monthly"] = monthly_grid(curve)
    return out


def _cornish_fisher(
    mean: float, std: float, skew: float, excess: float, *, flat: bool
) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {"var_cornish_fisher": {}, "cvar_cornish_fisher": {}}
    for lv in LEVELS:
        key = f"{lv * 100:g}"
        out["var_cornish_fisher"][key] = (
            mean if flat else cornish_fisher_var(mean, std, skew, excess, lv)
        )
        out["cvar_cornish_fisher"][key] = (
            mean if flat else cornish_fisher_cvar(mean, std, skew, excess, lv)
        )
    return out


def _jarque_bera(n: int, skew: float, kurt: float) -> dict[str, float]:
    stat = n / 6.0 * (skew**2 + (kurt - 3.0) ** 2 / 4.0)
    return {"statistic": stat, "pvalue": math.exp(-stat / 2.0)}  # χ²₂'s tail is exp(-x/2)


def _extremes(curve: Curve, r: np.ndarray) -> dict[str, Any]:
    if r.size == 0:
        return {}
    idx = curve.index
    days, months = period_returns(curve, "day"), period_returns(curve, "month")
    return {
        "best_bar": {"return": float(r.max()), "time": str(idx[int(np.argmax(r))])},
        "worst_bar": {"return": float(r.min()), "time": str(idx[int(np.argmin(r))])},
        "best_day": _pick(days, "%Y-%m-%d", best=True),
        "worst_day": _pick(days, "%Y-%m-%d", best=False),
        "best_month": _pick(months, "%Y-%m", best=True),
        "worst_month": _pick(months, "%Y-%m", best=False),
    }


def _pick(series: pd.Series, fmt: str, *, best: bool) -> dict[str, Any]:
    values = series.to_numpy()
    i = int(np.argmax(values) if best else np.argmin(values))
    return {"return": float(values[i]), "period": series.index[i].strftime(fmt)}


def monthly_grid(curve: Curve) -> dict[str, dict[str, float | None]]:
    """{year: {"1".."12": monthly return or None, "year": the year's return}}."""
    months = period_returns(curve, "month")
    years = period_returns(curve, "year")
    out: dict[str, dict[str, float | None]] = {}
    month_index = pd.DatetimeIndex(months.index)
    for start, growth in zip(pd.DatetimeIndex(years.index), years.to_numpy(), strict=True):
        row: dict[str, float | None] = {str(k): None for k in range(1, 13)}
        pick = month_index.year == start.year
        for mstart, mret in zip(month_index[pick], months.to_numpy()[pick], strict=True):
            row[str(mstart.month)] = float(mret)
        row["year"] = float(growth)
        out[str(start.year)] = row
    return out

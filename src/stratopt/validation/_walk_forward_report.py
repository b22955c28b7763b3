"""Walk-forward results: one window's result, the stitched curve, efficiency, drift."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from stratopt.metrics import compute_metrics
from stratopt.validation._windows import Window

__all__ = ["WindowResult", "drift", "efficiency", "stitch", "window_efficiency"]


@dataclass(frozen=True)
class WindowResult:
    """One walk-forward window: the search on its train part, the best on its test part.

    Attributes:
        window: bar positions (on the union of the symbols' bar times).
        study_name: the window's study in the storage.
        train, test: ``(first bar time, time the window ends)``; the end is exclusive
            (the first bar after it, or None at the end of the data).
        trial, params: the best completed trial of the window's search (None if none).
        values_in, values_out: the objective value(s) in the train and test windows.
        in_sample, out_of_sample: every metric on the train and test windows.
        counts: the window study's trials by state.
        returns, exposed, trades: the test window's per-bar returns, exposure and
            trades opened in it (for the stitched curve).
    """

    window: Window
    study_name: str
    train: tuple[pd.Timestamp, pd.Timestamp | None]
    test: tuple[pd.Timestamp, pd.Timestamp | None]
    trial: int | None = None
    params: dict[str, Any] | None = None
    values_in: list[float] | None = None
    values_out: list[float] | None = None
    in_sample: dict[str, float] | None = None
    out_of_sample: dict[str, float] | None = None
    counts: dict[str, int] = field(default_factory=dict)
    returns: pd.Series | None = None
    exposed: pd.Series | None = None
    trades: pd.DataFrame | None = None
    error: str | None = None


def stitch(
    results: Sequence[WindowResult], *, cash: float, ppy: float
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Chain the test windows' returns into one equity curve, and its metrics.

    Returns:
        The curve (index: bar time; columns window, return, equity) and its metrics.

    When test windows overlap (step < test), a window's bars stop where the next
    window's test starts, so every bar is counted once. Windows without a result are
    left out. The curve starts at `cash`: ``E_t = cash * prod_{s <= t} (1 + r_s)``.
    """
    pieces: list[pd.DataFrame] = []
    trades: list[pd.DataFrame] = []
    exposed_bars = 0
    for k, res in enumerate(results):
        if res.error is not None or res.returns is None or res.exposed is None:
            continue
        if res.trades is None:
            continue
        ret, exp, tr = res.returns, res.exposed, res.trades
        if k + 1 < len(results):
            nxt = results[k + 1].test[0]
            ret, exp = ret[ret.index < nxt], exp[exp.index < nxt]
            tr = tr[tr["entry_time"] < nxt]
        pieces.append(pd.DataFrame({"window": res.window.index, "return": ret}))
        trades.append(tr)
        exposed_bars += int(exp.sum())
    if not pieces:
        empty = pd.DataFrame({"window": [], "return": [], "equity": []})
        return empty, {}
    frame = pd.concat(pieces)
    equity = cash * (1.0 + frame["return"]).cumprod()
    equity.name = "equity"
    tr_all = pd.concat(trades, ignore_index=True)
    metrics = compute_metrics(
        equity.to_numpy(),
        cash=cash,
        trades_net_pnl=tr_all["net_pnl"].to_numpy(dtype=np.float64),
        trades_ret=tr_all["ret"].to_numpy(dtype=np.float64),
        trades_bars=tr_all["bars"].to_numpy(dtype=np.float64),
        trades_ret_on_risk=tr_all["ror"].to_numpy(dtype=np.float64),
        exposure_bars=exposed_bars,
        periods_per_year=ppy,
    )
    return pd.concat([frame, equity], axis=1), metrics


def _ratio(num: float | None, den: float | None) -> float | None:
    """num / den when both are finite and den > 0 (a ratio to a loss means nothing)."""
    if num is None or den is None or not (math.isfinite(num) and math.isfinite(den)):
        return None
    return num / den if den > 0 else None


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def efficiency(results: Sequence[WindowResult], stitched: dict[str, float]) -> dict[str, Any]:
    """Walk-forward efficiency: annualized out-of-sample ÷ annualized in-sample.

    ``return`` = CAGR of the stitched curve ÷ mean over windows of the train CAGR;
    ``sharpe`` = Sharpe of the stitched curve ÷ mean train Sharpe. None when the
    in-sample mean is not positive.
    """
    done = [r for r in results if r.in_sample is not None]
    is_cagr = _mean([r.in_sample["cagr"] for r in done if r.in_sample])
    is_sharpe = _mean([r.in_sample["sharpe"] for r in done if r.in_sample])
    return {
        "return": _ratio(stitched.get("cagr"), is_cagr),
        "sharpe": _ratio(stitched.get("sharpe"), is_sharpe),
        "mean_in_sample_cagr": is_cagr,
        "mean_in_sample_sharpe": is_sharpe,
        "out_of_sample_cagr": stitched.get("cagr"),
        "out_of_sample_sharpe": stitched.get("sharpe"),
    }


def drift(results: Sequence[WindowResult], names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per searched parameter: its value in each window, spread and number of changes."""
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        values = [None if r.params is None else r.params.get(name) for r in results]
        chosen = [v for v in values if v is not None]
        changes = sum(1 for a, b in itertools.pairwise(chosen) if a != b)
        entry: dict[str, Any] = {"values": values, "changes": changes,
                                 "distinct": len(set(map(repr, chosen)))}  # fmt: skip
        numeric = chosen and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in chosen
        )
        if numeric:
            arr = np.asarray(chosen, dtype=np.float64)
            entry.update(
                mean=float(arr.mean()),
                std=float(arr.std()),
                min=float(arr.min()),
                max=float(arr.max()),
                range=float(arr.max() - arr.min()),
            )
        elif chosen:
            entry["most_common"] = Counter(map(str, chosen)).most_common(1)[0][0]
        out[name] = entry
    return out


def window_efficiency(r: WindowResult) -> dict[str, float | None]:
    if r.in_sample is None or r.out_of_sample is None:
        return {"return": None, "sharpe": None}
    return {
        "return": _ratio(r.out_of_sample["cagr"], r.in_sample["cagr"]),
        "sharpe": _ratio(r.out_of_sample["sharpe"], r.in_sample["sharpe"]),
    }

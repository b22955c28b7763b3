"""What the command line shows of grid studies: grid outputs, path bands, warnings.

Only prints, on `_render`'s consoles; called for studies whose strategy is a grid
strategy (a no-op for the others' results).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
from rich import box
from rich.markup import escape
from rich.table import Table

from stratopt.cli._console import err, out
from stratopt.grid import BAND_COLUMNS, GridBacktestResult
from stratopt.operations import BacktestRun

__all__ = ["RISK_LINE", "print_grid_backtest", "print_path_bands", "print_warnings"]

RISK_LINE = "fill model risk: high"


def print_warnings(warnings: Sequence[str]) -> None:
    for warning in warnings:
        err.print(f"warning: {escape(warning)}", highlight=False, soft_wrap=True)


def print_grid_backtest(results: Sequence[BacktestRun]) -> None:
    """Grid outputs and the path band of each grid series, then the risk flag."""
    for r in results:
        if isinstance(r, GridBacktestResult):
            _print_one(r)


def _print_one(r: GridBacktestResult) -> None:
    s = r.grid_summary()
    band = r.band
    table = Table(
        title=f"{escape(r.bars.symbol)}: grid ({s['path']}, {s['position_mode']})",
        box=box.SIMPLE_HEAD,
    )
    for col in ("round trips", "grid profit", "inventory P&L", "funding", "fees", "max lots"):
        table.add_column(col, justify="right")
    table.add_row(
        f"{s['round_trips']:,}", f"{s['grid_profit']:,.2f}", f"{s['inventory_pnl']:,.2f}",
        f"{s['funding']:,.2f}", f"{s['fees']:,.2f}", f"{s['max_open_lots']:,}",
    )  # fmt: skip
    out.print(table)
    paths = Table(title="path band (same candidate, each bar path)", box=box.SIMPLE_HEAD)
    for col in ("path", "net P&L", "round trips"):
        paths.add_column(col, justify="right")
    for m, net in band.net_pnl.items():
        paths.add_row(m, f"{net:,.2f}", f"{band.round_trips[m]:,}")
    paths.add_row("band", f"{band.net_pnl_band:,.2f}", f"{band.round_trips_band:,}")
    out.print(paths)
    if band.risk_high:
        out.print(
            f"{RISK_LINE} (the net P&L band {band.net_pnl_band:,.2f} exceeds 25 % of "
            f"|net P&L| {abs(band.reference_net_pnl):,.2f})",
            soft_wrap=True,
            highlight=False,
        )


def print_path_bands(ranked: pd.DataFrame, top: int) -> None:
    """The path band of the best `top` trials of a grid study, and the flag of the best
    (nothing for a study without path bands)."""
    cols = [f"metrics.{c}" for c in BAND_COLUMNS]
    if ranked.empty or not all(c in ranked.columns for c in cols):
        return
    head = ranked[ranked["state"] == "complete"].head(top)
    table = Table(title=f"path band of the best {len(head)}", box=box.SIMPLE_HEAD)
    for col in ("rank", "net P&L", "ohlc", "olhc", "adaptive", "band", "trips band", "risk"):
        table.add_column(col, justify="right")
    for _, row in head.iterrows():
        high = row["metrics.fill_model_risk_high"] == 1.0
        table.add_row(
            str(row["rank"]),
            _money(row.get("metrics.net_pnl")),
            *(_money(row[f"metrics.net_pnl_{m}"]) for m in ("ohlc", "olhc", "adaptive")),
            _money(row["metrics.path_band_net_pnl"]),
            _money(row["metrics.path_band_round_trips"], digits=0),
            "high" if high else "normal",
        )
    out.print(table)
    if len(head) and head.iloc[0]["metrics.fill_model_risk_high"] == 1.0:
        out.print(f"{RISK_LINE} (best trial)", highlight=False)


def _money(value: Any, digits: int = 2) -> str:
    if value is None or not isinstance(value, int | float) or not math.isfinite(value):
        return "n/a"
    return f"{value:,.{digits}f}"

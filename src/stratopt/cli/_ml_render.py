"""Tables of `stratopt ml`: stage-1 fold ICs, stage 2 against the holdout, the overfitting line."""

from __future__ import annotations

import math
from typing import Any

from rich import box
from rich.table import Table

from stratopt.cli._console import out

__all__ = ["print_tuning"]


def _num(value: Any, digits: int = 3) -> str:
    if isinstance(value, int | float) and math.isfinite(float(value)):
        return f"{float(value):.{digits}f}"
    return "n/a"


def print_tuning(result: Any) -> None:
    summary = result.summary
    look = summary.get("lookahead") or {}
    if look and not look.get("clean", True):
        out.print(f"[bold red]look-ahead in features:[/] {', '.join(sorted(look['leaks']))}")
    for model in summary.get("stage1", {}).get("models", []):
        _print_folds(model)
    if "stage2" in summary:
        _print_stage2(summary["stage2"], summary.get("overfitting", {}))
    t = result.training
    out.print(f"models fit: {t.trained}, read from the cache: {t.cached}")
    out.print(f"run folder: {result.run_folder.resolve()}", soft_wrap=True, highlight=False)


def _print_folds(model: dict[str, Any]) -> None:
    dev = model.get("development", {})
    table = Table(
        title=f"stage 1, trial {model['trial']}: rank IC {_num(dev.get('rank_ic'), 4)} "
        f"± {_num(dev.get('rank_ic_se'), 4)}",
        box=box.SIMPLE,
    )
    for col in ("fold", "test", "rank IC", "SE", "IC", "SE"):
        table.add_column(col, justify="right" if col not in ("test",) else "left")
    for f in model.get("folds", []):
        table.add_row(
            str(f["fold"]),
            f"{f['test_start'][:10]} .. {f['test_end'][:10]}",
            _num(f.get("rank_ic"), 4),
            _num(f.get("rank_ic_se"), 4),
            _num(f.get("ic"), 4),
            _num(f.get("ic_se"), 4),
        )
    out.print(table)
    hold = model.get("holdout") or {}
    if "rank_ic" in hold:
        out.print(f"holdout rank IC {_num(hold['rank_ic'], 4)} ± {_num(hold.get('rank_ic_se'), 4)}")


def _print_stage2(s2: dict[str, Any], stats: dict[str, Any]) -> None:
    table = Table(title=f"stage 2 ({s2.get('objective')})", box=box.SIMPLE)
    for col in ("candidate", "trial", "development Sharpe", "holdout Sharpe", "degradation"):
        table.add_column(col, justify="right")
    for row in (s2.get("best"), s2.get("robust")):
        if row:
            table.add_row(
                str(row["candidate"]),
                str(row["trial"]),
                _num(row.get("development_sharpe")),
                _num(row.get("holdout_sharpe")),
                _num(row.get("degradation")),
            )
    out.print(table)
    dsr, pbo = stats.get("dsr_development", {}), stats.get("pbo", {})
    out.print(
        f"deflated Sharpe: {_num(dsr.get('n2'))} (N = {stats.get('stage2_trials')}), "
        f"{_num(dsr.get('n1xn2'))} (N = {stats.get('stage1_trials')} x "
        f"{stats.get('stage2_trials')}); PBO {_num(pbo.get('value'))}"
    )

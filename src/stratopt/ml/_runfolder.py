"""What a two-stage run writes: summary.json, the trial tables, report.md and timings.

Every file but ``timings.json`` is a function of the inputs alone (no clock, no run
time), so rerunning an unchanged study writes byte-identical files.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from stratopt.errors import UserInputError
from stratopt.storage import RunFolder, new_run_dir, write_run_folder

__all__ = ["make_run_dir", "render_report", "write_ml_run_folder"]


def make_run_dir(output: Path, name: str) -> Path:
    """``OUTPUT/<name>/<UTC timestamp>/``, unique, created before any work."""
    try:
        return new_run_dir(output, name)
    except OSError as exc:
        raise UserInputError(f"output: cannot create a run folder under {output}: {exc}") from None


def _csv(path: Path, frame: pd.DataFrame) -> None:
    frame.to_csv(path, index=False, float_format="%.17g", lineterminator="\n")


def write_ml_run_folder(
    path: Path,
    *,
    summary: dict[str, Any],
    tables: dict[str, pd.DataFrame],
    best_config: dict[str, Any] | None,
    timings: dict[str, Any],
) -> RunFolder:
    """Write the run folder; `tables` maps file names (``stage1_trials.csv``...) to frames."""
    ranked = tables.get("stage2_trials.csv", tables.get("stage1_trials.csv", pd.DataFrame()))
    folder = write_run_folder(path, summary=summary, ranked=ranked, best_config=best_config)
    _csv(folder.ranked, ranked)  # again, with full float precision and fixed line ends
    for name, frame in tables.items():
        _csv(path / name, frame)
    (path / "report.md").write_text(render_report(summary))
    (path / "timings.json").write_text(json.dumps(timings, indent=2, sort_keys=True) + "\n")
    return folder


def _num(value: Any, digits: int = 3) -> str:
    if isinstance(value, int | float) and math.isfinite(float(value)):
        return f"{float(value):.{digits}f}"
    return "n/a"


def _stage1_lines(s1: dict[str, Any]) -> list[str]:
    lines = [f"## Stage 1: model on {s1.get('objective')} ({s1.get('trials_complete')} trials)"]
    for m in s1.get("models", []):
        dev = m.get("development", {})
        lines += [
            "",
            f"Trial {m['trial']}: rank IC {_num(dev.get('rank_ic'), 4)} "
            f"± {_num(dev.get('rank_ic_se'), 4)} (SE), IC {_num(dev.get('ic'), 4)}, "
            f"rank ICIR {_num(dev.get('rank_icir'))}",
            "",
            "| fold | test | rank IC | SE | IC | SE |",
            "|---:|---|---:|---:|---:|---:|",
        ]
        for f in m.get("folds", []):
            lines.append(
                f"| {f['fold']} | {f['test_start'][:10]} .. {f['test_end'][:10]} | "
                f"{_num(f.get('rank_ic'), 4)} | {_num(f.get('rank_ic_se'), 4)} | "
                f"{_num(f.get('ic'), 4)} | {_num(f.get('ic_se'), 4)} |"
            )
        hold = m.get("holdout") or {}
        if "rank_ic" in hold:
            lines += [
                "",
                f"Holdout rank IC {_num(hold['rank_ic'], 4)} ± "
                f"{_num(hold.get('rank_ic_se'), 4)} (SE)",
            ]
    return lines


def _stage2_lines(s2: dict[str, Any], stats: dict[str, Any]) -> list[str]:
    best, robust = s2.get("best") or {}, s2.get("robust") or {}
    lines = [
        "",
        f"## Stage 2: rule on {s2.get('objective')}",
        "",
        "| candidate | trial | development Sharpe | holdout Sharpe | degradation |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in (best, robust):
        if row:
            lines.append(
                f"| {row.get('candidate')} | {row.get('trial')} | "
                f"{_num(row.get('development_sharpe'))} | {_num(row.get('holdout_sharpe'))} | "
                f"{_num(row.get('degradation'))} |"
            )
    dsr_dev, dsr_hold = stats.get("dsr_development", {}), stats.get("dsr_holdout", {})
    pbo = stats.get("pbo", {})
    lines += [
        "",
        f"Deflated Sharpe ratio (development): {_num(dsr_dev.get('n2'))} with N = "
        f"{stats.get('stage2_trials')} stage-2 trials; {_num(dsr_dev.get('n1xn2'))} with "
        f"N = {stats.get('stage1_trials')} x {stats.get('stage2_trials')} (conservative).",
        f"Deflated Sharpe ratio (holdout): {_num(dsr_hold.get('n2'))} / "
        f"{_num(dsr_hold.get('n1xn2'))}.",
        f"PBO over {pbo.get('candidates', 0)} stage-2 candidates: {_num(pbo.get('value'))}.",
    ]
    return lines


def render_report(summary: dict[str, Any]) -> str:
    """report.md: the honesty report in a page of Markdown."""
    lines = [f"# {summary.get('study')}: two-stage tuning", ""]
    look = summary.get("lookahead") or {}
    if look:
        verdict = "clean" if look.get("clean") else f"LOOK-AHEAD in {sorted(look.get('leaks', {}))}"
        lines.append(f"Feature look-ahead check: {verdict}.")
        lines.append("")
    if "stage1" in summary:
        lines += _stage1_lines(summary["stage1"])
    if "stage2" in summary:
        lines += _stage2_lines(summary["stage2"], summary.get("overfitting", {}))
    return "\n".join(lines) + "\n"

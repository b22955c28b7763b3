"""What the terminal says when a search did not do what the user expected: why candidates
failed, how close the pruned ones came, and that a finished study had nothing to run."""

from __future__ import annotations

import pandas as pd
from optuna.trial import FrozenTrial

from stratopt.cli._console import fmt_num, out, set_line
from stratopt.operations import OptimizeResult
from stratopt.storage import record

__all__ = ["print_failures", "print_nothing_run", "print_trial"]


def print_failures(ranked: pd.DataFrame, *, errors: int = 3, closest: int = 5) -> None:
    """Why candidates failed (the most frequent errors, counted) and, when none met the
    requirements, the `closest` with the smallest shortfall and what they missed."""
    if ranked.empty:
        return
    failed = ranked.loc[ranked["state"] == "fail", "error"].value_counts()
    for message, count in failed.head(errors).items():
        out.print(f"failed {count} x: {message}", soft_wrap=True, highlight=False, markup=False)
    if (ranked["state"] == "complete").any():
        return
    near = ranked[(ranked["state"] == "pruned") & (ranked["violations"] != "")].head(closest)
    if near.empty:
        return
    out.print(f"no candidate met the requirements; the {len(near)} closest:", highlight=False)
    for _, row in near.iterrows():
        params = " ".join(f"{c[7:]}={row[c]}" for c in ranked.columns if c.startswith("params."))
        line = f"  trial {int(row['trial'])} {params}: {row['violations']}"
        out.print(line, soft_wrap=True, highlight=False, markup=False)


def print_nothing_run(result: OptimizeResult) -> None:
    """A rerun of a finished study: say so, and how to extend it, before the old table."""
    done = result.counts["complete"]
    if result.stopped_by == "target" and result.target is not None:
        more = f"`--trials {2 * result.target}` to extend"
        line = f"{done} of {result.target} trials already complete — nothing to run ({more})"
    else:
        line = f"nothing to run: {result.stopped_by} ({done} trials complete)"
    out.print(line, soft_wrap=True, highlight=False, markup=False)


def print_trial(trial: FrozenTrial) -> None:
    """One stored trial in full: state, values, the `--set` line, why it was pruned or
    failed, and every metric."""
    rec = record(trial)
    values = ", ".join(fmt_num(v) for v in trial.values or []) or "n/a"
    lines = [
        f"trial {trial.number}: {trial.state.name.lower()}, value {values}",
        f"params: {set_line(trial.params)}",
    ]
    lines += [f"{key}: {rec[key]}" for key in ("pruned", "error") if rec.get(key)]
    lines += [f"violation: {v}" for v in rec.get("violations") or []]
    lines += [f"{k}: {fmt_num(v)}" for k, v in (rec.get("metrics") or {}).items()]
    for line in lines:
        out.print(line, soft_wrap=True, highlight=False, markup=False)

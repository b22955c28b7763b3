"""Sections 0 and 1: what was run (the manifest) and what it found (the verdict)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stratopt.reporting._blocks import Kpi, Kpis, Note, Section, Table, tone
from stratopt.reporting._candidates import Pick, best_and_robust, completed_trials
from stratopt.reporting._format import (
    COST_KEYS,
    compact,
    count,
    mapping,
    metric_value,
    number,
    params_text,
    percent,
    to_float,
)
from stratopt.reporting._inputs import Extras, StoredRun

__all__ = ["manifest_section", "verdict_section"]


def _data_rows(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for entry in summary.get("data") or []:
        if not isinstance(entry, Mapping):
            continue
        sha = str(entry.get("sha256") or "")
        where = f"{entry.get('source', '')}"
        text = (
            f"{entry.get('symbol', '?')}: {count(entry.get('bars'))} bars, "
            f"{entry.get('start', '?')} → {entry.get('end', '?')} ({where})"
        )
        if sha:
            text += f"; SHA-256 {sha}"
        rows.append(("data", text))
    return rows


def _config_rows(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    backtest = mapping(config.get("backtest"))
    costs = [f"{k}={backtest[k]}" for k in COST_KEYS if backtest.get(k) is not None]
    if costs:
        rows.append(("cost model", ", ".join(costs)))
    search = mapping(config.get("search"))
    if search:
        rows.append(
            (
                "sampler",
                f"{search.get('method')} (seed {search.get('seed')}, target {search.get('trials')} "
                f"trials, batch {search.get('batch') or 'default'}, jobs {search.get('jobs')})",
            )
        )
    if config.get("space"):
        rows.append(("space", compact(config["space"])))
    if config.get("constraints"):
        rows.append(("constraints", "; ".join(map(str, config["constraints"]))))
    require = mapping(config.get("require"))
    rows.append(("requirements", compact(require) if require else "none"))
    validation = mapping(config.get("validation"))
    kept = {k: v for k, v in validation.items() if v is not None}
    if kept:
        rows.append(("validation", compact(kept)))
    return rows


def manifest_section(run: StoredRun) -> Section:
    """0: study, strategy, data and its SHA-256, costs, sampler and seed, objective, ..."""
    s = run.summary
    config = mapping(s.get("config"))
    rows: list[tuple[str, str]] = [("study", run.name), ("run", _run_text(run))]
    if s.get("strategy") or config.get("strategy"):
        rows.append(("strategy", str(s.get("strategy") or config.get("strategy"))))
    if config.get("params"):
        rows.append(("fixed params", compact(config["params"])))
    rows += _data_rows(s)
    rows.append(("objective", str(s.get("objective") or _wf_objective(run))))
    rows += _config_rows(config)
    counts = mapping(s.get("counts"))
    if counts:
        rows.append(("trials", ", ".join(f"{count(v)} {k}" for k, v in counts.items() if v)))
    this_run = mapping(s.get("this_run"))
    if this_run:
        rows.append(
            (
                "this run",
                f"{count(this_run.get('attempts'))} attempts in "
                f"{number(this_run.get('seconds'))} s, "
                f"stopped by {this_run.get('stopped_by')}, started {this_run.get('started_utc')}",
            )
        )
    if s.get("storage"):
        rows.append(("storage", str(s["storage"])))
    git = mapping(s.get("git"))
    if git:
        rows.append(("git", f"{git.get('commit')}{' (dirty)' if git.get('dirty') else ''}"))
    versions = mapping(s.get("versions"))
    if versions:
        rows.append(("versions", ", ".join(f"{k} {v}" for k, v in versions.items())))
    rows += _walk_forward_rows(run)
    return Section(
        id="manifest",
        title="Run manifest",
        how_to_read="What was run, on which data (its SHA-256), with which costs, sampler and "
        "seed: enough to reproduce every number below.",
        sampling="as recorded in the run folder",
        blocks=(Table(("", ""), tuple(rows), caption=None),),
    )


def _run_text(run: StoredRun) -> str:
    where = str(run.folder) if run.folder is not None else "(not saved)"
    return f"{run.kind} — {where}"


def _wf_objective(run: StoredRun) -> str:
    return str(mapping(run.walk_forward).get("objective", "?"))


def _walk_forward_rows(run: StoredRun) -> list[tuple[str, str]]:
    wf = mapping(run.walk_forward)
    if not wf:
        return []
    rows = [("walk-forward", compact(mapping(wf.get("walk_forward"))))]
    rows.append(("windows", count(wf.get("n_windows"))))
    if wf.get("storage") and not run.summary.get("storage"):
        rows.append(("storage", str(wf["storage"])))
    timing = mapping(wf.get("run"))
    if timing:
        rows.append(
            (
                "this run",
                f"{number(timing.get('seconds'))} s on {timing.get('workers')} worker(s), "
                f"started {timing.get('started_utc')}",
            )
        )
    return rows


# ---- 1: the verdict -----------------------------------------------------------------


def _kpis(run: StoredRun, best: Pick | None) -> Kpis:
    stats = run.section("statistics") or {}
    dsr = to_float(mapping(stats.get("dsr")).get("value"))
    pbo = to_float(mapping(stats.get("pbo")).get("pbo"))
    spa = to_float(mapping(stats.get("spa")).get("pvalue_consistent"))
    stability = mapping(mapping(run.section("robustness")).get("stability"))
    verdict = str(stability.get("verdict") or "–")
    tiles = []
    if best is not None:
        tiles.append(Kpi("best objective", number(best.values[0]), f"trial {best.trial}"))
    tiles += [
        Kpi("DSR", number(dsr), "≥ 0.95 is a discovery", tone(dsr, dsr >= 0.95, dsr < 0.5)),
        Kpi(
            "PBO",
            number(pbo),
            "chance the IS winner is below the OOS median",
            tone(pbo, pbo < 0.2, pbo >= 0.5),
        ),
        Kpi(
            "SPA p-value",
            number(spa),
            "consistent; < 0.05 beats flat",
            tone(spa, spa < 0.05, spa > 0.2),
        ),
        Kpi(
            "stability",
            verdict,
            "of the best's neighbourhood",
            "good" if verdict == "plateau" else "bad" if verdict == "spike" else "neutral",
        ),
    ]
    wf = mapping(mapping(run.walk_forward).get("efficiency"))
    if wf:
        wfe = to_float(wf.get("sharpe"))
        tiles.append(
            Kpi("WFE (Sharpe)", number(wfe), "OOS ÷ mean IS", tone(wfe, wfe >= 0.5, wfe < 0))
        )
    return Kpis(tuple(tiles))


def _holdout_of(run: StoredRun, trial: int) -> Mapping[str, Any] | None:
    holdout = run.section("holdout") or {}
    for cand in holdout.get("candidates") or []:
        if isinstance(cand, Mapping) and cand.get("trial") == trial:
            return mapping(cand.get("out_of_sample"))
    return None


def _candidate_column(
    run: StoredRun, pick: Pick | None, extras: Extras, is_best: bool
) -> list[str]:
    if pick is None:
        return ["–"] * len(_ROW_LABELS)
    stats = run.section("statistics") or {}
    m = pick.metrics
    if is_best:
        dsr = to_float(mapping(stats.get("dsr")).get("value"))
        trl = mapping(stats.get("min_track_record_length"))
        need, have = to_float(trl.get("years")), to_float(mapping(stats.get("best")).get("years"))
    else:
        rs = extras.robust_statistics
        same = rs is not None and rs.trial == pick.trial
        dsr = rs.dsr if same and rs is not None else float("nan")
        need = rs.min_track_record_years if same and rs is not None else float("nan")
        have = rs.years if same and rs is not None else float("nan")
    oos = _holdout_of(run, pick.trial) or {}
    return [
        f"{pick.trial}",
        params_text(pick.params),
        " / ".join(number(v) for v in pick.values),
        number(pick.neighbour_mean),
        number(m.get("sharpe")),
        number(dsr),
        f"{number(need)} y needed / {number(have)} y of data" if need == need else "–",
        metric_value("max_drawdown", m.get("max_drawdown")),
        metric_value("cagr", m.get("cagr")),
        count(m.get("trades")),
        number(oos.get("sharpe")) if oos else _not_rerun(run),
    ]


def _not_rerun(run: StoredRun) -> str:
    holdout = run.section("holdout")
    if not holdout:
        return "no holdout"
    return f"not re-run (the top {count(holdout.get('top'))} were)"


_ROW_LABELS = (
    "trial",
    "params",
    "objective",
    "neighbourhood mean",
    "Sharpe (annualized)",
    "DSR",
    "MinTRL (95%) vs track length",
    "max drawdown",
    "CAGR",
    "trades",
    "holdout Sharpe",
)


def _study_rows(run: StoredRun) -> list[tuple[str, str]]:
    stats = run.section("statistics") or {}
    dsr = mapping(stats.get("dsr"))
    pbo = mapping(stats.get("pbo"))
    spa = mapping(stats.get("spa"))
    rows = [
        (
            "N trials (DSR)",
            f"{count(dsr.get('n_trials'))} run; "
            f"{number(dsr.get('n_trials_implied'))} independent implied (DSR then "
            f"{number(dsr.get('value_implied_trials'))})",
        ),
        (
            "PBO (CSCV)",
            f"{number(pbo.get('pbo'))} over {count(pbo.get('combinations'))} "
            f"combinations of {count(pbo.get('strategies'))} candidates",
        ),
        ("SPA p-value", f"{number(spa.get('pvalue_consistent'))} ({spa.get('test', 'SPA')})"),
    ]
    wf = mapping(mapping(run.walk_forward).get("efficiency"))
    if wf:
        rows.append(
            (
                "walk-forward efficiency",
                f"Sharpe {number(wf.get('sharpe'))}, return {number(wf.get('return'))}",
            )
        )
    return rows


def verdict_section(run: StoredRun, extras: Extras) -> Section:
    """1: best and robust side by side, with the study's overfitting statistics."""
    best, robust = best_and_robust(run)
    blocks: list[Any] = [_kpis(run, best)]
    if best is not None:
        left = _candidate_column(run, best, extras, True)
        right = _candidate_column(run, robust, extras, False)
        rows = tuple((label, a, b) for label, a, b in zip(_ROW_LABELS, left, right, strict=True))
        blocks.append(
            Table(
                ("", "best (rank 1)", "robust (best neighbourhood mean)"),
                rows,
                numeric=(False, True, True),
            )
        )
    blocks.append(Table(("study", ""), tuple(_study_rows(run))))
    stats = run.section("statistics") or {}
    if stats.get("verdict"):
        blocks.append(Note(str(stats["verdict"]), "info"))
    for note in _verdict_notes(run, best, robust):
        blocks.append(Note(note, "warn"))
    n = len(completed_trials(run))
    return Section(
        id="verdict",
        title="Verdict",
        how_to_read="The best candidate against the robust one (best average over its "
        "neighbours); DSR, PBO and SPA say whether the best beats what luck gives the best "
        "of this many trials.",
        sampling=f"best and robust of {count(n)} completed trials; statistics as stored",
        blocks=tuple(blocks),
    )


def _verdict_notes(run: StoredRun, best: Pick | None, robust: Pick | None) -> Sequence[str]:
    notes = []
    robustness = run.section("robustness") or {}
    if best is not None and robust is None and robustness:
        reason = "; ".join(map(str, robustness.get("notes") or [])) or "none chosen"
        notes.append(f"no robust candidate: {reason}")
    if robustness.get("robust_is_best"):
        notes.append("the best candidate also has the best neighbourhood mean of the top 10")
    lookahead = run.section("lookahead") or {}
    if lookahead.get("clean") is False:
        notes.append(
            f"look-ahead: {lookahead.get('leaks')} leak(s) found; run stratopt check-lookahead"
        )
    trl = mapping((run.section("statistics") or {}).get("min_track_record_length"))
    need, have = to_float(trl.get("observations")), to_float(trl.get("have_observations"))
    if need == need and have == have and need > have:
        notes.append(
            f"the data is shorter than the minimum track record length: {percent(have / need, 0)} "
            "of the observations needed for 95% confidence that the best's Sharpe is above 0"
        )
    return notes

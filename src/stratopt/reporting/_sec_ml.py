"""The sections of a two-stage run (`stratopt ml`, docs/ml.md): what was run, what
survived the holdout, and how good the stage-1 models' predictions were, fold by fold.

Every number is read from the run folder (summary.json, stage1_trials.csv,
holdout.csv); the stage-2 search itself is drawn by the optimization sections.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from stratopt.reporting._blocks import BEST, ROBUST, Kpi, Kpis, Note, Section, Table, figure, tone
from stratopt.reporting._format import (
    COST_KEYS,
    compact,
    count,
    mapping,
    metric_value,
    number,
    params_text,
    to_float,
)
from stratopt.reporting._inputs import MlRun, StoredRun
from stratopt.reporting._sec_history import best_so_far

__all__ = ["ml_manifest_section", "ml_stage1_section", "ml_verdict_section"]

SE_BARS = 2.0  # error bars of ICs: ± this many standard errors (about 95%)
_HOLDOUT_COLOUR = "#2a9d8f"


def _ml(run: StoredRun) -> MlRun:
    if run.ml is None:
        raise ValueError(f"{run.folder}: not a two-stage (ml) run")
    return run.ml


# ---- 0: the manifest -------------------------------------------------------------------


def _data_text(summary: Mapping[str, Any]) -> str:
    data = mapping(summary.get("data"))
    symbols = [str(s) for s in data.get("symbols") or []]
    shown = ", ".join(symbols[:6]) + (", ..." if len(symbols) > 6 else "")
    return (
        f"{len(symbols)} symbol(s) ({shown}), {count(data.get('bars'))} bars, "
        f"{data.get('start', '?')} → {data.get('end', '?')}; SHA-256 {data.get('sha256', '?')}"
    )


def _stage_rows(summary: Mapping[str, Any], config: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for stage in ("stage1", "stage2"):
        cfg = mapping(config.get(stage))
        if not cfg or stage not in summary:
            continue
        what = (
            f"objective {cfg.get('objective')}, {cfg.get('method')} (seed {cfg.get('seed')}), "
            f"target {count(cfg.get('trials'))} trials"
        )
        if stage == "stage2":
            what += (
                f"; from {cfg.get('from')}; rule {cfg.get('rule')} "
                f"({compact(mapping(cfg.get('params')))}); space {compact(cfg.get('space') or {})}"
            )
        rows.append((stage.replace("stage", "stage "), what))
    backtest = mapping(mapping(config.get("stage2")).get("backtest"))
    costs = [f"{k}={backtest[k]}" for k in COST_KEYS if backtest.get(k) is not None]
    if costs and "stage2" in summary:
        rows.append(("cost model", ", ".join(costs)))
    return rows


def _look_text(summary: Mapping[str, Any]) -> str:
    look = mapping(summary.get("lookahead"))
    if not look:
        return "not run"
    if look.get("clean"):
        return "clean" + (f" ({look['note']})" if look.get("note") else "")
    return f"LOOK-AHEAD in {', '.join(sorted(map(str, mapping(look.get('leaks')))))}"


def ml_manifest_section(run: StoredRun) -> Section:
    """0 for a two-stage run: data and its SHA-256, features, label, folds, both stages."""
    s = _ml(run).summary
    config = mapping(s.get("config"))
    folds, holdout, model = mapping(s.get("folds")), mapping(s.get("holdout")), config.get("model")
    rows: list[tuple[str, str]] = [
        ("study", str(s.get("study", run.name))),
        ("run", f"ml (two-stage) — {run.folder}"),
        ("data", _data_text(s)),
        ("features", compact(mapping(s.get("features")))),
        ("label", compact(mapping(config.get("label")))),
        ("IC", str(config.get("ic", "?"))),
        ("model", compact(mapping(model))),
        (
            "folds",
            f"{folds.get('scheme')}: {len(folds.get('boundaries') or [])} folds, purge "
            f"{folds.get('purge')} bars, embargo {folds.get('embargo')} bars",
        ),
        (
            "holdout",
            f"{count(holdout.get('bars'))} bars from {holdout.get('start')} (no stage sees them)",
        ),
    ]
    rows += _stage_rows(s, config)
    rows += [
        ("feature look-ahead check", _look_text(s)),
        ("LightGBM", str(s.get("lightgbm", "?"))),
        ("storage", str(s.get("storage", "?"))),
    ]
    return Section(
        id="manifest",
        title="Run manifest",
        how_to_read="What was run: the data (its SHA-256), the features and label, the purged "
        "folds, the holdout neither stage sees, and both stages' searches.",
        sampling="as recorded in the run folder's summary.json",
        blocks=(Table(("", ""), tuple(rows)),),
    )


# ---- 1: the verdict ----------------------------------------------------------------------


def _ic_kpis(summary: Mapping[str, Any]) -> list[Kpi]:
    models = mapping(summary.get("stage1")).get("models") or []
    if not models:
        return []
    model = mapping(models[0])
    dev, hold = mapping(model.get("development")), mapping(model.get("holdout"))
    out = []
    for label, part in (("stage-1 rank IC", dev), ("holdout rank IC", hold)):
        ic, se = to_float(part.get("rank_ic")), to_float(part.get("rank_ic_se"))
        if math.isnan(ic):
            continue
        t = ic / se if se > 0 else math.nan
        detail = f"± {number(se)} SE ({number(t)} SE from 0), model trial {model.get('trial')}"
        out.append(Kpi(label, number(ic), detail, tone(t, t >= 3, t < 2)))
    return out


def _stage2_kpis(summary: Mapping[str, Any]) -> list[Kpi]:
    best = mapping(mapping(summary.get("stage2")).get("best"))
    if not best:
        return []
    over = mapping(summary.get("overfitting"))
    dev, hold = to_float(best.get("development_sharpe")), to_float(best.get("holdout_sharpe"))
    dsr = mapping(over.get("dsr_development"))
    n2, n12 = to_float(dsr.get("n2")), to_float(dsr.get("n1xn2"))
    pbo = to_float(mapping(over.get("pbo")).get("value"))
    n1, ntwo = count(over.get("stage1_trials")), count(over.get("stage2_trials"))
    return [
        Kpi("development Sharpe", number(dev), f"stage-2 best, trial {best.get('trial')}"),
        Kpi(
            "holdout Sharpe",
            number(hold),
            f"degradation {number(best.get('degradation'))}",
            tone(hold, hold > 0 and hold >= 0.5 * dev, hold <= 0),
        ),
        Kpi("DSR", number(n2), f"N = {ntwo} stage-2 trials", tone(n2, n2 >= 0.95, n2 < 0.5)),
        Kpi(
            "DSR (conservative)",
            number(n12),
            f"N = {n1} × {ntwo} (every model tried)",
            tone(n12, n12 >= 0.95, n12 < 0.5),
        ),
        Kpi("PBO", number(pbo), "over the stage-2 candidates", tone(pbo, pbo < 0.2, pbo >= 0.5)),
    ]


_PICK_ROWS = (
    ("trial", "trial"),
    ("params", "params"),
    ("development Sharpe", "development_sharpe"),
    ("holdout Sharpe", "holdout_sharpe"),
    ("degradation (development − holdout)", "degradation"),
    ("holdout ÷ development", "holdout_over_development"),
    ("neighbourhood mean", "smoothed"),
)
_SPAN_METRICS = ("max_drawdown", "cagr", "trades")


def _pick_column(pick: Mapping[str, Any]) -> list[str]:
    if not pick:
        return ["–"] * (len(_PICK_ROWS) + len(_SPAN_METRICS))
    out = []
    for _, key in _PICK_ROWS:
        value = pick.get(key)
        if key == "params":
            out.append(params_text(mapping(value)))
        else:
            out.append(str(value) if key == "trial" else number(value))
    dev, hold = mapping(pick.get("development")), mapping(pick.get("holdout"))
    for metric in _SPAN_METRICS:
        out.append(
            f"{metric_value(metric, dev.get(metric))} / {metric_value(metric, hold.get(metric))}"
        )
    return out


def _picks_table(summary: Mapping[str, Any]) -> Table | None:
    stage2 = mapping(summary.get("stage2"))
    best, robust = mapping(stage2.get("best")), mapping(stage2.get("robust"))
    if not best:
        return None
    labels = [label for label, _ in _PICK_ROWS]
    labels += [f"{m.replace('_', ' ')} (development / holdout)" for m in _SPAN_METRICS]
    left, right = _pick_column(best), _pick_column(robust)
    rows = tuple((label, a, b) for label, a, b in zip(labels, left, right, strict=True))
    return Table(
        ("", "best (rank 1)", "robust (best neighbourhood mean)"), rows, numeric=(False, True, True)
    )


def _overfitting_table(summary: Mapping[str, Any]) -> Table | None:
    over = mapping(summary.get("overfitting"))
    if not over:
        return None
    dev, hold = mapping(over.get("dsr_development")), mapping(over.get("dsr_holdout"))
    pbo = mapping(over.get("pbo"))
    n1, n2 = count(over.get("stage1_trials")), count(over.get("stage2_trials"))
    rows = (
        (
            "DSR, development",
            f"{number(dev.get('n2'))} (N = {n2}); {number(dev.get('n1xn2'))} "
            f"(N = {n1} × {n2}); {count(dev.get('n_obs'))} observations",
        ),
        (
            "DSR, holdout",
            f"{number(hold.get('n2'))} (N = {n2}); {number(hold.get('n1xn2'))} "
            f"(N = {n1} × {n2}); {count(hold.get('n_obs'))} observations",
        ),
        (
            "PBO (CSCV)",
            f"{number(pbo.get('value'))} over {count(pbo.get('candidates'))} "
            f"stage-2 candidates, {count(pbo.get('partitions'))} partitions",
        ),
        ("variance of the trials' Sharpe", number(over.get("trials_sharpe_variance"))),
    )
    return Table(("statistic", ""), rows)


def _sharpe_figure(run: StoredRun) -> Any:
    """Development vs holdout Sharpe of the candidates re-run on the holdout."""
    ml = _ml(run)
    frame = ml.holdout
    if frame is None or frame.empty or "holdout_sharpe" not in frame:
        stage2 = mapping(ml.summary.get("stage2"))
        picks = [mapping(stage2.get(k)) for k in ("best", "robust")]
        frame = pd.DataFrame([p for p in picks if p])
    if frame.empty or "holdout_sharpe" not in frame:
        return None
    names = [f"{c} (trial {t})" for c, t in zip(frame["candidate"], frame["trial"], strict=True)]
    traces = [
        {
            "type": "bar",
            "x": names,
            "y": pd.to_numeric(frame[col], errors="coerce").tolist(),
            "name": label,
            "marker": {"color": colour},
            "hovertemplate": "%{x}<br>" + label + " Sharpe %{y:.3f}<extra></extra>",
        }
        for col, label, colour in (
            ("development_sharpe", "development", BEST),
            ("holdout_sharpe", "holdout", ROBUST),
        )
    ]
    layout = {"barmode": "group", "yaxis": {"title": {"text": "Sharpe (annualized)"}}}
    caption = "The holdout bars are what the rule earned on bars neither stage saw."
    return figure("fig-ml-sharpe", traces, layout, height=340, caption=caption)


def ml_verdict_section(run: StoredRun) -> Section:
    """1 for a two-stage run: the model's IC, what the rule kept on the holdout, DSR, PBO."""
    s = _ml(run).summary
    blocks: list[Any] = [Kpis(tuple(_ic_kpis(s) + _stage2_kpis(s)))]
    for block in (_picks_table(s), _sharpe_figure(run), _overfitting_table(s)):
        if block is not None:
            blocks.append(block)
    look = mapping(s.get("lookahead"))
    if look and not look.get("clean"):
        blocks.append(Note(f"feature look-ahead check: {_look_text(s)}", "warn"))
    if "stage2" not in s:
        blocks.append(Note("stage 1 only: no rule was searched and the holdout is untouched"))
    n = count(mapping(s.get("overfitting")).get("stage2_trials"))
    return Section(
        id="verdict",
        title="Verdict",
        how_to_read="Stage 1's rank IC with its standard error, then the stage-2 rule's "
        "Sharpe on development and on the holdout; DSR with N = stage-2 trials and with N = "
        "stage-1 × stage-2 trials (the conservative bound), and PBO over the stage-2 candidates.",
        sampling=f"best and robust of {n} stage-2 trials; every number as stored",
        blocks=tuple(blocks),
    )


# ---- stage 1 ------------------------------------------------------------------------------


def _fold_traces(models: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    traces = []
    for i, model in enumerate(models):
        folds = [mapping(f) for f in model.get("folds") or []]
        hold = mapping(model.get("holdout"))
        x = [f"fold {f.get('fold')}: {str(f.get('test_start'))[:10]}" for f in folds]
        y = [to_float(f.get("rank_ic")) for f in folds]
        se = [to_float(f.get("rank_ic_se")) for f in folds]
        if "rank_ic" in hold:
            x.append("holdout")
            y.append(to_float(hold.get("rank_ic")))
            se.append(to_float(hold.get("rank_ic_se")))
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": x,
                "y": y,
                "name": f"model trial {model.get('trial')}",
                "marker": {"size": 9, "color": BEST if i == 0 else _HOLDOUT_COLOUR},
                "error_y": {"type": "data", "array": [SE_BARS * v for v in se], "visible": True},
                "hovertemplate": "%{x}<br>rank IC %{y:.4f} ± %{error_y.array:.4f}<extra></extra>",
            }
        )
    return traces


def _stage1_history(run: StoredRun) -> Any:
    trials = _ml(run).stage1
    if trials.empty or "state" not in trials:
        return None
    done = trials[trials["state"] == "complete"].sort_values("trial")
    if done.empty:
        return None
    objective = str(mapping(mapping(_ml(run).summary.get("stage1"))).get("objective", "value"))
    values = pd.to_numeric(done["value"], errors="coerce").to_numpy(dtype=np.float64)
    se_col = f"metrics.{objective}_se"
    se = pd.to_numeric(done[se_col], errors="coerce").to_numpy() if se_col in done else None
    point: dict[str, Any] = {
        "type": "scatter",
        "mode": "markers",
        "x": done["trial"].to_numpy(),
        "y": values,
        "name": "model trial",
        "marker": {"size": 7, "color": BEST},
        "hovertemplate": "trial %{x}<br>" + objective + " %{y:.4f}<extra></extra>",
    }
    if se is not None:
        point["error_y"] = {"type": "data", "array": SE_BARS * se, "visible": True}
    record = {
        "type": "scatter",
        "mode": "lines",
        "x": done["trial"].to_numpy(),
        "y": best_so_far(values, "maximize"),
        "name": "best so far",
        "line": {"shape": "hv", "color": "#111827", "width": 2},
        "hoverinfo": "skip",
    }
    layout = {
        "xaxis": {"title": {"text": "stage-1 trial"}},
        "yaxis": {"title": {"text": objective}},
    }
    return figure("fig-ml-stage1", [point, record], layout, height=340)


def _models_table(models: Sequence[Mapping[str, Any]]) -> Table:
    rows = []
    for model in models:
        dev, hold = mapping(model.get("development")), mapping(model.get("holdout"))
        rows.append(
            (
                str(model.get("trial")),
                params_text(mapping(model.get("params"))),
                f"{number(dev.get('rank_ic'))} ± {number(dev.get('rank_ic_se'))}",
                f"{number(dev.get('ic'))} ± {number(dev.get('ic_se'))}",
                number(dev.get("rank_icir")),
                number(dev.get("worst_fold")),
                f"{number(hold.get('rank_ic'))} ± {number(hold.get('rank_ic_se'))}"
                if hold
                else "–",
            )
        )
    columns = (
        "model trial",
        "params",
        "rank IC ± SE",
        "IC ± SE",
        "rank ICIR",
        "worst fold rank IC",
        "holdout rank IC ± SE",
    )
    return Table(columns, tuple(rows), numeric=(True, False, True, True, True, True, True))


def _noise_notes(models: Sequence[Mapping[str, Any]]) -> list[Note]:
    notes = []
    for model in models:
        dev = mapping(model.get("development"))
        ic, se = to_float(dev.get("rank_ic")), to_float(dev.get("rank_ic_se"))
        if se > 0 and abs(ic) < 2 * se:
            notes.append(
                Note(
                    f"model trial {model.get('trial')}: its rank IC is within 2 standard errors "
                    "of 0; it is not told apart from noise",
                    "warn",
                )
            )
    return notes


def ml_stage1_section(run: StoredRun) -> Section | None:
    """Stage 1: each trial's out-of-fold IC, and the chosen models' ICs fold by fold."""
    ml = _ml(run)
    models = [mapping(m) for m in mapping(ml.summary.get("stage1")).get("models") or []]
    blocks: list[Any] = []
    history = _stage1_history(run)
    if history is not None:
        blocks.append(history)
    if models:
        layout = {
            "yaxis": {"title": {"text": "rank IC"}, "zeroline": True},
            "xaxis": {"type": "category"},
        }
        caption = f"Bars: ± {number(SE_BARS)} standard errors. The last point is the holdout."
        blocks.append(
            figure("fig-ml-folds", _fold_traces(models), layout, height=340, caption=caption)
        )
        blocks.append(_models_table(models))
        blocks += _noise_notes(models)
    if not blocks:
        return None
    done = int((ml.stage1["state"] == "complete").sum()) if "state" in ml.stage1 else 0
    return Section(
        id="ml-stage1",
        title="Stage 1: the model's information coefficient",
        how_to_read="Each model trial's out-of-fold IC (the stage-1 objective) with ± 2 SE "
        "bars, then the models stage 2 used, fold by fold and on the holdout: an IC less than "
        "2 SE from zero is noise.",
        sampling=f"every one of {count(done)} completed stage-1 trials; folds of "
        f"{len(models)} model(s)",
        blocks=tuple(blocks),
    )

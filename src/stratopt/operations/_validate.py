"""`stratopt validate`: validate a finished study without re-running its search.

From the study's stored trials: the holdout re-test (when the study has one), the
overfitting statistics, combinatorial purged cross-validation over the candidates'
returns, the stability of the best and the robust region, and Monte Carlo of the best
candidate's trades and returns. Only candidates are re-run (their returns, missing
neighbours), never the search.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from optuna.trial import TrialState

from stratopt.backtest import backtest
from stratopt.config import CpcvConfig, StudyConfig
from stratopt.data import Bars
from stratopt.errors import ConfigError
from stratopt.evaluation import (
    NO_CURVE,
    Candidate,
    External,
    StudyData,
    StudyEvaluator,
    candidate_returns,
)
from stratopt.grid import is_grid_strategy
from stratopt.operations._checks import assess_plan
from stratopt.operations._grid import grid_trades_and_returns
from stratopt.operations._prepared import PreparedStudy
from stratopt.operations._report import run_report
from stratopt.operations._rescore import rescore
from stratopt.operations._results import ValidationResult
from stratopt.operations._statistics import (
    MONTE_CARLO_SIMS,
    backtested,
    completed,
    distinct_params,
    study_statistics,
)
from stratopt.operations._summary import annualization_section
from stratopt.stats import bootstrap_returns, reshuffle_trades
from stratopt.storage import ATTR_SELECTION, new_run_dir, ranked_frame, write_json
from stratopt.validation import combinatorial_purged_cv, evaluate_holdout

__all__ = ["cpcv_pool", "validate_study"]

_log = logging.getLogger(__name__)

CPCV_CANDIDATES = 200  # distinct candidates whose returns CPCV chooses among


def validate_study(
    study: StudyConfig,
    *,
    storage: str | None = None,
    output: Path | None = None,
    seed: int | None = None,
    on_step: Callable[[str], None] | None = None,
    report: bool = False,
) -> ValidationResult:
    """Validate the stored trials of `study`; write `validation.json` to a new folder.

    Args:
        study: The study file the trials were searched with.
        storage: Optuna storage URL (default: `STRATOPT_STORAGE`, the study's, else
            SQLite in its output).
        output: Root of the folder (default: the study's output);
            the folder is `<output>/<name>/validate/<UTC stamp>/`.
        seed: Of the bootstraps (default: the study's search seed).
        on_step: Called with the name of each step as it starts (progress).
        report: Also write report.html into the folder (`ValidationResult.report_file`).

    Raises:
        ConfigError: the study does not exist in the storage, or has no completed trial.
    """
    step = on_step or (lambda _name: None)
    prepared = PreparedStudy.from_config(study, storage=storage)
    stored = prepared.stored()
    directions = prepared.plan.objective.directions
    ranked = rescore(ranked_frame(stored, directions), prepared.plan.objective)
    done = stored.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not done:
        raise ConfigError(f"name: study {study.name!r} has no completed trial to validate")
    seed = study.search.seed if seed is None else seed
    folder = new_run_dir(output or study.output_dir, f"{study.name}/validate")
    sections: dict[str, Any] = {}
    holdout = None
    if prepared.holdout is not None:
        step("holdout")
        params = {t.number: t.params for t in done}
        holdout = evaluate_holdout(prepared.holdout, ranked, params, top=study.validation.top,
                                   objective=prepared.plan.objective)  # fmt: skip
        holdout.frame.to_csv(folder / "holdout.csv", index=False)
        sections["holdout"] = holdout.summary
    evaluator = prepared.evaluator()
    try:
        sections.update(_sections(prepared, stored, ranked, evaluator, folder, seed, step))
    finally:
        evaluator.close()
    header = {
        "study": study.name,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "trials": {"completed": len(done), "total": len(stored.trials)},
        "seed": seed,
        **annualization_section(prepared.bars()),
    }
    write_json(folder / "validation.json", {**header, **sections})
    result = ValidationResult(study.name, folder, sections, holdout)
    if report:
        step("report")
        result = dataclasses.replace(result, report_file=run_report(folder, prepared))
    return result


def _sections(
    prepared: PreparedStudy,
    stored: Any,
    ranked: pd.DataFrame,
    evaluator: StudyEvaluator,
    folder: Path,
    seed: int,
    step: Callable[[str], None],
) -> dict[str, Any]:
    """Statistics, CPCV, stability and Monte Carlo, on the searched (in-sample) data."""
    plan, in_sample = prepared.plan, prepared.searched
    sections: dict[str, Any] = {}
    step("statistics")
    sections["statistics"] = study_statistics(
        ranked, directions=plan.objective.directions, study=in_sample, data=prepared.data,
        seed=seed, selection=stored.user_attrs.get(ATTR_SELECTION),
    )  # fmt: skip
    step("cross-validation")
    best_first = completed(ranked, plan.objective.directions)
    pool = cpcv_pool(backtested(ranked, plan.objective.directions), CPCV_CANDIDATES, seed)
    sections["cpcv"] = _guarded("cpcv", lambda: _cpcv(in_sample, pool, prepared.data, folder))
    step("stability")
    robustness = assess_plan(stored, plan, evaluator)
    robustness.write_csv(folder)
    sections["robustness"] = robustness.to_dict()
    step("monte carlo")
    best = distinct_params(best_first.head(1))[0][0]
    sections["monte_carlo"] = _guarded("monte_carlo", lambda: _monte_carlo(prepared, best, seed))
    return sections


def _guarded(name: str, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One section; a failure in it is recorded there and the others still run."""
    try:
        return work()
    except ValueError as exc:  # e.g. too few bars or trades for the method
        return {"available": False, "reason": str(exc)}
    except Exception as exc:  # a bug must not cost the other sections
        _log.exception("validation step %s failed", name)
        return {"available": False, "reason": f"{type(exc).__name__}: {exc}"}


def cpcv_pool(trials: pd.DataFrame, cap: int, seed: int) -> tuple[list[dict[str, Any]], str]:
    """The candidates CPCV chooses among, picked without looking at any result, and how.

    Ranking them on the full sample first (the best `cap`) would let the test groups of
    every split vote on who may be chosen: a candidate lucky only inside them would get
    in. So: every distinct candidate of `trials` (the backtested ones) up to `cap`, else
    a seeded random sample of `cap` of them; both in trial order.
    """
    params, _ = distinct_params(trials.sort_values("trial", kind="stable"))
    if len(params) <= cap:
        return params, f"all {len(params)} distinct backtested candidates"
    picked = np.sort(np.random.default_rng(seed).choice(len(params), size=cap, replace=False))
    how = f"a random sample (seed {seed}) of {cap} of {len(params)} distinct backtested candidates"
    return [params[int(i)] for i in picked], how


def _cpcv(
    study: StudyConfig,
    pool: tuple[list[dict[str, Any]], str],
    data: StudyData,
    folder: Path,
) -> dict[str, Any]:
    """CPCV over the per-bar returns of the `cpcv_pool` candidates (validation.cpcv)."""
    params, how = pool
    if len(params) < 2:
        return {"available": False, "reason": "fewer than 2 distinct backtested candidates"}
    got = candidate_returns(study, params, data=data)
    if len(got.positions) < 2:
        reasons = sorted(set(got.skipped.values()))
        return {"available": False, "reason": f"fewer than 2 candidates have returns: "
                f"{'; '.join(reasons) if reasons else 'none were run'}"}  # fmt: skip
    cfg = study.validation.cpcv or CpcvConfig()
    result = combinatorial_purged_cv(
        got.returns, groups=cfg.groups, test_groups=cfg.test_groups, purge=cfg.purge,
        embargo=cfg.embargo, metric=cfg.metric, periods_per_year=got.periods_per_year,
    )  # fmt: skip
    result.path_metrics.to_csv(folder / "cpcv_paths.csv", index=False)
    out = result.to_dict()
    out["candidates"] = len(got.positions)
    out["selection"] = how
    out["chosen_params"] = [params[got.positions[int(k)]] for k in result.chosen]
    return out


def _monte_carlo(prepared: PreparedStudy, best: dict[str, Any], seed: int) -> dict[str, Any]:
    """Trade-order reshuffling and a stationary bootstrap of the best candidate, per symbol."""
    if prepared.external is not None:
        return _external_monte_carlo(prepared.external, best, seed)
    assert prepared.strategy is not None
    cand = prepared.router.route(best)
    out: dict[str, Any] = {"params": best, "simulations": MONTE_CARLO_SIMS, "symbols": {}}
    for bars in prepared.data.get(cand.data):
        steps, compounding, returns = _best_run(prepared, bars, cand)
        part: dict[str, Any] = {}
        cash = float(cand.settings.cash)
        try:
            part["trade_shuffle"] = reshuffle_trades(
                steps, cash=cash, n_sims=MONTE_CARLO_SIMS, seed=seed, compounding=compounding
            ).to_dict()
        except ValueError as exc:
            part["trade_shuffle"] = {"available": False, "reason": str(exc)}
        part["bootstrap"] = bootstrap_returns(
            returns, cash=cash, n_sims=MONTE_CARLO_SIMS, seed=seed,
            periods_per_year=bars.periods_per_year,
        ).to_dict()  # fmt: skip
        out["symbols"][bars.symbol] = part
    return out


def _best_run(
    prepared: PreparedStudy, bars: Bars, cand: Candidate
) -> tuple[np.ndarray, bool, np.ndarray]:
    """The candidate's trade steps (`_trade_steps`), whether they compound, its returns."""
    strategy = prepared.own_strategy("the trade reshuffle")
    if is_grid_strategy(strategy):  # fixed lot sizes: net pnl per lot trade
        pnl, returns = grid_trades_and_returns(prepared.searched, strategy, bars, cand)
        return pnl, False, returns
    res = backtest(bars, strategy, cand.strategy_params, cand.settings)
    sim = res.sim
    sizing = cand.settings.sizing
    steps, compounding = _trade_steps(sim.trades, cand.settings.cash, sizing)
    return steps, compounding, sim.returns


def _external_monte_carlo(external: External, best: dict[str, Any], seed: int) -> dict[str, Any]:
    """The same two simulations on the best run of an external evaluator (its kept curve
    and trades, else it is run again): each trade's pnl over the equity before it opened
    is what a reshuffle compounds."""
    run = external.run(best, external.period(), reuse=True)
    part: dict[str, Any] = {}
    unavailable = {"available": False, "reason": ""}
    if run.trades is None or run.equity is None:
        part["trade_shuffle"] = {
            **unavailable,
            "reason": "the evaluator returns no trade list and equity curve",
        }
    else:
        marks = np.concatenate(([run.cash], run.equity))
        before = marks[
            np.searchsorted(run.time, run.trades["entry_time"].to_numpy(dtype="datetime64[ns]"))
        ]
        try:
            part["trade_shuffle"] = reshuffle_trades(
                run.trades["net_pnl"].to_numpy() / before, cash=run.cash, n_sims=MONTE_CARLO_SIMS,
                seed=seed, compounding=True,
            ).to_dict()  # fmt: skip
        except ValueError as exc:
            part["trade_shuffle"] = {**unavailable, "reason": str(exc)}
    returns = run.returns
    if returns is None:
        part["bootstrap"] = {**unavailable, "reason": NO_CURVE}
    else:
        ppy = float(external.data.get(())[0].periods_per_year)
        part["bootstrap"] = bootstrap_returns(
            returns, cash=run.cash, n_sims=MONTE_CARLO_SIMS, seed=seed, periods_per_year=ppy
        ).to_dict()
    symbols = ",".join(b.symbol for b in external.data.get(()))
    return {"params": best, "simulations": MONTE_CARLO_SIMS, "symbols": {symbols: part}}


def _trade_steps(trades: np.ndarray, cash: float, sizing: str) -> tuple[np.ndarray, bool]:
    """What a reshuffle replays: net pnl for fixed units, else each trade's equity return.

    Net pnl is `pnl - fees` (docs/engine.md: fees hold both fills' commissions and every
    holding cost), so the replayed path ends where the backtest did:
    `cash + sum(pnl - fees)`. With equity-proportional sizing (fraction, risk) a trade's
    pnl scales with the equity it was sized from; replaying those pnls in another order
    would apply early-trade sizes to late-trade equity. Its return on that equity is what
    a reordered history compounds. That equity is the realized one, `cash` plus the net
    pnl of every earlier trade: the equity marked at the close before the entry is not it
    when the previous trade exits on the entry bar (a reversal), since that close still
    holds the previous trade's open position. The returns then telescope:
    `prod(1 + ret) = final / cash`.
    """
    net = trades["pnl"].astype(float) - trades["fees"].astype(float)
    if sizing == "units":
        return net, False
    before = cash + np.concatenate(([0.0], np.cumsum(net)[:-1]))
    return net / before, True

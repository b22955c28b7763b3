"""`analyze_results`: every section of docs/analysis.md for one or more backtests."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stratopt.analysis._breakdown import breakdown_section
from stratopt.analysis._correlation import correlation_section
from stratopt.analysis._curve import Curve
from stratopt.analysis._distribution import distribution_section
from stratopt.analysis._drawdowns import drawdown_section
from stratopt.analysis._monte_carlo import monte_carlo_section
from stratopt.analysis._trades import trade_section
from stratopt.backtest import BacktestResult
from stratopt.data import GIVEN_RULE, MADE_RULE, infer_bar_interval
from stratopt.errors import ConfigError

__all__ = [
    "SECTIONS",
    "SUMMARY_METRICS",
    "Analysis",
    "AnalysisOptions",
    "analyze_results",
    "curve_of",
    "parse_sections",
]

SECTIONS = ("trades", "drawdowns", "distribution", "correlation", "monte_carlo", "breakdown")
SUMMARY_METRICS = (
    "total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown",
    "max_drawdown_duration", "trades", "exposure", "final_equity",
)  # fmt: skip


def parse_sections(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """The sections asked for, in the canonical order; None or "all" means every one.

    Raises:
        ConfigError: an unknown section, named with a suggestion.
    """
    if text is None:
        return SECTIONS
    items = [s.strip() for s in text.split(",")] if isinstance(text, str) else list(text)
    items = [s for s in items if s]
    if not items or items == ["all"]:
        return SECTIONS
    for item in items:
        if item not in SECTIONS:
            hint = difflib.get_close_matches(item, SECTIONS, n=1)
            more = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ConfigError(
                f"--sections: unknown section {item!r}{more} (choose from {', '.join(SECTIONS)})"
            )
    return tuple(s for s in SECTIONS if s in items)


@dataclass(frozen=True)
class AnalysisOptions:
    """What to compute: sections, drawdown table rows, Monte Carlo paths and seed."""

    sections: tuple[str, ...] = SECTIONS
    top_drawdowns: int = 5
    n_sims: int = 1000
    seed: int = 0


@dataclass(frozen=True, eq=False)
class Analysis:
    """The sections of each candidate, and the correlation across them.

    Attributes:
        sections: The sections computed.
        candidates: Per candidate (input order): its label, `summary`, `annualization`
            and one entry per per-candidate section.
        correlation: The `correlation` section, or None when not asked for.
        options: As given.
    """

    sections: tuple[str, ...]
    candidates: list[dict[str, Any]]
    correlation: dict[str, Any] | None
    options: AnalysisOptions = field(default_factory=AnalysisOptions)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sections": list(self.sections),
            "monte_carlo": {"paths": self.options.n_sims, "seed": self.options.seed},
            "candidates": self.candidates,
        }
        if self.correlation is not None:
            out["correlation"] = self.correlation
        return out


def curve_of(result: BacktestResult, label: str) -> Curve:
    """The analysis view of one full backtest."""
    return Curve(
        label=label,
        time=result.bars.time,
        equity=np.asarray(result.sim.equity, dtype=np.float64),
        cash=float(result.settings.cash),
        periods_per_year=float(result.bars.periods_per_year),
        trades=result.trades,
        metrics=result.metrics,
        exposure=np.asarray(result.sim.exposure, dtype=np.float64),
    )


def _annualization(result: BacktestResult) -> dict[str, Any]:
    bars = result.bars
    # The rule the bars carry says how `periods_per_year` was chosen; inferring it again
    # here would call a figure the user set "inferred" whenever the two happen to agree.
    source = {GIVEN_RULE: "set in the study", MADE_RULE: "set when the bars were made"}
    return {
        "periods_per_year": float(bars.periods_per_year),
        "source": source.get(bars.annualization_rule, "inferred from the bars"),
        "basis": bars.annualization_rule,
        "bar_interval": str(infer_bar_interval(bars.time)) if len(bars) >= 2 else None,
        "rule": "volatility, Sharpe and Sortino x sqrt(periods_per_year); CAGR over n / P years",
    }


def _summary(curve: Curve) -> dict[str, Any]:
    out: dict[str, Any] = {k: curve.metrics[k] for k in SUMMARY_METRICS}
    out["bars"] = len(curve)
    out["start"] = str(curve.index[0]) if len(curve) else None
    out["end"] = str(curve.index[-1]) if len(curve) else None
    return out


def _per_candidate(opts: AnalysisOptions) -> dict[str, Callable[[Curve], dict[str, Any]]]:
    return {
        "trades": trade_section,
        "drawdowns": lambda c: drawdown_section(c, top=opts.top_drawdowns),
        "distribution": distribution_section,
        "monte_carlo": lambda c: monte_carlo_section(c, n_sims=opts.n_sims, seed=opts.seed),
        "breakdown": breakdown_section,
    }


def analyze_results(
    results: Sequence[BacktestResult],
    *,
    labels: Sequence[str] | None = None,
    options: AnalysisOptions | None = None,
) -> Analysis:
    """Every asked-for section of docs/analysis.md for one or more full backtests.

    Args:
        results: Full backtests (`stratopt.backtest.backtest`), one per candidate.
        labels: Their names in the output (default `candidate 1`, `candidate 2`, ...);
            must be distinct.
        options: Sections, drawdown rows, Monte Carlo paths and seed.

    Raises:
        ValueError: no result, or labels that are not one distinct name per result.
    """
    opts = options or AnalysisOptions()
    if not results:
        raise ValueError("analyze_results needs at least one backtest")
    names = (
        list(labels) if labels is not None else [f"candidate {i + 1}" for i in range(len(results))]
    )
    if len(names) != len(results) or len(set(names)) != len(names):
        raise ValueError(f"labels must be {len(results)} distinct names, got {names!r}")
    curves = [curve_of(r, name) for r, name in zip(results, names, strict=True)]
    sections = _per_candidate(opts)
    candidates = []
    for result, curve in zip(results, curves, strict=True):
        entry: dict[str, Any] = {
            "label": curve.label,
            "strategy": result.strategy,
            "params": result.params,
            "symbol": result.bars.symbol,
            "annualization": _annualization(result),
            "summary": _summary(curve),
        }
        for name in opts.sections:
            if name in sections:
                entry[name] = sections[name](curve)
        candidates.append(entry)
    corr = correlation_section(curves) if "correlation" in opts.sections else None
    return Analysis(sections=opts.sections, candidates=candidates, correlation=corr, options=opts)

"""analyze states how `periods_per_year` was chosen from the rule the bars carry."""

from __future__ import annotations

import pytest

from stratopt.analysis import analyze_results
from stratopt.backtest import backtest
from stratopt.data import Bars, synthetic_bars


def annualization_of(bars: Bars) -> dict[str, object]:
    res = backtest(bars, "sma_cross", {"fast": 5, "slow": 20})
    out: dict[str, object] = analyze_results([res]).to_dict()["candidates"][0]["annualization"]
    return out


def test_inferred_bars_say_so_and_name_their_rule() -> None:
    bars = synthetic_bars(n=300, seed=3)
    a = annualization_of(bars)
    assert a["source"] == "inferred from the bars"
    assert a["basis"] == bars.annualization_rule
    assert a["periods_per_year"] == bars.periods_per_year


def test_a_figure_the_study_set_is_not_called_inferred_when_it_agrees() -> None:
    inferred = synthetic_bars(n=300, seed=3).periods_per_year
    bars = synthetic_bars(n=300, seed=3, periods_per_year=inferred)
    a = annualization_of(bars)
    assert a["periods_per_year"] == inferred
    assert a["source"] == "set in the study"
    assert a["basis"] == "given (periods_per_year), not inferred"


@pytest.mark.parametrize("ppy", [252.0, 365.0])
def test_bars_made_in_code_say_where_their_figure_came_from(ppy: float) -> None:
    frame = synthetic_bars(n=300, seed=3).to_frame()
    a = annualization_of(Bars.from_frame(frame, periods_per_year=ppy))
    assert a["source"] == "set when the bars were made"
    assert a["periods_per_year"] == ppy

from __future__ import annotations

from typing import Any

import pytest

from stratopt.strategies import BoolParam, ChoiceParam, FloatParam, IntParam, Strategy, _resolve
from stratopt.strategies._resolve import resolve_all


class Mixed(Strategy):
    name = "mixed"
    n = IntParam(5, low=1, high=50)
    x = FloatParam(0.5, low=0.0)
    side = ChoiceParam("a", ("a", "b"))
    flag = BoolParam(False)

    def validate(self, p: dict[str, Any]) -> None:
        if p["n"] == 13:
            raise ValueError("unlucky n")
        if p["n"] == 14:
            raise KeyError("a bug of the strategy")


def _as_resolve(strat: Strategy, cand: Any) -> Any:
    try:
        return strat.resolve(cand)
    except Exception as exc:
        return (type(exc), str(exc))


def test_columns_resolve_as_resolve_does_value_for_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every candidate gets what `resolve` gives it, value and type: plain columns,
    columns that need converting or fail (a float for an int, out of bounds, NaN, a
    bool for a number, an unknown choice or name), defaults, `validate` refusing."""
    monkeypatch.setattr(_resolve, "_COLUMNS_FROM", 1)  # columns for these small lists too
    strat = Mixed()
    cases: list[list[dict[str, Any]]] = [
        [{"n": n, "x": x} for n in (1, 7, 50) for x in (0, 2.5)],
        [{"n": 3.0, "x": 1}, {"n": 4, "x": 1}],
        [{"n": 51}, {"n": 2}],
        [{"x": float("nan")}, {"x": 1.0}],
        [{"n": True}, {"n": 2}],
        [{"side": "b", "flag": True}, {"side": "c"}, {"flag": 1}],
        [{"n": 2, "nn": 3}, {"n": 13}, {}, {"n": 4}],
        # every parameter, in order (each dict copied), with ints for the float, reordered
        [{"n": n, "x": 1.5, "side": "b", "flag": True} for n in (2, 13, 14)],
        [
            {"n": 2, "x": 1, "side": "b", "flag": True},
            {"n": 3, "x": 1.5, "side": "a", "flag": False},
        ],
        [
            {"x": 1.5, "n": 2, "side": "b", "flag": True},
            {"n": 3, "x": 2.5, "side": "a", "flag": False},
        ],
    ]
    for cands in cases:
        got = resolve_all(strat, cands)
        for cand, g in zip(cands, got, strict=True):
            want = _as_resolve(strat, cand)
            if isinstance(g, Exception):
                assert (type(g), str(g)) == want, cand
            else:
                assert g == want and list(g) == list(want) and g is not cand, cand
                assert [type(v) for v in g.values()] == [type(v) for v in want.values()], cand

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from stratopt.errors import StrategyError
from stratopt.strategies import SmaCross, Strategy, get_strategy

USER_STRATEGY = """
import numpy as np
from stratopt.strategies import IntParam, Strategy


class Momentum(Strategy):
    name = "momentum"
    lookback = IntParam(10, low=1)

    def signals(self, bars, p, cache):
        c = bars.close
        out = np.zeros(len(c), dtype=np.int8)
        k = p["lookback"]
        out[k:] = np.where(c[k:] > c[:-k], 1, -1)
        return out
"""


def test_builtin_by_name() -> None:
    assert isinstance(get_strategy("sma_cross"), SmaCross)


def test_unknown_builtin_suggests() -> None:
    with pytest.raises(StrategyError, match="did you mean 'sma_cross'"):
        get_strategy("sma_cros")


def test_user_strategy_from_file(tmp_path: Path) -> None:
    (tmp_path / "mom.py").write_text(USER_STRATEGY)
    strat = get_strategy("mom.py:Momentum", base_dir=tmp_path)
    assert strat.name == "momentum" and not strat.uses_rules
    assert strat.resolve({}) == {"lookback": 10}


def test_user_strategy_from_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "userpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "strat.py").write_text(USER_STRATEGY)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        strat = get_strategy("userpkg.strat:Momentum")
        assert strat.name == "momentum"
    finally:
        for mod in ("userpkg", "userpkg.strat"):
            sys.modules.pop(mod, None)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("missing.py:X", "strategy file not found"),
        ("no_such_module_xyz:X", "cannot be imported"),
        ("mom.py:Nope", "has no attribute 'Nope'"),
        ("mom.py:np", "not a subclass of stratopt.Strategy"),
        ("broken.py:X", "failed to load"),
    ],
)
def test_bad_references(tmp_path: Path, spec: str, fragment: str) -> None:
    (tmp_path / "mom.py").write_text(USER_STRATEGY)
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(StrategyError, match=fragment):
        get_strategy(spec, base_dir=tmp_path)


def test_parameters_are_collected_and_inherited() -> None:
    class Child(SmaCross):
        name = "child"

    assert list(Child.parameters) == ["fast", "slow", "mode"]
    assert isinstance(get_strategy(Child), Strategy)

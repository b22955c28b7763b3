"""`compute_metrics`, the Python wrapper: same numbers as the kernels, checked inputs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from stratopt.metrics import METRIC_IDS, compute_metrics

from .helpers import assert_metrics_match, random_equity, random_trades
from .reference import reference_metrics


def _case(seed: int = 0, n: int = 3000) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    pnl, ret, bars, ror = random_trades(rng, 40)
    return {
        "equity": random_equity(rng, n, 1e4),
        "cash": 1e4,
        "trades_net_pnl": pnl,
        "trades_ret": ret,
        "trades_bars": bars.astype(np.int64),
        "trades_ret_on_risk": ror,
        "exposure_bars": n // 3,
        "periods_per_year": 365.0,
    }


@pytest.mark.parametrize("seed", range(3))
def test_matches_oracle(seed: int) -> None:
    kw = _case(seed)
    got = compute_metrics(kw.pop("equity"), **kw)  # type: ignore[arg-type]
    kw = _case(seed)
    want = reference_metrics(
        kw["equity"], cash=1e4, pnl=kw["trades_net_pnl"], ret=kw["trades_ret"],  # type: ignore[arg-type]
        bars=kw["trades_bars"], ror=kw["trades_ret_on_risk"], exposure_bars=1000,  # type: ignore[arg-type]
        ppy=365.0,
    )  # fmt: skip
    assert_metrics_match(got, want)
    assert list(got) == list(METRIC_IDS)
    assert all(type(v) is float for v in got.values())


def test_accepts_lists_series_and_strided_arrays() -> None:
    eq = np.linspace(100.0, 120.0, 40)
    base = compute_metrics(eq, cash=100.0, trades_net_pnl=[], trades_ret=[], trades_bars=[])
    wide = np.stack([eq, eq]).T  # a non-contiguous column
    for variant in (list(eq), pd.Series(eq), wide[:, 0]):
        got = compute_metrics(variant, cash=100, trades_net_pnl=[], trades_ret=[], trades_bars=[])
        assert got == base


def test_ret_on_risk_defaults_to_ret() -> None:
    kw = {"cash": 100.0, "trades_net_pnl": [5.0, -1.0], "trades_ret": [0.05, -0.01]}
    got = compute_metrics([101.0, 104.0], trades_bars=[1, 1], **kw)  # type: ignore[arg-type]
    assert got["return_on_risk"] == pytest.approx(0.02)
    got = compute_metrics(
        [101.0, 104.0],
        trades_bars=[1, 1],
        trades_ret_on_risk=[0.5, np.nan],
        **kw,  # type: ignore[arg-type]
    )
    assert got["return_on_risk"] == 0.5


def test_empty_equity_is_defined() -> None:
    got = compute_metrics([], cash=50.0, trades_net_pnl=[], trades_ret=[], trades_bars=[])
    assert got["final_equity"] == 50.0
    assert not any(math.isnan(v) for v in got.values())


BASE = {"cash": 100.0, "trades_net_pnl": [1.0], "trades_ret": [0.01], "trades_bars": [2]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"equity": [[100.0, 101.0]]}, r"`equity` must be one-dimensional"),
        ({"equity": [100.0, np.nan]}, r"`equity` must be finite, but equity\[1\]=nan"),
        ({"equity": [100.0, np.inf]}, r"`equity` must be finite"),
        ({"equity": ["a", "b"]}, r"`equity` must be a 1-D array of numbers"),
        ({"cash": 0.0}, r"`cash` must be a finite number > 0, but got cash=0.0"),
        ({"cash": -5}, r"`cash` must be a finite number > 0"),
        ({"cash": np.nan}, r"`cash` must be a finite number > 0"),
        ({"cash": True}, r"`cash` must be a finite number > 0"),
        ({"cash": "100"}, r"`cash` must be a finite number > 0"),
        ({"periods_per_year": 0}, r"`periods_per_year` must be a finite number > 0"),
        ({"trades_ret": [0.01, 0.02]}, r"length of `trades_net_pnl` \(1\), but got 2"),
        ({"trades_bars": []}, r"`trades_bars` must have the length"),
        ({"trades_ret_on_risk": [1.0, 2.0]}, r"`trades_ret_on_risk` must have the length"),
        ({"trades_ret_on_risk": [np.inf]}, r"`trades_ret_on_risk` must be finite or NaN"),
        ({"trades_net_pnl": [np.nan]}, r"`trades_net_pnl` must be finite"),
        ({"trades_bars": [-1]}, r"`trades_bars` must be >= 0, but trades_bars\[0\]=-1.0"),
        ({"exposure_bars": 3}, r"`exposure_bars` must be an integer in \[0, len\(equity\)=2\]"),
        ({"exposure_bars": -1}, r"`exposure_bars` must be an integer"),
        ({"exposure_bars": 1.0}, r"`exposure_bars` must be an integer"),
        ({"exposure_bars": True}, r"`exposure_bars` must be an integer"),
    ],
)  # fmt: skip
def test_rejects_bad_input(change: dict[str, object], message: str) -> None:
    kw: dict[str, object] = {"equity": [100.0, 101.0], **BASE, **change}
    with pytest.raises(ValueError, match=message):
        compute_metrics(kw.pop("equity"), **kw)  # type: ignore[arg-type]


def test_numpy_scalars_are_accepted() -> None:
    got = compute_metrics(
        np.array([100.0, 101.0]), cash=np.float32(100.0), exposure_bars=np.int64(2),
        periods_per_year=np.float64(12.0), trades_net_pnl=[], trades_ret=[], trades_bars=[],
    )  # fmt: skip
    assert got["exposure"] == 1.0

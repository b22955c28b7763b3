"""Features: the built-in set is causal; the look-ahead check names the features that are not."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from stratopt.errors import ConfigError
from stratopt.ml import (
    FeatureSpec,
    PanelSpec,
    check_feature_lookahead,
    compute_features,
    synthetic_panel,
)
from stratopt.ml._features import load_feature_function


@pytest.fixture(scope="module")
def panel() -> Any:
    return synthetic_panel(PanelSpec(assets=3, bars=400, features=5, seed=1))


def planted(frames: Mapping[str, pd.DataFrame]) -> dict[str, Any]:
    close = frames["close"]
    return {
        "centred_mean": close.rolling(9, center=True).mean() / close,
        "next_close": close.shift(-1) / close,
        "past_mean": close.rolling(9).mean() / close,  # causal: must pass
    }


def test_the_check_flags_planted_leaks_by_name(panel: Any) -> None:
    spec = FeatureSpec(set="none", function=planted, function_name="planted")
    report = check_feature_lookahead(panel, spec)
    assert set(report.leaks) == {"centred_mean", "next_close"}
    assert not report.clean
    assert report.to_dict()["leaks"]["next_close"]["first_bar"] >= 0


@pytest.mark.parametrize("volume", [True, False])
def test_every_builtin_feature_is_causal(panel: Any, volume: bool) -> None:
    data = panel if volume else dataclasses.replace(panel, volume=np.zeros_like(panel.volume))
    spec = FeatureSpec(set="alpha158", windows=(5, 10, 20, 30, 60))
    report = check_feature_lookahead(data, spec, points=6)
    assert report.clean, report.leaks
    names = compute_features(data, spec).names
    assert len(report.checked) == len(names)
    assert any(n.startswith("VMA") for n in names) == volume  # no volume, no volume features
    assert {"KMID", "ROC5", "STD60", "RSV20", "IMAX30", "SUMP10"} <= set(names)


def test_imax_is_the_position_of_the_trailing_high(panel: Any) -> None:
    spec = FeatureSpec(set="alpha158", windows=(5,))
    feats = compute_features(panel, spec)
    k = feats.names.index("IMAX5")
    high = panel.high[:, 0]
    assert feats.values[10, 0, k] == pytest.approx(np.argmax(high[6:11]) / 5)
    assert np.isnan(feats.values[3, 0, k])


def test_a_user_function_from_a_file(tmp_path: Path, panel: Any) -> None:
    (tmp_path / "feats.py").write_text(
        "def momentum(frames):\n    c = frames['close']\n    return {'MOM3': c / c.shift(3)}\n"
    )
    fn = load_feature_function("feats.py:momentum", tmp_path)
    feats = compute_features(panel, FeatureSpec(set="none", function=fn, function_name="m"))
    assert feats.names == ("MOM3",)
    with pytest.raises(ConfigError, match=r"features\.function: .feats\.py. has no function .x."):
        load_feature_function("feats.py:x", tmp_path)

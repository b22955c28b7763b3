"""A study file's grid section: detail and funding files, refused settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stratopt.config import parse_study
from stratopt.data import synthetic_bars
from stratopt.errors import ConfigError
from stratopt.grid import backtest_grid_study, check_grid_study, grid_setup


def _write_bars(path: Path, bars: object) -> Path:
    frame = bars.to_frame().reset_index()  # type: ignore[attr-defined]
    frame.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
    return path


def _study(tmp_path: Path, **grid: object) -> object:
    raw = {
        "name": "g",
        "data": {"path": "hours.csv", "start": "2000-01-03T02:00:00"},
        "strategy": "hedge_grid",
        "params": {"grid_step_bps": 20.0, "mode": "neutral", "base_qty": 1.0},
        "grid": grid,
    }
    return parse_study(raw, source="g.yaml", base_dir=tmp_path)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    minutes = synthetic_bars(2_000, seed=4, interval="1min", volatility=6e-4)
    _write_bars(tmp_path / "minutes.csv", minutes)
    hours = (
        minutes.to_frame()
        .resample("1h")
        .agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
    )
    hours.reset_index().to_csv(tmp_path / "hours.csv", index=False,
                               date_format="%Y-%m-%dT%H:%M:%SZ")  # fmt: skip
    t = minutes.time[::480][1:]
    rates = np.array([0.0001, -0.0002, 0.0003, 0.0001])[: len(t)]
    lines = ["timestamp,rate"] + [
        f"{np.datetime_as_string(x, unit='ms')}Z,{r}" for x, r in zip(t, rates, strict=True)
    ]
    (tmp_path / "funding.csv").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_detail_and_funding_files(files: Path) -> None:
    study = _study(files, path="detail", detail="minutes.csv",
                   funding={"file": "funding.csv", "mark": "hours.csv"})  # fmt: skip
    (res,) = backtest_grid_study(study)  # type: ignore[arg-type]
    setup = res.setup
    assert setup.detail is not None and setup.funding is not None
    # the detail file is cut to the study's range like the bars
    assert setup.detail.time[0] == np.datetime64("2000-01-03T02:00", "ns")
    assert res.grid_summary()["path"] == "detail"
    assert res.sim.round_trips > 0 and res.sim.stats["funding"] != 0.0


def test_a_detail_timeframe_of_the_same_file(files: Path) -> None:
    raw = _study(files)
    study = raw.model_copy(update={"data": raw.data.model_copy(update={  # type: ignore[attr-defined]
        "path": "minutes.csv", "timeframe": "1h"})})  # fmt: skip
    study = study.model_copy(update={"grid": study.grid.model_copy(update={
        "path": "detail", "detail": "5m"})})  # fmt: skip
    (res,) = backtest_grid_study(study)
    assert res.setup.detail is not None
    assert len(res.setup.detail) == (2_000 - 120) // 5  # 5m bars from 02:00 on


def test_settings_of_the_single_position_engine_are_refused(files: Path) -> None:
    study = _study(files)
    bad = study.model_copy(update={"backtest": study.backtest.model_copy(  # type: ignore[attr-defined]
        update={"trailing_stop": 0.02})})  # fmt: skip
    with pytest.raises(ConfigError, match=r"backtest\.trailing_stop: does not apply"):
        check_grid_study(bad)
    bad = study.model_copy(update={"aggregate": "portfolio"})  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="aggregate"):
        check_grid_study(bad)


def test_a_detail_file_serves_one_data_file(files: Path) -> None:
    study = _study(files, path="detail", detail="minutes.csv")
    two = study.model_copy(update={"data": study.data.model_copy(  # type: ignore[attr-defined]
        update={"path": ["hours.csv", "hours.csv"]})})  # fmt: skip
    with pytest.raises(ConfigError, match=r"grid\.detail: a detail file"):
        grid_setup(two, synthetic_bars(10, seed=1))

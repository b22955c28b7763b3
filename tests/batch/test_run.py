"""The batch core on real data: one row per cell equal to a single backtest, error rows,
chunk sizes that change nothing, bad timeframes refused, Kendall's W as defined."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stratopt.backtest import backtest
from stratopt.batch import (
    BatchOptions,
    Job,
    LocalExecutor,
    expand_symbols,
    kendalls_w,
    load_series,
    run_batch,
)
from stratopt.data import load_bars
from stratopt.engine import ExecSettings
from stratopt.errors import ConfigError
from stratopt.metrics import METRIC_IDS

HERE = Path(__file__).resolve().parent
SETTINGS = ExecSettings(commission=0.001, slippage_bps=2)
PARAMS = (
    {"fast": 5, "slow": 20},
    {"fast": 10, "slow": 40, "mode": "reversal"},
    {"fast": 40, "slow": 10},
)


def _files(shared: Path) -> list[str]:
    return [str(shared / f) for f in ("GOOG_1d.csv.gz", "SPY_1h.csv.gz")]


def test_each_row_equals_a_single_backtest_and_bad_cells_are_rows(shared_data: Path) -> None:
    series = load_series(_files(shared_data), ["1d", "1w"])
    job = Job("sma_cross", PARAMS, (SETTINGS,) * len(PARAMS))
    table = run_batch(series, job, BatchOptions(metric="sharpe"))
    frame = table.frame
    assert len(frame) == 2 * 2 * 3
    assert list(frame["symbol"] + "/" + frame["timeframe"])[::3] == [
        "GOOG/1d", "GOOG/1w", "SPY/1d", "SPY/1w",
    ]  # fmt: skip
    for _, row in frame.iterrows():
        if row["set"] == 2:  # fast > slow: the strategy refuses it, the cell says why
            assert "slow" in row["error"] and math.isnan(row["sharpe"])
            continue
        path = next(f for f in _files(shared_data) if Path(f).name.startswith(row["symbol"]))
        bars = load_bars(path, timeframe=row["timeframe"])
        one = backtest(bars, "sma_cross", PARAMS[row["set"]], SETTINGS)
        assert row["error"] == ""
        for m in METRIC_IDS:
            assert row[m] == pytest.approx(one.metrics[m], rel=1e-12, abs=1e-15), m
    assert table.sets[2]["errors"] == 4 and table.sets[2]["fraction_profitable"] == 0.0
    # the matrix is the same numbers, rows SYMBOL/TF and columns the parameter sets
    matrix = table.matrices["sharpe"]
    assert matrix.shape == (4, 3)
    assert matrix.iloc[3, 1] == frame.loc[10, "sharpe"]


def test_chunk_sizes_and_process_workers_change_nothing(shared_data: Path) -> None:
    series = load_series(_files(shared_data)[:1], ["1d", "1w"])
    params = tuple({"every": e} for e in (5, 13, 20, 40))
    job = Job(f"{HERE / 'slow_flip.py'}:SlowFlip", params, (SETTINGS,) * 4)
    one = run_batch(series, job, BatchOptions(executor=LocalExecutor(processes=1)))
    assert one.frame.loc[one.frame["set"] == 1, "error"].str.contains("unlucky 13").all()
    for chunk, procs in ((1, 2), (3, 1)):
        other = run_batch(
            series, job, BatchOptions(executor=LocalExecutor(processes=procs), chunk_size=chunk)
        )
        pd.testing.assert_frame_equal(one.frame, other.frame)


def test_a_bad_file_is_error_rows_and_a_finer_timeframe_is_refused(
    shared_data: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "BAD_1d.csv.gz"
    with gzip.open(bad, "wt") as f:
        f.write("timestamp,open,high,low,close\n2020-01-01,1,2,0.5,1\n2020-01-02,1,0.1,0.5,1\n")
    files = [str(bad), *_files(shared_data)[:1]]
    series = load_series(files, ["1d"])
    assert series[0].bars is None and "high" in (series[0].error or "")
    job = Job("sma_cross", PARAMS[:2], (SETTINGS,) * 2)
    frame = run_batch(series, job).frame
    assert (frame["error"] != "").tolist() == [True, True, False, False]
    with pytest.raises(ConfigError, match=r"--timeframes: '1h' is finer than the 1d bars"):
        load_series(files, ["1h"])
    with pytest.raises(ConfigError, match=r"--symbols: .*matches no file"):
        expand_symbols([str(tmp_path / "NOPE_*.csv")])
    assert expand_symbols([str(shared_data / "*BTC_5m.csv.gz")])[0].endswith("ADABTC_5m.csv.gz")


def test_kendalls_w_as_defined() -> None:
    agree = np.array([[3.0, 2.0, 1.0], [30.0, 20.0, 10.0], [0.3, 0.2, 0.1]])
    assert kendalls_w(agree)["w"] == pytest.approx(1.0)
    opposed = np.array([[1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0]])
    assert kendalls_w(opposed)["w"] == pytest.approx(0.0)
    # ties: W = 12 S / (m^2 (n^3 - n) - m T), worked by hand: ranks (1.5, 1.5, 3), (1, 2, 3)
    tied = np.array([[5.0, 5.0, 1.0], [9.0, 8.0, 7.0]])
    s = (2.5 - 4) ** 2 + (3.5 - 4) ** 2 + (6 - 4) ** 2
    assert kendalls_w(tied)["w"] == pytest.approx(12 * s / (4 * 24 - 2 * 6))
    # lower is better reverses the ranks; a row with NaN is left out
    res = kendalls_w(np.vstack([agree, [np.nan, 1, 2]]), higher_is_better=False)
    assert res["series"] == 3 and res["ranks"] == [3.0, 2.0, 1.0]

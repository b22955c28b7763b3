"""Funding-rate files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stratopt.data import load_funding_rates
from stratopt.errors import DataError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "funding.csv"
    path.write_text(text)
    return path


def test_millisecond_timestamps_and_negative_rates(tmp_path: Path) -> None:
    path = write(tmp_path, "timestamp,rate\n2021-11-18T00:00:00.017Z,0.0001\n"
                 "2021-11-18T08:00:00.007Z,-0.00219334\n")  # fmt: skip
    f = load_funding_rates(path)
    want = np.array(["2021-11-18T00:00:00.017", "2021-11-18T08:00:00.007"], "datetime64[ns]")
    assert (f.time == want).all()
    assert f.rate.tolist() == [0.0001, -0.00219334]


def test_epoch_milliseconds(tmp_path: Path) -> None:
    f = load_funding_rates(write(tmp_path, "Timestamp,Rate\n1637193600017,0.0001\n"))
    assert f.time[0] == np.datetime64("2021-11-18T00:00:00.017", "ns")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("time,rate\n2021-01-01,0.1\n", "missing column"),
        ("timestamp,rate\n", "no funding rows"),
        ("timestamp,rate\nyesterday,0.1\n", "row 1: cannot parse timestamp 'yesterday'"),
        ("timestamp,rate\n2021-01-01,abc\n", "row 1: rate 'abc' is not a finite number"),
        ("timestamp,rate\n2021-01-02,0.1\n2021-01-01,0.1\n", "row 2: timestamp .* not after"),
    ],
)
def test_bad_files_name_the_row(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        load_funding_rates(write(tmp_path, text))


def test_the_real_xrpusdt_file(shared_data: Path) -> None:
    f = load_funding_rates(shared_data / "XRPUSDT_PERP_funding_8h.csv.gz")
    assert len(f) == 91 and (f.rate < 0).sum() > 0
    assert (np.diff(f.time.astype(np.int64)) > 0).all()

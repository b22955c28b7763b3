"""`write_csv` writes what `DataFrame.to_csv(path, index=False)` writes, byte for byte."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stratopt.storage._csv import write_csv


def _same_as_pandas(frame: pd.DataFrame, tmp_path: Path) -> None:
    frame.to_csv(tmp_path / "pandas.csv", index=False)
    write_csv(frame, tmp_path / "ours.csv")
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


def test_every_kind_of_float_is_written_as_pandas_writes_it(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    bits = rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, 3000, dtype=np.int64)
    special = [0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324, 1.7976931348623157e308, 1e16,
               9999999999999998.0, 1e-4, 9.999999999999999e-05, 0.1 + 0.2, 252.0]  # fmt: skip
    floats = np.concatenate([bits.view(np.float64), special, rng.standard_normal(3000)])
    floats = np.concatenate([floats, floats[:500]])  # repeated values: written once
    frame = pd.DataFrame({"a": floats, "b": floats.copy(), "c": np.arange(len(floats))})
    frame["d"] = -frame["a"]  # -0.0 and 0.0 are the same number and not the same text
    _same_as_pandas(frame, tmp_path)


def test_text_ints_bools_and_objects_are_written_and_quoted_as_pandas_does(
    tmp_path: Path,
) -> None:
    text = ["plain", "a,comma", 'a "quote"', "two\nlines", "cr\rhere", "", " space ", "é"]
    frame = pd.DataFrame(
        {
            "rank": range(1, 9),
            "state": text,
            "missing": ["x", None, "y", np.nan, "z", "", "w", "v"],
            "mixed": [1, 2.5, np.float64(0.1), None, "s,t", True, np.nan, 3],
            "flag": [True, False] * 4,
            "with,comma": np.linspace(0, 1, 8),
        }
    )
    frame["nullable"] = pd.array([*text[:7], None], dtype="string")
    _same_as_pandas(frame, tmp_path)
    _same_as_pandas(frame.iloc[:0], tmp_path)  # the header alone


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"only": ["", "x"]}),  # csv writes a lone "" cell as ""
        pd.DataFrame({1: [1.5], 2: [2.5]}),  # labels that are not text
        pd.DataFrame({"cat": pd.Categorical(["a", "b"]), "x": [1.0, 2.0]}),
    ],
)
def test_frames_it_does_not_handle_go_to_pandas(frame: pd.DataFrame, tmp_path: Path) -> None:
    _same_as_pandas(frame, tmp_path)


@pytest.mark.parametrize("rows", [0, 6, 7, 8, 20, 21])
def test_rows_written_in_chunks_are_the_same_text(
    rows: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("stratopt.storage._csv._CHUNK_ROWS", 7)
    rng = np.random.default_rng(rows)
    values = rng.standard_normal(rows).round(2)  # values repeated across chunks
    frame = pd.DataFrame(
        {"x": values, "same": values.copy(), "n": np.arange(rows), "s": ["a,b"] * rows}
    )
    _same_as_pandas(frame, tmp_path)

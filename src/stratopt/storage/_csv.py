"""A frame's CSV file, the text `DataFrame.to_csv(path, index=False)` writes, faster.

`ranked_results.csv` of a 10,000-trial grid is 10,000 rows of ~40 columns, 32 of them
floats: pandas took 0.25 s to write it, a quarter of the whole study. Nearly all of it is
turning floats into text, which pandas does with NumPy's `astype(str)` (the shortest text
that reads back as the same float: Python's `repr`) and then hands to `csv.writer`.

Here each float column's distinct values are written once (a grid repeats many: the
candidates whose signals coincide, trade counts, durations, a constant column) and a
column equal bit for bit to an earlier one (the objective and its metric) reuses its
text; rows are joined without `csv.writer` when no cell needs quoting. The text is the
same, byte for byte: a column of a type not handled here, labels that are not text, or
a single column send the frame to `to_csv` itself.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from stratopt.storage._float_text import column_reprs, joined_reprs

__all__ = ["write_csv"]

# What makes `csv.writer` (QUOTE_MINIMAL, ',' and '"', lines ending in '\n') quote a cell.
_SPECIAL = frozenset(',"\r\n')

# Rows turned into text at a time: the text of a whole 200,000-row ranking at once took a
# gigabyte; pandas too writes in chunks.
_CHUNK_ROWS = 10_000


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write `frame` to `path` as `frame.to_csv(path, index=False)` does."""
    if not _handled(frame):
        frame.to_csv(path, index=False)
        return
    with path.open("w", encoding="utf-8", newline="") as fh:  # as pandas opens it
        fh.write(",".join(_quoted([str(c) for c in frame.columns])))
        fh.write("\n")
        for start in range(0, len(frame), _CHUNK_ROWS):
            cells = _cells(frame.iloc[start : start + _CHUNK_ROWS])
            fh.write("\n".join(map(",".join, zip(*cells, strict=True))))
            fh.write("\n")


def _handled(frame: pd.DataFrame) -> bool:
    """False: this frame goes to pandas (a single column, labels that are not unique
    text, a dtype not handled here)."""
    labels = list(frame.columns)
    if len(labels) < 2 or not all(type(c) is str for c in labels) or len(set(labels)) < len(labels):
        return False  # a one-column row of "" is written `""` by csv: left to pandas
    return all(
        d == np.float64 or d == np.int64 or d == np.bool_ or d == np.object_
        or isinstance(d, pd.StringDtype)
        for d in frame.dtypes
    )  # fmt: skip


def _cells(frame: pd.DataFrame) -> list[list[str]]:
    """The rows' text by column, quoted as `csv.writer` quotes them (a frame `_handled`
    says yes to); a run of float columns side by side (a ranking's metrics) is one
    "column" whose cells are the run's cells already joined by ','."""
    texts: dict[bytes, list[str]] = {}  # float columns already written, by their bits
    cells = []
    names = list(frame.columns)
    dtypes = frame.dtypes.tolist()
    j = 0
    while j < len(names):
        dtype = dtypes[j]
        if dtype == np.float64:
            end = j + 1
            while end < len(names) and dtypes[end] == np.float64:
                end += 1
            if end - j > 1:
                block = frame.iloc[:, j:end].to_numpy(dtype=np.float64)
                cells.append(joined_reprs(block, nan=""))
                j = end
                continue
            values = frame.iloc[:, j].to_numpy()
            key = values.tobytes()
            if key not in texts:  # "".astype(str) of NumPy, NaN as "" (tests/storage)
                texts[key] = column_reprs(values, nan="")
            cells.append(texts[key])
        elif dtype == np.int64 or dtype == np.bool_:
            cells.append(list(map(str, frame.iloc[:, j].to_numpy().tolist())))
        else:
            cells.append(_quoted(_object_texts(frame.iloc[:, j])))
        j += 1
    return cells


def _object_texts(column: pd.Series) -> list[str]:
    """The text `csv.writer` makes of what pandas hands it: missing values as "", the
    rest by `str`."""
    values = column.array
    objects = (
        np.array(values, dtype=object)
        if isinstance(values, np.ndarray)
        else np.asarray(values.astype(object))
    )
    objects[pd.isna(objects)] = ""
    return list(map(str, objects.tolist()))


def _quoted(cells: list[str]) -> list[str]:
    """`cells` as `csv.writer` writes them, each alone (no cell here is a row of its own)."""
    if not _SPECIAL.intersection("".join(cells)):
        return cells
    return [_quote(c) if _SPECIAL.intersection(c) else c for c in cells]


def _quote(cell: str) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([cell])
    return buf.getvalue()[:-1]

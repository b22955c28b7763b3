"""Finding a data file (a path or ``pkg://``) and reading it into a raw DataFrame."""

from __future__ import annotations

import contextlib
import importlib.resources
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pandas as pd

from stratopt.errors import DataError

__all__ = ["PKG_SCHEME", "open_source", "read_table", "source_name"]

PKG_SCHEME = "pkg://"
_PARQUET_MAGIC = b"PAR1"
_GZIP_MAGIC = b"\x1f\x8b"
# Everything pandas, gzip and pyarrow raise for an unreadable file; turned into DataError so
# the user sees one line naming the file, not a traceback.
_READ_ERRORS = (ValueError, OSError, EOFError, zlib.error, UnicodeError)


def source_name(path: str | os.PathLike[str]) -> str:
    """How a source is named in messages and in `Bars.source`: the text the user gave."""
    return os.fspath(path)


@contextlib.contextmanager
def open_source(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a real file path for a filesystem path or a ``pkg://package/relative/path``.

    Raises:
        DataError: The file, or the package holding it, does not exist.
    """
    name = source_name(path)
    if not name.startswith(PKG_SCHEME):
        file = Path(name).expanduser()
        if not file.exists():
            raise DataError(f"{name}: file not found")
        if not file.is_file():
            raise DataError(f"{name}: not a file")
        yield file
        return
    package, _, relative = name[len(PKG_SCHEME) :].partition("/")
    if not package or not relative:
        raise DataError(f"{name}: expected pkg://<package>/<path inside the package>")
    try:
        resource = importlib.resources.files(package).joinpath(relative)
    except ModuleNotFoundError as exc:
        raise DataError(f"{name}: package {package!r} is not installed") from exc
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name}: {package!r} cannot hold data files: {exc}") from exc
    if not resource.is_file():
        raise DataError(f"{name}: package {package!r} has no file {relative!r}")
    with importlib.resources.as_file(resource) as file:
        yield Path(file)


def read_table(file: Path, name: str) -> pd.DataFrame:
    """Read a CSV (plain or compressed) or Parquet file as it is, without interpreting it.

    The format is told by the first bytes, not the suffix, so a mislabelled file still
    reads. An index (from an indexed Parquet file, or CSV rows with one more field than the
    header) comes back as the first column.

    Raises:
        DataError: The file is empty or cannot be parsed.
    """
    try:
        with file.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise DataError(f"{name}: cannot read: {exc.strerror or exc}") from exc
    if not head:
        raise DataError(f"{name}: the file is empty")
    try:
        if head == _PARQUET_MAGIC:
            frame = pd.read_parquet(file)
        else:
            if head.startswith(_GZIP_MAGIC):
                compression: Literal["gzip", "infer"] | None = "gzip"
            else:
                compression = None if file.suffix.lower() == ".gz" else "infer"
            # low_memory=False: one dtype per column for the whole file, and no DtypeWarning.
            frame = pd.read_csv(
                file, compression=compression, skipinitialspace=True, low_memory=False
            )
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{name}: the file has no data (empty after decompression)") from exc
    except _READ_ERRORS as exc:
        kind = "Parquet" if head == _PARQUET_MAGIC else "CSV"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, UnicodeDecodeError):
            # pandas decodes in chunks: the position in its message is not the file's.
            reason = (
                f"not UTF-8 text (it holds byte 0x{exc.object[exc.start]:02x}); is it binary, "
                "or saved in another encoding?"
            )
        raise DataError(f"{name}: cannot read as {kind}: {reason[:200]}") from exc
    if not isinstance(frame.index, pd.RangeIndex):
        # A Parquet index, or CSV rows with one field more than the header: the time.
        frame = frame.reset_index()
    return frame

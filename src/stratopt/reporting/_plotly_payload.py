"""plotly.js as the page embeds it by default: gzip-compressed, base64-encoded, and kept.

Compressing plotly.min.js (4.8 MB, level 9) took 0.17-0.28 s of every report, for the
same bytes each time with the same plotly and zlib. The first report saves them in
``stratopt/reporting/__pycache__`` (where Python keeps this package's bytecode and
numba its kernels), named after what they depend on: the plotly file's path, size and
modification time, zlib's version and the gzip header this Python writes; later reports
read them, once their header, CRC-32 and size match (else they compress again). Where
that folder cannot be written, each report compresses plotly.js again, as before.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import os
import tempfile
import zlib
from importlib import resources
from pathlib import Path

__all__ = ["PLOTLY_FILE", "plotly_gzip_b64", "plotly_js"]

PLOTLY_FILE = "plotly.min.js"
_FOLDER = Path(__file__).resolve().parent / "__pycache__"


def _source() -> Path:
    return Path(str(resources.files("plotly") / "package_data" / PLOTLY_FILE))


def plotly_js() -> bytes:
    """plotly.min.js as the installed plotly package ships it."""
    return _source().read_bytes()


def plotly_gzip_b64() -> str:
    """`plotly_js` gzip-compressed (level 9, mtime 0) and base64-encoded: from the
    file an earlier report saved if it is whole, else compressed now and saved."""
    source = _source()
    kept = _kept_file(source)
    raw = source.read_bytes()
    if kept is not None:
        try:
            text = kept.read_text("ascii")
            if _whole(text, raw):
                return text
        except (OSError, ValueError):  # not there yet, unreadable or cut: compressed below
            pass
    payload = base64.b64encode(gzip.compress(raw, compresslevel=9, mtime=0))
    if kept is not None:
        _save(kept, payload)
    return payload.decode("ascii")


def _whole(text: str, raw: bytes) -> bool:
    """Whether ``text`` is a gzip of ``raw`` as this Python writes one: its header, and
    a trailer with ``raw``'s CRC-32 and size (a file cut short or another's fails)."""
    packed = base64.b64decode(text, validate=True)
    head = _EMPTY[:10]
    trailer = zlib.crc32(raw).to_bytes(4, "little") + (len(raw) & 0xFFFFFFFF).to_bytes(4, "little")
    return len(packed) > 18 and packed[:10] == head and packed[-8:] == trailer


# This Python's gzip of nothing: its header (which Python versions write differently)
# names the kept file along with the source and zlib.
_EMPTY = gzip.compress(b"", compresslevel=9, mtime=0)


def _kept_file(source: Path) -> Path | None:
    try:
        st = source.stat()
    except OSError:
        return None
    key = f"{source}\0{st.st_size}\0{st.st_mtime_ns}\0{zlib.ZLIB_RUNTIME_VERSION}\0{_EMPTY.hex()}"
    return _FOLDER / f"plotly-{hashlib.sha256(key.encode()).hexdigest()[:20]}.gz.b64"


def _save(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` whole or not at all (a temporary file renamed, so
    a concurrent report reads either nothing or every byte)."""
    tmp: Path | None = None
    try:
        path.parent.mkdir(exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f"{path.name}.", suffix=".tmp")
        tmp = Path(name)
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.replace(tmp, path)
    except OSError:  # a read-only install: compressed again next time
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)

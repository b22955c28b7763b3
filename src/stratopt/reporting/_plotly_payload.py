"""plotly.js as the page embeds it by default: gzip-compressed, base64-encoded, and kept.

Compressing plotly.min.js (4.8 MB, level 9) took 0.17-0.28 s of every report, for the
same bytes each time with the same plotly and zlib. The first report saves them in
``stratopt/reporting/__pycache__`` (where Python keeps this package's bytecode and
numba its kernels), named after what they depend on: the plotly file's path, size and
modification time and zlib's version; later reports read them. Where that folder
cannot be written, each report compresses plotly.js again, as before.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import os
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
    file an earlier report saved, else compressed now and saved."""
    source = _source()
    kept = _kept_file(source)
    if kept is not None:
        try:
            return kept.read_text("ascii")
        except OSError:  # not there yet (or unreadable): compressed below
            pass
    payload = base64.b64encode(gzip.compress(source.read_bytes(), compresslevel=9, mtime=0))
    if kept is not None:
        _save(kept, payload)
    return payload.decode("ascii")


def _kept_file(source: Path) -> Path | None:
    try:
        st = source.stat()
    except OSError:
        return None
    key = f"{source}\0{st.st_size}\0{st.st_mtime_ns}\0{zlib.ZLIB_RUNTIME_VERSION}"
    return _FOLDER / f"plotly-{hashlib.sha256(key.encode()).hexdigest()[:20]}.gz.b64"


def _save(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` whole or not at all (a temporary file renamed, so
    a concurrent report reads either nothing or every byte)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(exist_ok=True)
        tmp.write_bytes(payload)
        os.replace(tmp, path)
    except OSError:  # a read-only install: compressed again next time
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)

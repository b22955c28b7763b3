"""Predictions on disk, keyed by a SHA-256 of everything that made them.

The key is the SHA-256 of the canonical JSON (sorted keys, no spaces) of the inputs:
data fingerprint, feature spec and code hash, label, resolved fold boundaries, purge,
embargo, model parameters (seed and threads included), rounds, early stopping and the
LightGBM version. Anything that could change a prediction changes the key.

A file holds a magic line, a JSON header (key, metadata, array layout), the raw arrays,
then the SHA-256 of all that. It is written to a temporary file in the same folder and
renamed over the final name (`os.replace` is atomic), so a reader sees a complete file
or none, and two writers of one key leave one complete file. A file that fails any
check on read (magic, key, layout, digest) is deleted and reported as missing: the
caller computes it again. Files are deterministic: same arrays, same bytes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import struct
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CachedArrays", "PredictionCache", "cache_key"]

log = logging.getLogger("stratopt.ml")

_MAGIC = b"STRATOPT-ML-PREDICTIONS 1\n"
_DIGEST = 32


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else repr(f)  # JSON has no NaN: keep it distinct
    if value is None or isinstance(value, str | int | bool):
        return value
    return repr(value)


def cache_key(parts: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of `parts`."""
    text = json.dumps(_canonical(parts), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, eq=False)
class CachedArrays:
    """What one cache file holds."""

    key: str
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]


class PredictionCache:
    """A folder of prediction files, one per key (module docs)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.pred"

    def load(self, key: str) -> CachedArrays | None:
        """The file of `key`, or None when missing or corrupted (then it is removed)."""
        path = self.path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return _decode(data, key)
        except (ValueError, KeyError, TypeError, struct.error, json.JSONDecodeError) as exc:
            log.warning("corrupted prediction file %s (%s); computing it again", path, exc)
            path.unlink(missing_ok=True)
            return None

    def store(self, key: str, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> Path:
        """Write the file of `key` atomically; returns its path."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = _encode(key, arrays, meta)
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:16]}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path


def _encode(key: str, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> bytes:
    layout = []
    blobs = []
    offset = 0
    for name in sorted(arrays):
        arr = np.ascontiguousarray(arrays[name])
        raw = arr.tobytes()
        layout.append(
            {
                "name": name,
                "dtype": arr.dtype.str,
                "shape": list(arr.shape),
                "offset": offset,
                "nbytes": len(raw),
            }
        )
        blobs.append(raw)
        offset += len(raw)
    header = json.dumps(
        {"key": key, "meta": _canonical(meta), "arrays": layout},
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    body = _MAGIC + struct.pack("<Q", len(header)) + header + b"".join(blobs)
    return body + hashlib.sha256(body).digest()


def _decode(data: bytes, key: str) -> CachedArrays:
    if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + 8 + _DIGEST:
        raise ValueError("not a prediction file")
    body, digest = data[:-_DIGEST], data[-_DIGEST:]
    if hashlib.sha256(body).digest() != digest:
        raise ValueError("checksum mismatch")
    (size,) = struct.unpack_from("<Q", body, len(_MAGIC))
    start = len(_MAGIC) + 8
    header = json.loads(body[start : start + size])
    if header["key"] != key:
        raise ValueError(f"holds key {header['key'][:12]}..., not {key[:12]}...")
    payload = body[start + size :]
    arrays = {}
    for item in header["arrays"]:
        raw = payload[item["offset"] : item["offset"] + item["nbytes"]]
        if len(raw) != item["nbytes"]:
            raise ValueError(f"array {item['name']!r} is truncated")
        arr = np.frombuffer(raw, dtype=np.dtype(item["dtype"])).reshape(item["shape"])
        arrays[item["name"]] = arr.copy()
    return CachedArrays(key, arrays, dict(header["meta"]))

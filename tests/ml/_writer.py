"""A process that writes one cache key many times (spawned by test_cache)."""

from __future__ import annotations

import sys

import numpy as np

from stratopt.ml import PredictionCache


def write_many(root: str, key: str, times: int) -> None:
    cache = PredictionCache(root)
    arrays = {"fold0": np.arange(100_000, dtype=np.float64)}
    for _ in range(times):
        cache.store(key, arrays, {"kind": "oof"})


if __name__ == "__main__":
    write_many(sys.argv[1], sys.argv[2], int(sys.argv[3]))

"""The prediction cache: what changes the key, corrupted files, concurrent writers."""

from __future__ import annotations

import dataclasses
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import lightgbm
import numpy as np
import pytest

from stratopt.ml import (
    Panel,
    PredictionCache,
    fold_predictions,
    model_params,
    prediction_key,
    prepare,
)

from .conftest import FitCounter, small_study

ALPHA = {"features__set": "alpha158", "features__windows": [5, 10]}


def key_of(tmp_path: Path, panel: Panel | None = None, **changes: Any) -> str:
    extra = changes.pop("params", {})
    study = small_study(tmp_path, **{**ALPHA, **changes})
    prepared = prepare(study, panel=panel)
    return prediction_key(prepared, model_params(prepared, {"num_leaves": 8, **extra}), "oof")


def test_every_input_changes_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = key_of(tmp_path)
    assert key_of(tmp_path) == base  # deterministic
    panel = prepare(small_study(tmp_path, **ALPHA)).panel
    raw = bytearray(panel.close.tobytes())
    raw[1000] ^= 0x01  # one byte of one price
    close = np.frombuffer(bytes(raw)).reshape(panel.close.shape)
    changed = {
        "data byte": key_of(tmp_path, panel=dataclasses.replace(panel, close=close)),
        "feature window": key_of(tmp_path, features__windows=[5, 11]),
        "horizon": key_of(tmp_path, label__horizon=2),
        "purge": key_of(tmp_path, folds__purge=5),
        "model parameter": key_of(tmp_path, params={"learning_rate": 0.21}),
        "seed": key_of(tmp_path, params={"seed": 1}),
        "threads": key_of(tmp_path, params={"num_threads": 2}),
    }
    monkeypatch.setattr(lightgbm, "__version__", "99.0.0")
    changed["lightgbm version"] = key_of(tmp_path)
    assert all(k != base for k in changed.values()), changed
    assert len(set(changed.values())) == len(changed)


def test_a_corrupted_file_is_detected_and_rebuilt(tmp_path: Path, fits: FitCounter) -> None:
    prepared = prepare(small_study(tmp_path))
    params = model_params(prepared, {"num_leaves": 8})
    first = fold_predictions(prepared, params)
    n_folds = len(prepared.plan.folds)
    assert first.trained and fits.calls == n_folds
    path = prepared.cache.path(first.key)
    good = path.read_bytes()
    assert not fold_predictions(prepared, params).trained and fits.calls == n_folds
    mid = len(good) // 2  # a byte of the predictions themselves
    for damage in (good[:-100], good[:mid] + bytes([good[mid] ^ 0x01]) + good[mid + 1 :], b""):
        path.write_bytes(damage)
        again = fold_predictions(prepared, params)
        assert again.trained  # detected: the models were fit again
        assert path.read_bytes() == good  # and the same bytes written back
        for a, b in zip(first.folds, again.folds, strict=True):
            np.testing.assert_array_equal(a, b)
    assert fits.calls == 4 * n_folds


def test_two_writers_of_one_key_leave_one_complete_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = "ab" + "0" * 62
    writer = Path(__file__).with_name("_writer.py")
    procs = [
        subprocess.Popen([sys.executable, str(writer), str(tmp_path), key, "25"]) for _ in range(2)
    ]
    cache = PredictionCache(tmp_path)
    seen = 0
    with caplog.at_level(logging.WARNING, logger="stratopt.ml"):
        while any(p.poll() is None for p in procs):
            hit = cache.load(key)  # a reader never sees a half-written file
            if hit is not None:
                seen += 1
                assert hit.arrays["fold0"][-1] == 99_999.0
            time.sleep(0.002)
    assert all(p.wait() == 0 for p in procs)
    assert "corrupted" not in caplog.text
    files = list((tmp_path / "ab").iterdir())
    assert [f.name for f in files] == [f"{key}.pred"]  # no temporary file left behind
    hit = cache.load(key)
    assert hit is not None and hit.arrays["fold0"].shape == (100_000,)
    assert seen > 0

"""The progress line says when the first run compiles the kernels (issue 21 item 12)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stratopt.config import load_study
from stratopt.engine import COMPILING, kernels_cached
from stratopt.operations import optimize_study
from stratopt.search import Progress

ROOT = Path(__file__).resolve().parents[2]


def test_an_empty_kernel_cache_is_seen(tmp_path: Path) -> None:
    code = "from stratopt.engine import kernels_cached; print(kernels_cached())"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.stdout.strip() == "False", proc.stderr


def test_the_first_report_says_compiling_when_the_cache_is_cold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = load_study(ROOT / "examples" / "sma_cross_synthetic.yaml",
                       ["search.method=grid", "space={fast: [5], slow: [40]}", "name=cold",
                        f"output={tmp_path}"])  # fmt: skip
    seen: list[Progress] = []
    monkeypatch.setattr("stratopt.operations._optimize.kernels_cached", lambda: False)
    optimize_study(study, storage="memory", on_progress=seen.append, analyze=False)
    assert seen[0].stage == COMPILING and seen[-1].stage is None
    assert kernels_cached()  # compiled in this process now

"""Real runs to report on, and a real headless Chromium to open the reports in."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.reporting.studies import optimized, study_file

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Runs:
    root: Path
    tpe: Path  # TPE with a holdout
    random: Path  # the same space searched at random, to compare with
    multi: Path  # two objectives (NSGA-II)
    tpe_study: Path


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    root = tmp_path_factory.mktemp("report-runs")
    tpe = optimized(root, "tpe_holdout")
    rnd = optimized(root, "random_search", search={"method": "random", "trials": 24, "seed": 4})
    multi = optimized(
        root,
        "two_objectives",
        objective={"maximize": ["sharpe"], "minimize": ["max_drawdown"]},
        search={"method": "nsga2", "trials": 24, "seed": 5, "batch": 8},
    )
    return Runs(root, tpe, rnd, multi, study_file(root, "tpe_holdout"))


def _chromium_script() -> ModuleType:
    # scripts/ is not a package: the one copy of the install code is imported from there.
    sys.path.insert(0, str(ROOT / "scripts"))
    import chromium

    return chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium (installed with apt-get if missing), driven by playwright."""
    chromium = _chromium_script()
    try:
        executable = chromium.install()
    except chromium.Unavailable as exc:
        pytest.skip(f"Chromium cannot be installed here: {exc}")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(executable))
        try:
            yield launched
        finally:
            launched.close()

"""Shared fixtures: the real market data of ../shared/data, a throwaway PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real OHLCV files (CI has it beside the clone)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real market data not found at {SHARED_DATA}")
    return SHARED_DATA


def _postgres_script() -> ModuleType:
    # scripts/ is not a package: the one copy of the cluster code is imported from there.
    sys.path.insert(0, str(ROOT / "scripts"))
    import throwaway_postgres

    return throwaway_postgres


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A PostgreSQL cluster on 127.0.0.1 (installed with apt-get if missing), stopped after."""
    pg = _postgres_script()
    try:
        cluster = pg.start()
    except pg.Unavailable as exc:
        pytest.skip(f"PostgreSQL cannot be installed here: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()

"""Shared fixtures: the real market data of ../shared/data, a throwaway PostgreSQL."""

from __future__ import annotations

import importlib.util
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
    path = ROOT / "scripts" / "throwaway_postgres.py"
    spec = importlib.util.spec_from_file_location("throwaway_postgres", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["throwaway_postgres"] = module
    spec.loader.exec_module(module)
    return module


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

"""Fixtures shared by the storage tests."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

# A PostgreSQL server to run the storage tests against instead of the throwaway cluster of
# tests/conftest.py, e.g. postgresql://user@127.0.0.1:5433/db.
PG_ENV = "STRATOPT_TEST_POSTGRES_URL"


@pytest.fixture(params=["sqlite", "postgresql"])
def rdb(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A function giving a fresh, empty RDB storage URL on each call."""
    if request.param == "sqlite":
        yield lambda name: f"sqlite:///{tmp_path / name}.db"
        return
    # Another server when the variable names one, else the project's throwaway cluster.
    base = os.environ.get(PG_ENV) or request.getfixturevalue("postgres").url()
    made: list[str] = []
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")

    def fresh(name: str) -> str:
        db = f"stratopt_bulk_{name}_{os.getpid()}_{time.monotonic_ns()}"
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{db}"'))
        made.append(db)
        return str(sa.engine.make_url(base).set(database=db).render_as_string(False))

    yield fresh
    for db in made:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
    engine.dispose()

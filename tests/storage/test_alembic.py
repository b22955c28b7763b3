from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from stratopt.storage import StorageError, open_storage


def test_migration_scripts_are_read_once_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening storages after the first reads Optuna's migration scripts no more (each
    read costs 0.1 s); new databases are still stamped at the head revision."""
    open_storage(f"sqlite:///{tmp_path / 'first.db'}")
    reads: list[object] = []
    original = ScriptDirectory.from_config
    monkeypatch.setattr(
        ScriptDirectory, "from_config", lambda config: reads.append(config) or original(config)
    )
    for name in ("second.db", "third.db", "first.db"):
        storage = open_storage(f"sqlite:///{tmp_path / name}")
        assert storage.get_current_version() == storage.get_head_version()  # type: ignore[attr-defined]
    assert reads == []


def test_an_outdated_schema_is_still_refused(tmp_path: Path) -> None:
    """Optuna's schema check still runs: a database stamped at an older revision is not
    opened (Optuna's message asks for `optuna storage upgrade`)."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    open_storage(url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'v3.0.0.d'"))
    engine.dispose()
    with pytest.raises(StorageError, match="optuna storage upgrade"):
        open_storage(url)

"""The packaged Alembic migrations create exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from ems.store import Store
from ems.store.migrate import alembic_config
from ems.store.models import Base
from tests.dbs import postgres_database, sqlite_url


def _migrate_twice_and_compare(url: str) -> None:
    store = Store(url)
    try:
        store.migrate()
        store.migrate()
        with store.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
            assert context.get_current_revision() == head
            tables = set(inspect(connection).get_table_names())
        assert tables == {*Base.metadata.tables, "alembic_version"}
    finally:
        store.dispose()


def test_migration_is_idempotent_and_matches_models_on_sqlite(tmp_path: Path) -> None:
    _migrate_twice_and_compare(sqlite_url(tmp_path))


def test_migration_is_idempotent_and_matches_models_on_postgresql() -> None:
    with postgres_database() as url:
        _migrate_twice_and_compare(url)


def test_sqlite_file_directory_is_created_and_tuned(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'var' / 'data' / 'ems.db'}")
    try:
        store.migrate()
        with store.engine.connect() as connection:
            journal = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
            synchronous = connection.exec_driver_sql("PRAGMA synchronous").scalar()
            busy_ms = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
        assert (tmp_path / "var" / "data" / "ems.db").exists()
        assert (journal, synchronous) == ("wal", 2)  # 2 is FULL
        assert busy_ms is not None and busy_ms > 0
    finally:
        store.dispose()


def test_in_memory_sqlite_is_refused_with_advice() -> None:
    import pytest

    with pytest.raises(ValueError, match="use a file"):
        Store("sqlite://")

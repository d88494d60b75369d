"""Real databases for tests: a SQLite file in a temp dir, and a fresh PostgreSQL database.

PostgreSQL comes from ``EMS_TEST_POSTGRES_URL`` (default: the local server, database ``test``);
each ``postgres_database()`` creates its own database next to that one and drops it afterwards, so
test runs never see each other's tables. When the server is not reachable the test is skipped with
a message that says how to run that leg.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import URL, create_engine, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

_unreachable: str | None = None  # remembered so that each test does not wait for a timeout again


def postgres_url() -> str:
    """URL of the PostgreSQL server (and its maintenance database) the tests may use."""
    return os.environ.get("EMS_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def sqlite_url(tmp_path: Path) -> str:
    """URL of a new SQLite database file in ``tmp_path``."""
    return f"sqlite:///{tmp_path / 'ems.db'}"


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """Create a new, empty PostgreSQL database; yield its URL; drop it afterwards.

    Skips the calling test when the server cannot be reached.
    """
    global _unreachable
    server = make_url(postgres_url())
    if _unreachable is not None:
        pytest.skip(_unreachable)
    admin = create_engine(
        server,
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"connect_timeout": 5},
    )
    name = f"ems_test_{secrets.token_hex(6)}"
    try:
        try:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        except OperationalError:
            _unreachable = (
                f"PostgreSQL not reachable at {_safe(server)}; start it or set "
                "EMS_TEST_POSTGRES_URL to run the PostgreSQL leg"
            )
            pytest.skip(_unreachable)
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _safe(url: URL) -> str:
    return url.render_as_string(hide_password=True)

"""Fixtures shared by the end-to-end tests: a real ems server on a free port, real databases."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from ems.app import Ems, EmsServer
from ems.config import Settings, load_settings

ADMIN_TOKEN = "test-admin-token-0123456789abcdef"


def make_settings(database_url: str, **sections: Any) -> Settings:
    """Settings for a test server on 127.0.0.1, a free port; ``sections`` override tables."""
    data: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": 0, "ws_ping_interval_s": None},
        "database": {"url": database_url, "flush_interval_s": 0.01},
        "ocpp": {"call_timeout_s": 5, "heartbeat_interval_s": 60},
        "api": {"bootstrap_admin_token": ADMIN_TOKEN},
    }
    for key, value in sections.items():
        if isinstance(value, dict):
            data[key] = {**data.get(key, {}), **value}
        else:
            data[key] = value
    return load_settings(None, **data)


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[EmsServer]:
    """An ems server started with ``settings`` and stopped (drained) afterwards."""
    server = EmsServer(Ems(settings))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ems.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database of each kind: a SQLite file, and a new PostgreSQL database."""
    from tests.dbs import postgres_database, sqlite_url

    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
    else:
        with postgres_database() as url:
            yield url

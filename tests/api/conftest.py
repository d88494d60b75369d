"""Fixtures of the REST API tests: a running ems on SQLite and API clients for both roles."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from ems.app import EmsServer
from tests.api.helpers import api_client
from tests.conftest import ADMIN_TOKEN, make_settings, running


@pytest.fixture
async def server(sqlite_url: str) -> AsyncIterator[EmsServer]:
    settings = make_settings(sqlite_url, ocpp={"accept_unknown_id_tokens": True})
    async with running(settings) as started:
        yield started


@pytest.fixture
async def admin(server: EmsServer) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(server, ADMIN_TOKEN) as client:
        yield client


@pytest.fixture
async def reader(server: EmsServer, admin: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A client with a readonly token, created through the API."""
    created = await admin.post("/api-tokens", json={"name": "dashboard", "role": "readonly"})
    assert created.status_code == 201, created.text
    async with api_client(server, created.json()["token"]) as client:
        yield client

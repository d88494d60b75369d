"""API tokens: created once in plaintext, listed without it, revoked at once."""

from __future__ import annotations

import httpx

from ems.app import EmsServer
from tests.api.helpers import api_client


async def test_created_token_works_and_is_listed_without_its_secret(
    server: EmsServer, admin: httpx.AsyncClient
) -> None:
    created = await admin.post("/api-tokens", json={"name": "ops", "role": "admin"})
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    async with api_client(server, token) as ops:
        assert (await ops.get("/api-tokens")).status_code == 200
    listing = (await admin.get("/api-tokens")).json()
    assert [(t["name"], t["role"], t["active"]) for t in listing] == [
        ("bootstrap", "admin", True),
        ("ops", "admin", True),
    ]
    assert token not in str(listing)
    assert all("token" not in t and "token_hash" not in t for t in listing)


async def test_revoked_token_is_refused_at_once(
    server: EmsServer, admin: httpx.AsyncClient
) -> None:
    created = (await admin.post("/api-tokens", json={"name": "temp", "role": "readonly"})).json()
    async with api_client(server, created["token"]) as temp:
        assert (await temp.get("/charge-points")).status_code == 200  # now cached
        assert (await admin.delete(f"/api-tokens/{created['id']}")).status_code == 204
        refused = await temp.get("/charge-points")
    assert refused.status_code == 401
    listing = (await admin.get("/api-tokens")).json()
    assert [t["active"] for t in listing if t["id"] == created["id"]] == [False]


async def test_revoking_an_unknown_or_revoked_token_is_404(admin: httpx.AsyncClient) -> None:
    created = (await admin.post("/api-tokens", json={"name": "x", "role": "readonly"})).json()
    assert (await admin.delete(f"/api-tokens/{created['id']}")).status_code == 204
    again = await admin.delete(f"/api-tokens/{created['id']}")
    assert again.status_code == 404
    assert "no active API token" in again.json()["detail"]
    assert (await admin.delete("/api-tokens/9999")).status_code == 404


async def test_token_role_must_be_known(admin: httpx.AsyncClient) -> None:
    response = await admin.post("/api-tokens", json={"name": "x", "role": "superuser"})
    assert response.status_code == 422
    assert "body.role" in response.json()["detail"]

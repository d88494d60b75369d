"""Bearer tokens and roles, and the JSON shape of every error."""

from __future__ import annotations

import httpx

from ems.app import EmsServer
from tests.api.helpers import api_client


async def test_request_without_token_is_401_with_bearer_challenge(server: EmsServer) -> None:
    async with api_client(server, None) as anonymous:
        response = await anonymous.get("/charge-points")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "Authorization: Bearer" in response.json()["detail"]


async def test_unknown_token_is_401(server: EmsServer) -> None:
    async with api_client(server, "not-a-token-anybody-issued") as stranger:
        response = await stranger.get("/transactions")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": "invalid or revoked API token"}


async def test_basic_credentials_are_not_a_bearer_token(server: EmsServer) -> None:
    async with api_client(server, None) as client:
        response = await client.get(
            "/charge-points", headers={"Authorization": "Basic dXNlcjpwYXNz"}
        )
    assert response.status_code == 401


async def test_readonly_token_reads(reader: httpx.AsyncClient) -> None:
    assert (await reader.get("/charge-points")).status_code == 200
    assert (await reader.get("/transactions")).status_code == 200


async def test_readonly_token_cannot_write(reader: httpx.AsyncClient) -> None:
    response = await reader.post("/charge-points", json={"id": "CP1", "security_profile": 0})
    assert response.status_code == 403
    assert "readonly" in response.json()["detail"]
    assert (await reader.delete("/charge-points/CP1")).status_code == 403
    assert (
        await reader.post("/charge-points/CP1/commands/reset", json={"kind": "Soft"})
    ).status_code == 403


async def test_readonly_token_cannot_see_api_tokens(reader: httpx.AsyncClient) -> None:
    assert (await reader.get("/api-tokens")).status_code == 403


async def test_unknown_path_is_a_json_404(admin: httpx.AsyncClient) -> None:
    response = await admin.get("/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


async def test_openapi_is_served_and_lists_the_api(server: EmsServer) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    paths = spec["paths"]
    for path in (
        "/api/v1/charge-points",
        "/api/v1/charge-points/{charge_point_id}",
        "/api/v1/charge-points/{charge_point_id}/status-history",
        "/api/v1/charge-points/{charge_point_id}/messages",
        "/api/v1/charge-points/{charge_point_id}/charging-profiles",
        "/api/v1/charge-points/{charge_point_id}/events",
        "/api/v1/charge-points/{charge_point_id}/commands/reset",
        "/api/v1/charge-points/{charge_point_id}/commands/charging-profile",
        "/api/v1/charge-points/{charge_point_id}/commands/local-list",
        "/api/v1/transactions",
        "/api/v1/transactions/{transaction_pk}",
        "/api/v1/api-tokens",
        "/api/v1/api-tokens/{token_id}",
    ):
        assert path in paths, path
    assert set(paths["/api/v1/charge-points/{charge_point_id}"]) == {"get", "patch", "delete"}
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    reset = paths["/api/v1/charge-points/{charge_point_id}/commands/reset"]["post"]
    assert {"401", "403", "404", "409", "422", "502", "504"} <= set(reset["responses"])


async def test_authentication_comes_before_validation(server: EmsServer) -> None:
    async with api_client(server, None) as anonymous:
        response = await anonymous.post("/charge-points", json={"id": ""})
    assert response.status_code == 401


async def test_operation_ids_are_the_handler_names(server: EmsServer) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
        spec = (await client.get("/openapi.json")).json()
    operations = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {"list_transactions", "create_charge_point", "reset", "revoke_token"} <= operations

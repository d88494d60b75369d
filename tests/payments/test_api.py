"""The payment routes on a real ems server (SQLite), wired as ``docs/payments.md`` says."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import Depends

from ems.api import PREFIX
from ems.api.auth import authorize
from ems.app import Ems, EmsServer
from ems.payments import Ledger, Money
from ems.payments.api import router
from tests.api.helpers import api_client
from tests.conftest import ADMIN_TOKEN, make_settings


@pytest.fixture
async def server(sqlite_url: str) -> AsyncIterator[EmsServer]:
    server = EmsServer(Ems(make_settings(sqlite_url)))
    server.app.state.ledger = Ledger(server.ems.store.engine)
    server.app.include_router(router, prefix=PREFIX, dependencies=[Depends(authorize)])
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def admin(server: EmsServer) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(server, ADMIN_TOKEN) as client:
        yield client


@pytest.fixture
def ledger(server: EmsServer) -> Ledger:
    ledger: Ledger = server.app.state.ledger
    return ledger


async def test_wallet_is_opened_topped_up_and_shows_its_statement(
    admin: httpx.AsyncClient, ledger: Ledger
) -> None:
    created = await admin.post(
        "/accounts", json={"id": "driver-7", "kind": "wallet", "currency": "EUR", "name": "Ana"}
    )
    assert created.status_code == 201, created.text
    topped = await admin.post(
        "/accounts/driver-7/top-ups",
        json={"amount": "40.00", "currency": "EUR", "reference": "stripe pi_1"},
        headers={"Idempotency-Key": "topup-1"},
    )
    assert topped.status_code == 201, topped.text
    hold = ledger.authorize_hold("driver-7", Money.of("25", "EUR"), "hold-1", reference="tx-1")
    ledger.capture(hold.id, Money.of("12.34", "EUR"), "capture-1")

    account = (await admin.get("/accounts/driver-7")).json()
    statement = (await admin.get("/accounts/driver-7/statement")).json()
    holds = (await admin.get("/accounts/driver-7/holds")).json()

    assert {k: account[k] for k in ("balance", "held", "available", "spendable")} == {
        "balance": "27.66",
        "held": "0.00",
        "available": "27.66",
        "spendable": "27.66",
    }
    assert [(line["kind"], line["amount"], line["balance_after"]) for line in statement] == [
        ("top_up", "40.00", "40.00"),
        ("capture", "-12.34", "27.66"),
    ]
    assert [(h["id"], h["status"], h["captured"]) for h in holds] == [
        (hold.id, "captured", "12.34")
    ]


async def test_repeated_top_up_with_one_key_credits_once(admin: httpx.AsyncClient) -> None:
    await admin.post("/accounts", json={"id": "w", "kind": "wallet", "currency": "EUR"})
    body = {"amount": "10.00", "currency": "EUR"}
    first = await admin.post("/accounts/w/top-ups", json=body, headers={"Idempotency-Key": "k"})
    again = await admin.post("/accounts/w/top-ups", json=body, headers={"Idempotency-Key": "k"})
    other = await admin.post(
        "/accounts/w/top-ups",
        json={"amount": "11.00", "currency": "EUR"},
        headers={"Idempotency-Key": "k"},
    )
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert other.status_code == 409
    assert "used for a different request" in other.json()["detail"]
    assert (await admin.get("/accounts/w")).json()["balance"] == "10.00"


async def test_bad_money_is_refused_with_the_field_named(admin: httpx.AsyncClient) -> None:
    await admin.post("/accounts", json={"id": "w", "kind": "wallet", "currency": "EUR"})
    headers = {"Idempotency-Key": "k"}
    as_number = await admin.post(
        "/accounts/w/top-ups", json={"amount": 10.5, "currency": "EUR"}, headers=headers
    )
    too_precise = await admin.post(
        "/accounts/w/top-ups", json={"amount": "10.005", "currency": "EUR"}, headers=headers
    )
    dollars = await admin.post(
        "/accounts/w/top-ups", json={"amount": "10", "currency": "USD"}, headers=headers
    )
    no_key = await admin.post("/accounts/w/top-ups", json={"amount": "10", "currency": "EUR"})
    assert as_number.status_code == 422 and "body.amount" in as_number.json()["detail"]
    assert too_precise.status_code == 422
    assert "more than 2 decimal places" in too_precise.json()["detail"]
    assert dollars.status_code == 422 and "holds EUR" in dollars.json()["detail"]
    assert no_key.status_code == 422 and "Idempotency-Key" in no_key.json()["detail"]


async def test_fleet_credit_limit_and_admin_adjustment_with_actor(
    admin: httpx.AsyncClient, ledger: Ledger
) -> None:
    created = await admin.post(
        "/accounts",
        json={"id": "acme", "kind": "fleet", "currency": "EUR", "credit_limit": "300.00"},
    )
    assert created.json()["spendable"] == "300.00"
    adjusted = await admin.post(
        "/accounts/acme/adjustments",
        json={"amount": "-20.00", "currency": "EUR", "reason": "cable damage fee"},
        headers={"Idempotency-Key": "adj-1"},
    )
    assert adjusted.status_code == 201, adjusted.text
    assert adjusted.json()["actor"] == "bootstrap"
    lowered = await admin.patch("/accounts/acme", json={"credit_limit": "10.00"})
    assert lowered.status_code == 409
    assert "uses 20.00 EUR of credit" in lowered.json()["detail"]


async def test_void_and_refund_through_the_api(admin: httpx.AsyncClient, ledger: Ledger) -> None:
    ledger.open_account("wallet", "EUR", account_id="w")
    ledger.top_up("w", Money.of("30", "EUR"), "topup")
    stuck = ledger.authorize_hold("w", Money.of("30", "EUR"), "hold-1")
    voided = await admin.post(f"/holds/{stuck.id}/void", headers={"Idempotency-Key": "v1"})
    assert voided.json()["status"] == "voided"
    hold = ledger.authorize_hold("w", Money.of("30", "EUR"), "hold-2")
    payment = ledger.capture(hold.id, Money.of("8", "EUR"), "capture-2")

    too_much = await admin.post(
        f"/payments/{payment.id}/refunds",
        json={"amount": "8.01", "currency": "EUR"},
        headers={"Idempotency-Key": "r1"},
    )
    refunded = await admin.post(
        f"/payments/{payment.id}/refunds",
        json={"amount": "8.00", "currency": "EUR", "reason": "charger fault"},
        headers={"Idempotency-Key": "r2"},
    )

    assert too_much.status_code == 422 and "8.00 EUR is left" in too_much.json()["detail"]
    assert refunded.status_code == 201 and refunded.json()["amount"] == "8.00"
    assert (await admin.get("/accounts/w")).json()["balance"] == "30.00"
    assert (await admin.get("/holds/nope")).status_code == 404


async def test_readonly_token_reads_but_cannot_move_money(
    server: EmsServer, admin: httpx.AsyncClient
) -> None:
    await admin.post("/accounts", json={"id": "w", "kind": "wallet", "currency": "EUR"})
    token = (await admin.post("/api-tokens", json={"name": "ro", "role": "readonly"})).json()
    async with api_client(server, token["token"]) as reader:
        assert (await reader.get("/accounts/w")).status_code == 200
        refused = await reader.post(
            "/accounts/w/top-ups",
            json={"amount": "1", "currency": "EUR"},
            headers={"Idempotency-Key": "k"},
        )
    assert refused.status_code == 403
    async with api_client(server, None) as anonymous:
        assert (await anonymous.get("/accounts")).status_code == 401

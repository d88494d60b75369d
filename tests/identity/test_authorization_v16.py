"""OCPP 1.6 Authorize and StartTransaction answers for each token case, over real WebSockets."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from ocpp.v16 import call

from ems.config import Settings
from ems.payments import Ledger
from tests.conftest import make_settings, running
from tests.identity.helpers import T0, api, charger16, create_tokens, iso

CHARGE_POINTS = [{"id": cp, "security_profile": 0} for cp in ("CP-A", "CP-B", "CP-C")]


def settings(url: str, **ocpp: Any) -> Settings:
    return make_settings(url, charge_points=CHARGE_POINTS, ocpp=ocpp)


async def authorize(cp: Any, id_tag: str) -> dict[str, Any]:
    answer = await cp.call(call.Authorize(id_tag=id_tag))
    info: dict[str, Any] = answer.id_tag_info
    return info


async def start(cp: Any, id_tag: str, connector_id: int = 1, minutes: int = 0) -> Any:
    return await cp.call(
        call.StartTransaction(
            connector_id=connector_id,
            id_tag=id_tag,
            meter_start=1000,
            timestamp=iso(T0 + timedelta(minutes=minutes)),
        )
    )


async def test_each_status_is_answered_on_sqlite_and_postgresql(database_url: str) -> None:
    async with running(settings(database_url)) as server, api(server) as client:
        future = server.ems.csms.clock() + timedelta(days=30)
        past = server.ems.csms.clock() - timedelta(minutes=1)
        await create_tokens(
            client,
            {"id_token": "GOOD", "expires_at": iso(future), "group_id": "FLEET-1"},
            {"id_token": "BLOCKED", "status": "Blocked"},
            {"id_token": "STORED-EXPIRED", "status": "Expired"},
            {"id_token": "INVALID", "status": "Invalid"},
            {"id_token": "OUTDATED", "expires_at": iso(past)},
        )
        async with charger16(server, "CP-A") as cp:
            await cp.boot()
            good = await authorize(cp, "GOOD")
            assert good["status"] == "Accepted"
            assert good["parent_id_tag"] == "FLEET-1"
            assert good["expiry_date"].startswith(iso(future)[:19])
            assert (await authorize(cp, "good"))["status"] == "Accepted"  # case-insensitive
            assert (await authorize(cp, "BLOCKED"))["status"] == "Blocked"
            assert (await authorize(cp, "STORED-EXPIRED"))["status"] == "Expired"
            assert (await authorize(cp, "OUTDATED"))["status"] == "Expired"
            assert (await authorize(cp, "INVALID"))["status"] == "Invalid"
            assert (await authorize(cp, "NOBODY"))["status"] == "Invalid"  # 1.6 has no Unknown


async def test_unknown_tokens_are_accepted_when_configured(sqlite_url: str) -> None:
    async with running(settings(sqlite_url, accept_unknown_id_tokens=True)) as server:
        async with charger16(server, "CP-A") as cp:
            await cp.boot()
            assert (await authorize(cp, "NOBODY"))["status"] == "Accepted"


async def test_blocked_or_expired_token_cannot_start(sqlite_url: str) -> None:
    async with running(settings(sqlite_url)) as server, api(server) as client:
        past = server.ems.csms.clock() - timedelta(days=1)
        await create_tokens(
            client,
            {"id_token": "BLOCKED", "status": "Blocked"},
            {"id_token": "OLD", "expires_at": iso(past)},
        )
        async with charger16(server, "CP-A") as cp:
            await cp.boot()
            blocked = await start(cp, "BLOCKED", connector_id=1)
            expired = await start(cp, "OLD", connector_id=2)
        assert blocked.id_tag_info["status"] == "Blocked"
        assert expired.id_tag_info["status"] == "Expired"
        await server.ems.recorder.barrier()
        events = server.ems.store.events_of("CP-A", "transaction_deauthorized")
        assert {e.payload["status"] for e in events} == {"Blocked", "Expired"}


async def test_token_charging_elsewhere_is_concurrent_unless_its_group_allows(
    sqlite_url: str,
) -> None:
    async with running(settings(sqlite_url)) as server, api(server) as client:
        await create_tokens(
            client,
            {"id_token": "SOLO"},
            {"id_token": "FLEET-2", "type": "Central", "max_concurrent_tx": 2},
            {"id_token": "SHARED", "group_id": "FLEET-2"},
        )
        async with charger16(server, "CP-A") as a, charger16(server, "CP-B") as b:
            await a.boot()
            await b.boot()
            assert (await start(a, "SOLO")).id_tag_info["status"] == "Accepted"
            assert (await start(b, "solo")).id_tag_info["status"] == "ConcurrentTx"
            # a repeated StartTransaction (lost answer) is the same transaction, not a second
            again = await start(a, "SOLO")
            assert again.id_tag_info["status"] == "Accepted"
            assert (await start(a, "SHARED", connector_id=2)).id_tag_info["status"] == "Accepted"
            assert (await start(b, "SHARED", connector_id=2)).id_tag_info["status"] == "Accepted"
            third = await start(b, "SHARED", connector_id=3)
            assert third.id_tag_info["status"] == "ConcurrentTx"


async def test_blocked_group_blocks_its_members(sqlite_url: str) -> None:
    async with running(settings(sqlite_url)) as server, api(server) as client:
        await create_tokens(
            client,
            {"id_token": "FLEET-3", "type": "Central", "status": "Blocked"},
            {"id_token": "CARD-3", "group_id": "FLEET-3"},
        )
        async with charger16(server, "CP-A") as cp:
            await cp.boot()
            answer = await authorize(cp, "CARD-3")
        assert answer == {"status": "Blocked", "parent_id_tag": "FLEET-3"}


async def test_token_restricted_to_other_charge_points_is_invalid_here(sqlite_url: str) -> None:
    async with running(settings(sqlite_url)) as server, api(server) as client:
        await create_tokens(
            client,
            {"id_token": "DEPOT", "valid_at": ["CP-A"]},
            {"id_token": "BAY-2", "valid_at": ["CP-B/2"]},
            {"id_token": "DEPOT-CARD", "group_id": "DEPOT"},  # inherits the group's locations
        )
        async with charger16(server, "CP-A") as a, charger16(server, "CP-B") as b:
            await a.boot()
            await b.boot()
            assert (await authorize(a, "DEPOT"))["status"] == "Accepted"
            assert (await authorize(b, "DEPOT"))["status"] == "Invalid"
            assert (await authorize(b, "DEPOT-CARD"))["status"] == "Invalid"
            assert (await authorize(a, "BAY-2"))["status"] == "Invalid"
            assert (await authorize(b, "BAY-2"))["status"] == "Accepted"
            wrong_bay = await start(b, "BAY-2", connector_id=1)
            assert wrong_bay.id_tag_info["status"] == "Invalid"
            await b.call(  # as a charger with StopTransactionOnInvalidId does
                call.StopTransaction(
                    meter_stop=1000,
                    timestamp=iso(T0),
                    transaction_id=wrong_bay.transaction_id,
                    reason="DeAuthorized",
                )
            )
            assert (await start(b, "BAY-2", connector_id=2)).id_tag_info["status"] == "Accepted"


async def test_token_of_a_closed_account_is_blocked(sqlite_url: str) -> None:
    async with running(settings(sqlite_url)) as server, api(server) as client:
        ledger = Ledger(server.ems.store.engine)
        ledger.open_account("wallet", "EUR", account_id="anna")
        await create_tokens(client, {"id_token": "ANNA", "account_id": "anna"})
        async with charger16(server, "CP-A") as cp:
            await cp.boot()
            assert (await authorize(cp, "ANNA"))["status"] == "Accepted"
            ledger.update_account("anna", status="closed")
            assert (await authorize(cp, "ANNA"))["status"] == "Blocked"


async def test_offline_start_with_a_token_blocked_meanwhile_gets_the_real_status(
    sqlite_url: str,
) -> None:
    """The charger accepted the card offline (from its list); the late StartTransaction.conf
    says Blocked, so a charger with StopTransactionOnInvalidId stops, and ems keeps both the
    transaction and a record of the deauthorization."""
    async with running(settings(sqlite_url)) as server, api(server) as client:
        await create_tokens(client, {"id_token": "LOST", "status": "Blocked"})
        async with charger16(server, "CP-A") as cp:
            await cp.boot()
            started = await start(cp, "LOST", minutes=-90)
            stop = await cp.call(
                call.StopTransaction(
                    meter_stop=4000,
                    timestamp=iso(T0),
                    transaction_id=started.transaction_id,
                    reason="DeAuthorized",
                )
            )
        assert started.id_tag_info["status"] == "Blocked"
        assert stop.id_tag_info is None
        await server.ems.recorder.barrier()
        [event] = server.ems.store.events_of("CP-A", "transaction_deauthorized")
        assert event.payload["id_token"] == "LOST"
        assert event.payload["transaction_id"] == str(started.transaction_id)
        [tx] = server.ems.store.list_transactions(charge_point_id="CP-A")
        assert tx.stop_reason == "DeAuthorized" and tx.energy_wh == 3000


@pytest.mark.parametrize("status", ["Blocked", "Expired"])
async def test_stop_with_a_token_answers_its_status(sqlite_url: str, status: str) -> None:
    async with running(settings(sqlite_url)) as server, api(server) as client:
        await create_tokens(client, {"id_token": "RUN"}, {"id_token": "OTHER", "status": status})
        async with charger16(server, "CP-A") as cp:
            await cp.boot()
            started = await start(cp, "RUN")
            stop = await cp.call(
                call.StopTransaction(
                    meter_stop=2000,
                    timestamp=iso(T0 + timedelta(hours=1)),
                    transaction_id=started.transaction_id,
                    id_tag="OTHER",
                )
            )
        assert stop.id_tag_info["status"] == status

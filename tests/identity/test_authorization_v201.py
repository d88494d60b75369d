"""OCPP 2.0.1 Authorize and TransactionEvent answers for each token case, over real WebSockets."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ocpp.v201 import call

from ems.config import Settings
from tests.conftest import make_settings, running
from tests.identity.helpers import T0, api, create_tokens, iso, station201

CHARGE_POINTS = [{"id": cs, "security_profile": 0} for cs in ("CS-1", "CS-2")]


def settings(url: str) -> Settings:
    return make_settings(url, charge_points=CHARGE_POINTS)


def token(id_token: str, type_: str = "ISO14443") -> dict[str, str]:
    return {"id_token": id_token, "type": type_}


async def authorize(cs: Any, id_token: str, type_: str = "ISO14443") -> dict[str, Any]:
    answer = await cs.call(call.Authorize(id_token=token(id_token, type_)))
    info: dict[str, Any] = answer.id_token_info
    return info


def event(
    kind: str, tx_id: str, seq_no: int, *, evse_id: int = 1, minutes: int = 0, **extra: Any
) -> call.TransactionEvent:
    return call.TransactionEvent(
        event_type=kind,
        timestamp=iso(T0 + timedelta(minutes=minutes)),
        trigger_reason=extra.pop("trigger_reason", "Authorized"),
        seq_no=seq_no,
        transaction_info={"transaction_id": tx_id},
        evse={"id": evse_id, "connector_id": 1},
        **extra,
    )


async def test_each_status_is_answered_on_sqlite_and_postgresql(database_url: str) -> None:
    async with running(settings(database_url)) as server, api(server) as client:
        past = server.ems.csms.clock() - timedelta(seconds=1)
        await create_tokens(
            client,
            {"id_token": "GOOD", "type": "eMAID", "group_id": "FLEET"},
            {"id_token": "BLOCKED", "status": "Blocked"},
            {"id_token": "OUTDATED", "expires_at": iso(past)},
            {"id_token": "INVALID", "status": "Invalid"},
            {"id_token": "BAYS", "valid_at": ["CS-1/2", "CS-1/3"]},
            {"id_token": "OTHER-SITE", "valid_at": ["CS-2"]},
        )
        async with station201(server, "CS-1") as cs:
            await cs.boot()
            assert await authorize(cs, "GOOD", "eMAID") == {
                "status": "Accepted",
                "group_id_token": {"id_token": "FLEET", "type": "Central"},
            }
            assert (await authorize(cs, "BLOCKED"))["status"] == "Blocked"
            assert (await authorize(cs, "OUTDATED"))["status"] == "Expired"
            assert (await authorize(cs, "INVALID"))["status"] == "Invalid"
            assert (await authorize(cs, "NOBODY"))["status"] == "Unknown"
            assert await authorize(cs, "BAYS") == {"status": "Accepted", "evse_id": [2, 3]}
            assert (await authorize(cs, "OTHER-SITE"))["status"] == "NotAtThisLocation"


async def test_blocked_token_in_a_transaction_event_is_answered_blocked(sqlite_url: str) -> None:
    async with running(settings(sqlite_url)) as server, api(server) as client:
        await create_tokens(client, {"id_token": "BLOCKED", "status": "Blocked"})
        async with station201(server, "CS-1") as cs:
            await cs.boot()
            started = await cs.call(event("Started", "t-1", 0, id_token=token("BLOCKED")))
        assert started.id_token_info["status"] == "Blocked"
        await server.ems.recorder.barrier()
        [deauthorized] = server.ems.store.events_of("CS-1", "transaction_deauthorized")
        assert deauthorized.payload["offline"] is False


async def test_concurrent_transactions_and_later_events_of_the_first(sqlite_url: str) -> None:
    async with running(settings(sqlite_url)) as server, api(server) as client:
        await create_tokens(client, {"id_token": "SOLO"})
        async with station201(server, "CS-1") as one, station201(server, "CS-2") as two:
            await one.boot()
            await two.boot()
            first = await one.call(event("Started", "t-1", 0, id_token=token("SOLO")))
            second = await two.call(event("Started", "t-2", 0, id_token=token("SOLO")))
            # the first transaction's later events with its token stay Accepted
            later = await one.call(
                event("Updated", "t-1", 1, minutes=5, id_token=token("SOLO"))
            )
        assert first.id_token_info["status"] == "Accepted"
        assert second.id_token_info["status"] == "ConcurrentTx"
        assert later.id_token_info["status"] == "Accepted"


async def test_token_authorizing_a_running_transaction_on_the_wrong_evse_is_invalid(
    sqlite_url: str,
) -> None:
    """TxStartPoint EVConnected: the transaction starts without a token; it comes later."""
    async with running(settings(sqlite_url)) as server, api(server) as client:
        await create_tokens(client, {"id_token": "BAY-2", "valid_at": ["CS-1/2"]})
        async with station201(server, "CS-1") as cs:
            await cs.boot()
            plugged = await cs.call(event("Started", "t-1", 0, trigger_reason="CablePluggedIn"))
            wrong = await cs.call(event("Updated", "t-1", 1, id_token=token("BAY-2")))
            right = await cs.call(event("Started", "t-2", 0, evse_id=2, id_token=token("BAY-2")))
        assert plugged.id_token_info is None
        assert wrong.id_token_info == {"status": "NotAtThisLocation"}
        assert right.id_token_info == {"status": "Accepted", "evse_id": [2]}


async def test_offline_transaction_with_an_unknown_token_is_answered_and_kept(
    sqlite_url: str,
) -> None:
    """Started offline, queued, sent on reconnection: the response carries the real status;
    stopping is the station's StopTxOnInvalidId / MaxEnergyOnInvalidId decision."""
    async with running(settings(sqlite_url)) as server:
        async with station201(server, "CS-1") as cs:
            await cs.boot()
            started = await cs.call(
                event("Started", "t-off", 0, minutes=-60, offline=True, id_token=token("STRANGER"))
            )
            ended = await cs.call(
                event(
                    "Ended",
                    "t-off",
                    1,
                    minutes=-30,
                    offline=True,
                    trigger_reason="Deauthorized",
                    id_token=token("STRANGER"),
                )
            )
        assert started.id_token_info["status"] == "Unknown"
        assert ended.id_token_info["status"] == "Unknown"
        await server.ems.recorder.barrier()
        [deauthorized] = server.ems.store.events_of("CS-1", "transaction_deauthorized")
        assert deauthorized.payload["offline"] is True
        assert deauthorized.payload["status"] == "Unknown"
        [tx] = server.ems.store.list_transactions(charge_point_id="CS-1")
        assert tx.offline and not tx.active


async def test_no_authorization_start_is_accepted_without_lookup(sqlite_url: str) -> None:
    async with running(settings(sqlite_url)) as server:
        async with station201(server, "CS-1") as cs:
            await cs.boot()
            free = await cs.call(
                event("Started", "t-free", 0, id_token=token("", "NoAuthorization"))
            )
        assert free.id_token_info == {"status": "Accepted"}

"""Local authorization lists in step with the token table: Full, Differential, versions,
VersionMismatch, chargers without lists, and cache clearing when a token loses its rights."""

from __future__ import annotations

from typing import Any

from ems.config import Settings
from tests.conftest import make_settings, running
from tests.identity.helpers import api, charger16, create_tokens, station201

CHARGE_POINTS = [{"id": cp, "security_profile": 0} for cp in ("CP-A", "CP-B", "CS-1")]
LONG_ID = "E" * 25  # fits 2.0.1 (36), not 1.6 (20)


def settings(url: str) -> Settings:
    return make_settings(url, charge_points=CHARGE_POINTS)


def statuses(local_list: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {key: info["status"] for key, info in local_list.items()}


async def test_full_list_then_differentials_and_cache_clearing(database_url: str) -> None:
    async with running(settings(database_url)) as server, api(server) as client:
        await create_tokens(
            client,
            {"id_token": "A"},
            {"id_token": "B", "group_id": "FLEET"},
            {"id_token": "C", "status": "Blocked"},
            {"id_token": "D", "valid_at": ["CP-B"]},
            {"id_token": LONG_ID},
        )
        async with charger16(server, "CP-A", per_message=2) as cp:
            await cp.boot()
            await cp.until(lambda: cp.list_version == 2)
            # three entries in messages of two: a Full, then a Differential with the rest
            assert cp.updates == [("Full", 1, ["A", "B"]), ("Differential", 2, ["C"])]
            assert statuses(cp.local_list) == {"A": "Accepted", "B": "Accepted", "C": "Blocked"}
            assert cp.local_list["B"]["parent_id_tag"] == "FLEET"
            assert cp.cache_clears == 0

            # blocking a token: the cache is cleared and only that entry goes out
            response = await client.patch("/id-tokens/B", json={"status": "Blocked"})
            assert response.status_code == 200, response.text
            # (the list update and the cache clearing are separate calls: wait for both)
            await cp.until(lambda: cp.list_version == 3 and cp.cache_clears == 1)
            assert cp.updates[-1] == ("Differential", 3, ["B"])
            assert cp.local_list["B"]["status"] == "Blocked"

            # a new token grants more: no cache clearing
            await create_tokens(client, {"id_token": "F"})
            await cp.until(lambda: cp.list_version == 4)
            assert cp.updates[-1] == ("Differential", 4, ["F"]) and cp.cache_clears == 1

            # a deleted token leaves the list and the cache
            assert (await client.delete("/id-tokens/A")).status_code == 204
            await cp.until(lambda: cp.list_version == 5 and cp.cache_clears == 2)
            assert cp.updates[-1] == ("Differential", 5, ["A"])
            assert "A" not in cp.local_list

            # a Differential refused with VersionMismatch is followed by the full list
            cp.answers = ["VersionMismatch"]
            await create_tokens(client, {"id_token": "G"})
            await cp.until(lambda: cp.list_version == 7)
            assert cp.updates[-3:] == [
                ("Differential", 6, ["G"]),
                ("Full", 6, ["F", "G"]),
                ("Differential", 7, ["B", "C"]),
            ]
            expected = {"B": "Blocked", "C": "Blocked", "F": "Accepted", "G": "Accepted"}
            assert statuses(cp.local_list) == expected
            # a sync waits for the one under way; then the charger has nothing to catch up on
            outcome = (await client.post("/local-auth-lists/CP-A/sync")).json()
            assert (outcome["action"], outcome["version"]) == ("none", 7)
            states = (await client.get("/local-auth-lists")).json()
            state = next(s for s in states if s["charge_point_id"] == "CP-A")
            assert (state["version"], state["status"], state["connected"]) == (7, "Accepted", True)

        # the charger lost its list (a reset): at its next boot the version differs -> Full
        async with charger16(server, "CP-A", per_message=10) as cp:
            await cp.boot()
            await cp.until(lambda: bool(cp.updates))
            assert cp.updates == [("Full", 8, ["F", "G", "B", "C"])]
            assert statuses(cp.local_list) == expected
            # nothing changed since: a sync sends nothing
            outcome = (await client.post("/local-auth-lists/CP-A/sync")).json()
            assert (outcome["action"], outcome["version"]) == ("none", 8)
            assert len(cp.updates) == 1


async def test_station_201_list_carries_types_evses_and_long_ids(sqlite_url: str) -> None:
    async with running(settings(sqlite_url)) as server, api(server) as client:
        await create_tokens(
            client,
            {"id_token": "A", "type": "ISO15693"},
            {"id_token": "BAY", "type": "Central", "valid_at": ["CS-1/2"]},
            {"id_token": LONG_ID, "type": "eMAID"},
            {"id_token": "ELSEWHERE", "valid_at": ["CP-A"]},
        )
        async with station201(server, "CS-1") as cs:
            await cs.boot()
            await cs.until(lambda: cs.list_version == 1)
        assert cs.updates == [("Full", 1, ["A", "BAY", LONG_ID])]
        assert cs.local_list["BAY"] == {"status": "Accepted", "evse_id": [2]}
        assert cs.local_list["A"] == {"status": "Accepted"}


async def test_charger_without_local_list_still_gets_its_cache_cleared(sqlite_url: str) -> None:
    async with running(settings(sqlite_url)) as server, api(server) as client:
        await create_tokens(client, {"id_token": "A"})
        async with charger16(server, "CP-A", list_enabled=False) as cp:
            await cp.boot()
            outcome = (await client.post("/local-auth-lists/CP-A/sync")).json()
            assert outcome["action"] == "not_supported"
            assert (await client.patch("/id-tokens/A", json={"status": "Blocked"})).is_success
            await cp.until(lambda: cp.cache_clears == 1)
            assert cp.updates == []


async def test_chargers_are_left_alone_while_there_are_no_tokens(sqlite_url: str) -> None:
    async with running(settings(sqlite_url)) as server, api(server) as client:
        async with charger16(server, "CP-A") as cp:
            await cp.boot()
            outcome = (await client.post("/local-auth-lists/CP-A/sync")).json()
            assert (outcome["action"], outcome["detail"]) == ("none", "no id tokens")
            assert (cp.config_reads, cp.updates, cp.cache_clears) == (0, [], 0)
        offline = await client.post("/local-auth-lists/CP-A/sync")
        assert offline.status_code == 409
        assert (await client.post("/local-auth-lists/NOPE/sync")).status_code == 404

"""Token CSV import/export (line-numbered errors, all or nothing) and the token REST API."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from ems.identity import CsvImportError, Location, TokenRecord, TokenStatus, TokenType
from ems.identity.tokens_csv import read_tokens_csv, write_tokens_csv
from ems.payments import Ledger
from tests.conftest import make_settings, running
from tests.identity.helpers import api

GOOD_CSV = (
    "id_token,type,status,expires_at,group_id,account_id,max_concurrent_tx,valid_at,label\n"
    "04A1B2C3,ISO14443,Accepted,2027-01-31T23:59:59Z,FLEET,,,,Anna\n"
    "FLEET,Central,Accepted,,,fleet-acme,3,CP-1 CP-2/2,\"Acme, vans\"\n"
    "E0040100,ISO15693,Blocked,,,,,,\n"
)


def test_csv_rows_become_records_and_export_reads_back_the_same() -> None:
    records = [record for _, record in read_tokens_csv(GOOD_CSV)]
    assert records[0] == TokenRecord(
        "04A1B2C3",
        TokenType.ISO14443,
        TokenStatus.ACCEPTED,
        datetime(2027, 1, 31, 23, 59, 59, tzinfo=UTC),
        group_id="FLEET",
        label="Anna",
    )
    assert records[1].valid_at == (Location("CP-1"), Location("CP-2", 2))
    assert records[1].max_concurrent_tx == 3 and records[1].label == "Acme, vans"
    again = [record for _, record in read_tokens_csv(write_tokens_csv(records))]
    assert again == records


def test_every_bad_row_is_reported_with_its_line_and_column() -> None:
    text = (
        "id_token,type,status,expires_at,valid_at,max_concurrent_tx\n"
        "OK-1,ISO14443,Accepted,,,\n"
        "BAD-TYPE,Barcode,Accepted,,,\n"
        "BAD-DATE,,,tomorrow,,\n"
        "NAIVE,,,2027-01-01T00:00:00,,\n"
        "\n"
        ",,,,,\n"
        "ok-1,,,,,\n"
        "BAD-STATUS,,ConcurrentTx,,,\n"
        "BAD-WHERE,,,,CP 1/x,\n"
        "BAD-MAX,,,,,0\n"
        f"{'X' * 37},,,,,\n"
    )
    with pytest.raises(CsvImportError) as caught:
        read_tokens_csv(text)
    where = [(e.line, e.field) for e in caught.value.errors]
    assert where == [
        (3, "type"),
        (4, "expires_at"),
        (5, "expires_at"),
        (8, "id_token"),  # ok-1 repeats OK-1 (ids are case-insensitive)
        (9, "status"),
        (10, "valid_at"),
        (11, "max_concurrent_tx"),
        (12, "id_token"),
    ]
    assert "line 2" in caught.value.errors[3].message


def test_unknown_or_missing_columns_are_refused() -> None:
    with pytest.raises(CsvImportError, match=r"unknown column.*colour.*id_token is required"):
        read_tokens_csv("colour,type\nred,ISO14443\n")


async def test_import_export_round_trip_over_http(database_url: str) -> None:
    async with running(make_settings(database_url)) as server, api(server) as client:
        Ledger(server.ems.store.engine).open_account("fleet", "EUR", account_id="fleet-acme")
        imported = await client.post(
            "/id-tokens.csv", content=GOOD_CSV, headers={"Content-Type": "text/csv"}
        )
        assert imported.json() == {"created": 3, "updated": 0}, imported.text
        exported = await client.get("/id-tokens.csv")
        assert exported.headers["content-type"].startswith("text/csv")
        stored = sorted(read_tokens_csv(exported.text), key=lambda r: r[1].id_token)
        sent = sorted(read_tokens_csv(GOOD_CSV), key=lambda r: r[1].id_token)
        assert [r for _, r in stored] == [r for _, r in sent]

        # importing it again changes nothing but counts as updates
        again = await client.post("/id-tokens.csv", content=exported.text)
        assert again.json() == {"created": 0, "updated": 3}

        # one bad row (an unknown account, line 3): nothing of the file is saved
        bad = "id_token,account_id\nNEW-1,\nNEW-2,no-such-account\n"
        refused = await client.post("/id-tokens.csv", content=bad)
        assert refused.status_code == 422
        assert refused.json()["errors"] == [
            {
                "line": 3,
                "field": "account_id",
                "message": "'no-such-account' is no open wallet or fleet account",
            }
        ]
        assert (await client.get("/id-tokens/NEW-1")).status_code == 404


async def _created(client: httpx.AsyncClient, body: dict[str, object]) -> dict[str, object]:
    response = await client.post("/id-tokens", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result


async def test_token_crud_filters_and_errors(sqlite_url: str) -> None:
    async with running(make_settings(sqlite_url)) as server, api(server) as client:
        Ledger(server.ems.store.engine).open_account("wallet", "EUR", account_id="anna")
        anna = await _created(
            client,
            {"id_token": "04A1", "account_id": "anna", "label": "Anna", "valid_at": ["CP-1/2"]},
        )
        assert anna["status"] == anna["effective_status"] == "Accepted"
        assert anna["valid_at"] == ["CP-1/2"] and anna["type"] == "ISO14443"
        await _created(client, {"id_token": "VAN-1", "type": "Central", "group_id": "ACME"})
        await _created(client, {"id_token": "ACME", "type": "Central", "status": "Blocked"})

        conflict = await client.post("/id-tokens", json={"id_token": "04a1"})
        assert conflict.status_code == 409 and "'04A1' exists" in conflict.json()["detail"]
        bad = await client.post("/id-tokens", json={"id_token": "X", "valid_at": ["CP 1"]})
        assert bad.status_code == 422 and bad.json()["detail"].startswith("body.valid_at:")
        no_account = await client.post("/id-tokens", json={"id_token": "Y", "account_id": "z"})
        assert no_account.status_code == 422 and "body.account_id" in no_account.json()["detail"]
        naive = await client.post(
            "/id-tokens", json={"id_token": "Z", "expires_at": "2027-01-01T00:00:00"}
        )
        assert naive.status_code == 422

        van = (await client.get("/id-tokens/van-1")).json()
        assert (van["status"], van["effective_status"]) == ("Accepted", "Blocked")  # group
        members = (await client.get("/id-tokens", params={"group_id": "acme"})).json()
        assert [t["id_token"] for t in members] == ["VAN-1"]
        blocked = (await client.get("/id-tokens", params={"status": "Blocked"})).json()
        assert [t["id_token"] for t in blocked] == ["ACME"]
        found = (await client.get("/id-tokens", params={"search": "ann"})).json()
        assert [t["id_token"] for t in found] == ["04A1"]
        at_cp2 = (await client.get("/id-tokens", params={"charge_point_id": "CP-2"})).json()
        assert [t["id_token"] for t in at_cp2] == ["ACME", "VAN-1"]  # 04A1 is CP-1 only

        patched = await client.patch("/id-tokens/04a1", json={"valid_at": [], "label": None})
        assert patched.status_code == 200, patched.text
        assert patched.json()["valid_at"] == [] and patched.json()["label"] is None
        assert patched.json()["account_id"] == "anna"  # fields not sent are kept
        assert (await client.delete("/id-tokens/04A1")).status_code == 204
        assert (await client.delete("/id-tokens/04A1")).status_code == 404
        assert (await client.patch("/id-tokens/NONE", json={})).status_code == 404

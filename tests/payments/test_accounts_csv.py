"""Wallets and fleet accounts in bulk over the API: CSV import (all rows checked first) and
export with balances."""

from __future__ import annotations

import csv
import io

from tests.api.helpers import api_client
from tests.conftest import ADMIN_TOKEN, make_settings, running

GOOD = """id,kind,currency,name,credit_limit,opening_balance
ana,wallet,EUR,Ana,,25.50
acme-fleet,fleet,EUR,ACME vans,500,
"""

BAD = """id,kind,currency,name,credit_limit,opening_balance
bob,wallet,EUR,Bob,,1.234
bob,wallet,EUR,Bob again,,
carl,bus,EUR,Carl,,
dora,wallet,XXX,Dora,,
erin,wallet,EUR,Erin,10,
"""


async def test_accounts_import_and_export(sqlite_url: str) -> None:
    async with running(make_settings(sqlite_url)) as server, api_client(server, ADMIN_TOKEN) as api:
        csv_headers = {"Content-Type": "text/csv"}
        refused = await api.post("/accounts.csv", content=BAD, headers=csv_headers)
        assert refused.status_code == 422
        problems = {(e["line"], e["field"]) for e in refused.json()["errors"]}
        assert problems == {
            (2, "opening_balance"),  # more decimals than the currency has
            (3, "id"),  # twice in the file
            (4, "kind"),
            (5, "currency"),
            (6, "credit_limit"),  # a wallet is prepaid
        }
        assert (await api.get("/accounts", params={"kind": "wallet"})).json() == []

        opened = await api.post("/accounts.csv", content=GOOD, headers=csv_headers)
        assert opened.status_code == 201, opened.text
        by_id = {a["id"]: a for a in opened.json()}
        assert by_id["ana"]["balance"] == "25.50" and by_id["ana"]["kind"] == "wallet"
        assert by_id["acme-fleet"]["credit_limit"] == "500.00"

        again = await api.post("/accounts.csv", content=GOOD, headers=csv_headers)
        assert again.status_code == 422  # the ids are taken: nothing is opened twice
        assert {e["line"] for e in again.json()["errors"]} == {2, 3}

        exported = await api.get("/accounts.csv")
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        rows = {r["id"]: r for r in csv.DictReader(io.StringIO(exported.text))}
        assert set(rows) == {"ana", "acme-fleet"}
        assert rows["ana"]["balance"] == "25.50" and rows["acme-fleet"]["available"] == "0.00"

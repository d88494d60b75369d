"""The load generator's ledger and the checker that compares it with the database.

A checker that never finds anything proves nothing: after a clean run it must find nothing, and
after the database is damaged in each way it looks for, it must name exactly that damage.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sqlalchemy import ColumnElement, and_, create_engine, delete, insert, select, update

from ems.sim.ledger import AckedSample, Ledger
from ems.sim.load import Load, LoadPlan
from ems.sim.verify import verify
from ems.store.models import meter_samples, transactions
from tests.conftest import make_settings, running
from tests.dbs import sqlite_url

PLAN = LoadPlan(charge_points=4, transactions=2, meter_values=3)


async def clean_run(database_url: str) -> Ledger:
    settings = make_settings(
        database_url,
        ocpp={
            "auto_register": True,
            "auto_register_status": "Accepted",
            "accept_unknown_id_tokens": True,
        },
    )
    async with running(settings) as server:
        return await Load(f"ws://127.0.0.1:{server.port}/ocpp", PLAN).run()


def row_of(sample: AckedSample) -> ColumnElement[bool]:
    s = meter_samples.c
    return and_(
        s.charge_point_id == sample.charge_point_id,
        s.timestamp == sample.timestamp,
        s.measurand == sample.measurand,
    )


async def test_a_clean_run_is_acknowledged_completely_and_found_complete(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    ledger = await clean_run(url)

    per_tx = PLAN.charge_points * PLAN.transactions
    assert (len(ledger.starts), len(ledger.stops), ledger.errors) == (per_tx, per_tx, [])
    assert ledger.tx_acked == PLAN.transaction_messages
    # 1.6: 4 readings per MeterValues; 2.0.1: the same plus the register at start and end
    assert len(ledger.samples) == per_tx * PLAN.meter_values * 4 + per_tx // 2 * 2
    assert sorted(set(ledger.versions.values())) == ["1.6", "2.0.1"]
    report = verify(ledger, url)
    assert report.ok, report.summary()
    assert report.unacknowledged_transactions == []


async def test_verify_names_each_kind_of_damage(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    ledger = await clean_run(url)
    lost, unlinked, doubled = ledger.samples[0], ledger.samples[5], ledger.samples[9]
    unstopped = ledger.stops[1]
    v16 = [cp for cp, version in ledger.versions.items() if version == "1.6"]
    reissued = next(start for start in ledger.starts if start.charge_point_id == v16[1])
    ledger.issued_ids.append((v16[0], reissued.transaction_id))

    engine = create_engine(url)
    t = transactions.c
    with engine.begin() as db:
        db.execute(delete(meter_samples).where(row_of(lost)))
        db.execute(update(meter_samples).where(row_of(unlinked)).values(transaction_pk=None))
        copy = db.execute(select(meter_samples).where(row_of(doubled))).mappings().one()
        db.execute(insert(meter_samples).values({k: v for k, v in copy.items() if k != "id"}))
        db.execute(
            update(transactions)
            .where(t.charge_point_id == unstopped.charge_point_id)
            .where(t.transaction_id == unstopped.transaction_id)
            .values(stopped_at=None)
        )
    engine.dispose()

    report = verify(ledger, url)
    assert report.missing_samples == [lost]
    assert report.unlinked_samples == [unlinked]
    assert [(key[0], key[2], n) for key, n in report.duplicate_samples] == [
        (doubled.charge_point_id, doubled.measurand, 2)
    ]
    assert report.missing_stops == [(unstopped, "transaction not stopped")]
    assert list(report.duplicate_transaction_ids) == [reissued.transaction_id]
    assert report.missing_starts == []
    assert not report.ok

    ledger.starts.append(replace(reissued, meter_start_wh=reissued.meter_start_wh + 1))
    assert [why for _, why in verify(ledger, url).missing_starts] == [
        f"meter_start_wh is {reissued.meter_start_wh}"
    ]

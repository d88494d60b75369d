"""Compare what a load's charge points were told with what the database holds (Jepsen-style).

:func:`verify` reads ``transactions`` and ``meter_samples`` of the ledger's charge points and
reports every broken promise:

* **missing samples**: an acknowledged sample with no row of the same charge point, timestamp,
  measurand, phase and value;
* **unlinked samples**: stored, but not tied to the transaction the acknowledged message named
  (``transaction_pk`` is not the row of that charge point's transaction id);
* **missing starts**: an acknowledged start with no transaction row, or one whose start time or
  start register differ from what was acknowledged;
* **missing stops**: an acknowledged stop whose transaction is not stopped at that time with that
  meter value;
* **duplicate transaction ids**: a 1.6 transaction id the CSMS gave two different starts, or that
  names transactions of two charge points in the database;
* **duplicate samples**: the same charge point, timestamp, measurand, phase and value stored more
  than once (a resent message stored again).

It also lists the **unacknowledged transactions**: rows no acknowledged start names. A start
whose answer was lost is resent, and if the CSMS then opens a second transaction for it, the
first one stays behind. That is a broken promise only once every start was acknowledged (a load
stopped mid-way may leave a start in flight that the CSMS did store), so it is not part of
``Report.ok``; a test whose charge points all finished asserts it is empty.

Run it once the CSMS has stopped, or at least once it has written everything it acknowledged.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.pool import NullPool

from ems.sim.ledger import AckedSample, AckedStart, AckedStop, Ledger
from ems.store.models import meter_samples, transactions

SampleKey = tuple[str, datetime, str, str | None, float]

EXAMPLES = 5  # of each kind of finding in a summary


@dataclass
class Report:
    """Every acknowledged item the database does not hold as acknowledged, and duplicates."""

    acked_samples: int = 0
    acked_starts: int = 0
    acked_stops: int = 0
    missing_samples: list[AckedSample] = field(default_factory=list)
    unlinked_samples: list[AckedSample] = field(default_factory=list)
    missing_starts: list[tuple[AckedStart, str]] = field(default_factory=list)
    missing_stops: list[tuple[AckedStop, str]] = field(default_factory=list)
    duplicate_transaction_ids: dict[str, list[str]] = field(default_factory=dict)
    duplicate_samples: list[tuple[SampleKey, int]] = field(default_factory=list)
    unacknowledged_transactions: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.missing_samples
            or self.unlinked_samples
            or self.missing_starts
            or self.missing_stops
            or self.duplicate_transaction_ids
            or self.duplicate_samples
        )

    def summary(self) -> str:
        """One line of counts, then a few examples of each finding."""
        lines = [
            f"acknowledged {self.acked_samples} samples, {self.acked_starts} starts, "
            f"{self.acked_stops} stops; missing {len(self.missing_samples)} samples, "
            f"{len(self.missing_starts)} starts, {len(self.missing_stops)} stops; "
            f"{len(self.unlinked_samples)} samples not tied to their transaction; "
            f"{len(self.duplicate_transaction_ids)} 1.6 transaction ids issued twice; "
            f"{len(self.duplicate_samples)} samples stored more than once; "
            f"{len(self.unacknowledged_transactions)} transactions stored that no acknowledged "
            "start names"
        ]
        lines += [f"  missing sample {s}" for s in self.missing_samples[:EXAMPLES]]
        lines += [f"  unlinked sample {s}" for s in self.unlinked_samples[:EXAMPLES]]
        lines += [f"  start {s}: {why}" for s, why in self.missing_starts[:EXAMPLES]]
        lines += [f"  stop {s}: {why}" for s, why in self.missing_stops[:EXAMPLES]]
        lines += [
            f"  transaction id {tx_id} issued to {', '.join(holders)}"
            for tx_id, holders in list(self.duplicate_transaction_ids.items())[:EXAMPLES]
        ]
        lines += [
            f"  sample {key} stored {n} times" for key, n in self.duplicate_samples[:EXAMPLES]
        ]
        return "\n".join(lines)


@dataclass(frozen=True)
class _Tx:
    pk: str
    started_at: datetime
    stopped_at: datetime | None
    meter_start_wh: float | None
    meter_stop_wh: float | None


def verify(ledger: Ledger, database_url: str) -> Report:
    """Check ``ledger`` against the database at ``database_url`` (see the module docstring)."""
    txs, by_wire_id, stored = _read(database_url, sorted(ledger.versions))
    report = Report(
        acked_samples=len(ledger.samples),
        acked_starts=len(ledger.starts),
        acked_stops=len(ledger.stops),
    )
    for start in ledger.starts:
        if (why := _start_problem(start, by_wire_id)) is not None:
            report.missing_starts.append((start, why))
    for stop in ledger.stops:
        if (why := _stop_problem(stop, by_wire_id)) is not None:
            report.missing_stops.append((stop, why))
    for sample in ledger.samples:
        key = (sample.charge_point_id, sample.timestamp, sample.measurand, sample.phase)
        links = stored.get((*key, sample.value))
        if not links:
            report.missing_samples.append(sample)
            continue
        tx = by_wire_id.get((sample.charge_point_id, sample.transaction_id))
        if tx is None or tx.pk not in links:
            report.unlinked_samples.append(sample)
    report.duplicate_samples = [(key, len(pks)) for key, pks in stored.items() if len(pks) > 1]
    report.duplicate_transaction_ids = _duplicate_ids(ledger, txs)
    acknowledged = {(start.charge_point_id, start.transaction_id) for start in ledger.starts}
    report.unacknowledged_transactions = sorted(set(txs) - acknowledged)
    return report


def _read(
    database_url: str, charge_point_ids: list[str]
) -> tuple[list[tuple[str, str]], dict[tuple[str, str], _Tx], dict[SampleKey, list[str | None]]]:
    """(charge point, transaction id) of every row, the rows by both, and the samples stored
    (each key with the ``transaction_pk`` of every row that has it)."""
    engine = create_engine(database_url, poolclass=NullPool)
    t, s = transactions.c, meter_samples.c
    try:
        with engine.connect() as connection:
            tx_rows: list[Any] = list(
                connection.execute(
                    select(
                        t.id,
                        t.charge_point_id,
                        t.transaction_id,
                        t.started_at,
                        t.stopped_at,
                        t.meter_start_wh,
                        t.meter_stop_wh,
                    ).where(t.charge_point_id.in_(charge_point_ids))
                )
            )
            sample_rows: list[Any] = list(
                connection.execute(
                    select(
                        s.charge_point_id,
                        s.timestamp,
                        s.measurand,
                        s.phase,
                        s.value,
                        s.transaction_pk,
                    ).where(s.charge_point_id.in_(charge_point_ids))
                )
            )
    finally:
        engine.dispose()
    by_wire_id = {
        (row.charge_point_id, row.transaction_id): _Tx(
            row.id, row.started_at, row.stopped_at, row.meter_start_wh, row.meter_stop_wh
        )
        for row in tx_rows
    }
    stored: dict[SampleKey, list[str | None]] = defaultdict(list)
    for row in sample_rows:
        key = (row.charge_point_id, row.timestamp, row.measurand, row.phase, row.value)
        stored[key].append(row.transaction_pk)
    pairs = [(row.charge_point_id, row.transaction_id) for row in tx_rows]
    return pairs, by_wire_id, stored


def _start_problem(start: AckedStart, txs: dict[tuple[str, str], _Tx]) -> str | None:
    tx = txs.get((start.charge_point_id, start.transaction_id))
    if tx is None:
        return "no transaction row"
    if tx.started_at != start.timestamp:
        return f"started_at is {tx.started_at.isoformat()}"
    if tx.meter_start_wh != start.meter_start_wh:
        return f"meter_start_wh is {tx.meter_start_wh}"
    return None


def _stop_problem(stop: AckedStop, txs: dict[tuple[str, str], _Tx]) -> str | None:
    tx = txs.get((stop.charge_point_id, stop.transaction_id))
    if tx is None:
        return "no transaction row"
    if tx.stopped_at is None:
        return "transaction not stopped"
    if tx.stopped_at != stop.timestamp:
        return f"stopped_at is {tx.stopped_at.isoformat()}"
    if tx.meter_stop_wh != stop.meter_stop_wh:
        return f"meter_stop_wh is {tx.meter_stop_wh}"
    return None


def _duplicate_ids(ledger: Ledger, rows: list[tuple[str, str]]) -> dict[str, list[str]]:
    """1.6 transaction ids acknowledged to two starts, or stored for two charge points."""
    v16 = {cp for cp, version in ledger.versions.items() if version == "1.6"}
    holders: dict[str, list[str]] = defaultdict(list)
    for charge_point_id, transaction_id in ledger.issued_ids:
        holders[transaction_id].append(f"{charge_point_id} (acknowledged)")
    stored: dict[str, list[str]] = defaultdict(list)
    for charge_point_id, transaction_id in rows:
        if charge_point_id in v16:
            stored[transaction_id].append(f"{charge_point_id} (stored)")
    return {
        tx_id: holders.get(tx_id, []) + stored.get(tx_id, [])
        for tx_id in sorted(holders.keys() | stored.keys())
        if len(holders.get(tx_id, [])) > 1 or len(stored.get(tx_id, [])) > 1
    }

"""The store's loads and queries return what was written, filtered and ordered as documented."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ems.domain import BootInfo, ConnectorStatus, IdToken, MeterSample, StatusReport
from ems.store import ChargePointRow, IdTokenRow, Recorder, Store
from tests.store.helpers import ENERGY, T0, at, energy, status, transaction


def test_timestamps_come_back_aware_in_utc_whatever_zone_went_in(
    store: Store, recorder: Recorder
) -> None:
    cest = timezone(timedelta(hours=2))
    local = datetime(2025, 7, 1, 14, 30, 15, 123456, tzinfo=cest)
    tx = transaction()
    tx.started_at = local
    recorder.transaction(tx)
    recorder.samples("cp-1", 1, 1, tx.id, [MeterSample(local, ENERGY, 1.0)])
    recorder.status("cp-1", StatusReport(1, 1, ConnectorStatus.AVAILABLE, local), current=True)
    recorder.frame("cp-1", "in", local, "[]")
    recorder.flush_sync()

    stamps = [
        store.get_transaction(tx.id).started_at,  # type: ignore[union-attr]
        store.samples_of(tx.id)[0].timestamp,
        store.connectors_of("cp-1")[0].timestamp,
        store.status_history("cp-1")[0].timestamp,
        store.frames_of("cp-1")[0].timestamp,
    ]
    for stamp in stamps:
        assert stamp == local
        assert stamp.tzinfo is UTC
        assert stamp.hour == 12 and stamp.microsecond == 123456


def test_filters_compare_instants_not_wall_clock_text(store: Store, recorder: Recorder) -> None:
    recorder.transaction(transaction(started_s=0))
    recorder.flush_sync()
    plus_one = timezone(timedelta(hours=1))
    just_after_in_another_zone = (T0 + timedelta(seconds=1)).astimezone(plus_one)
    assert store.list_transactions(until=just_after_in_another_zone) != []
    assert store.list_transactions(since=just_after_in_another_zone) == []


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(Exception, match="timezone-aware"):
        store.upsert_id_token(IdTokenRow("TAG", expires_at=datetime(2030, 1, 1)))


def test_status_history_is_newest_first_by_reported_time_even_when_it_arrived_late(
    store: Store, recorder: Recorder
) -> None:
    # reported times 30, 10, 20, 20 (arrival order); the queued-offline ones come last
    recorder.status("cp-1", status(30, ConnectorStatus.AVAILABLE), current=True)
    recorder.flush_sync()
    recorder.status("cp-1", status(10, ConnectorStatus.CHARGING), current=False)
    recorder.status("cp-1", status(20, ConnectorStatus.SUSPENDED_EV), current=False)
    recorder.status("cp-1", status(20, ConnectorStatus.FINISHING), current=False)
    recorder.status("cp-2", status(25, ConnectorStatus.FAULTED), current=True)
    recorder.flush_sync()

    history = store.status_history("cp-1")
    assert [(r.timestamp, r.status) for r in history] == [
        (at(30), ConnectorStatus.AVAILABLE),
        (at(20), ConnectorStatus.FINISHING),  # same time: the later arrival first
        (at(20), ConnectorStatus.SUSPENDED_EV),
        (at(10), ConnectorStatus.CHARGING),
    ]
    assert [r.timestamp for r in store.status_history("cp-1", limit=2)] == [at(30), at(20)]
    assert [r.timestamp for r in store.status_history("cp-1", before=at(20))] == [at(10)]


def test_list_transactions_filters_and_pages_newest_first(store: Store, recorder: Recorder) -> None:
    for n, (cp, token, start_s, stopped) in enumerate(
        [
            ("cp-1", "TAG-1", 0, True),
            ("cp-1", "TAG-2", 100, True),
            ("cp-2", "TAG-1", 200, False),
            ("cp-1", "TAG-1", 300, False),
        ]
    ):
        tx = transaction(f"tx-{n}", cp, str(n), started_s=start_s, token=token)
        if stopped:
            tx.stopped_at = at(start_s + 50)
        recorder.transaction(tx)
    recorder.flush_sync()

    def ids(**filters: object) -> list[str]:
        return [tx.id for tx in store.list_transactions(**filters)]  # type: ignore[arg-type]

    assert ids() == ["tx-3", "tx-2", "tx-1", "tx-0"]
    assert ids(charge_point_id="cp-1") == ["tx-3", "tx-1", "tx-0"]
    assert ids(active=True) == ["tx-3", "tx-2"]
    assert ids(active=False) == ["tx-1", "tx-0"]
    assert ids(since=at(100), until=at(300)) == ["tx-2", "tx-1"]
    assert ids(id_token="TAG-1", charge_point_id="cp-1") == ["tx-3", "tx-0"]
    assert ids(limit=2, offset=1) == ["tx-2", "tx-1"]
    assert [tx.id for tx in store.load_open_transactions()] == ["tx-2", "tx-3"]


def test_transactions_round_trip_by_either_id(store: Store, recorder: Recorder) -> None:
    tx = transaction(token=None)
    tx.offline = True
    tx.first_energy_register_wh = 10.0
    recorder.transaction(tx)
    tagged = transaction("tx-2", transaction_id="2")
    tagged.id_token = IdToken("04A1B2", "ISO15693")
    recorder.transaction(tagged)
    recorder.flush_sync()

    assert store.get_transaction("tx-1") == tx
    assert store.find_transaction("cp-1", "1") == tx
    assert store.find_transaction("cp-1", "2") == tagged
    assert store.find_transaction("cp-2", "1") is None
    assert store.get_transaction("nope") is None


def test_samples_of_a_transaction_are_ordered_by_time_and_filterable(
    store: Store, recorder: Recorder
) -> None:
    power = MeterSample(at(15), "Power.Active.Import", 7000.0, "W")
    recorder.samples("cp-1", 1, 1, "tx-1", [energy(20, 3.0), energy(10, 1.0), power])
    recorder.samples("cp-1", 1, 1, "tx-2", [energy(12, 99.0)])
    recorder.samples("cp-1", 1, 1, "tx-1", [energy(10, 2.0)])
    recorder.flush_sync()

    assert [s.value for s in store.samples_of("tx-1")] == [1.0, 2.0, 7000.0, 3.0]
    assert [s.value for s in store.samples_of("tx-1", measurand=ENERGY)] == [1.0, 2.0, 3.0]
    assert store.count_samples() == 5


def test_frames_page_back_newest_first(store: Store, recorder: Recorder) -> None:
    for i in range(5):
        recorder.frame("cp-1", "in" if i % 2 else "out", at(i), f"frame {i}")
    recorder.frame("cp-2", "in", at(0), "other")
    recorder.flush_sync()

    page = store.frames_of("cp-1", limit=2)
    assert [f.message for f in page] == ["frame 4", "frame 3"]
    older = store.frames_of("cp-1", before_id=page[-1].id)
    assert [f.message for f in older] == ["frame 2", "frame 1", "frame 0"]
    assert (older[0].direction, older[0].charge_point_id) == ("out", "cp-1")


def test_max_numeric_transaction_id_counts_only_digit_ids_of_ocpp16_charge_points(
    store: Store, recorder: Recorder
) -> None:
    assert store.max_numeric_transaction_id() == 0
    recorder.charge_point_boot("cp-16", "ocpp1.6", BootInfo("A", "B"), at(0))
    recorder.charge_point_boot("cp-201", "ocpp2.0.1", BootInfo("A", "B"), at(0))
    for n, (cp, wire_id) in enumerate(
        [
            ("cp-16", "9"),
            ("cp-16", "12"),  # numerically larger though "9" > "12" as text
            ("cp-16", "abc"),
            ("cp-16", "1e9"),
            ("cp-16", "-50"),
            ("cp-201", "99999"),
            ("cp-unknown", "777"),
        ]
    ):
        recorder.transaction(transaction(f"tx-{n}", cp, wire_id))
    recorder.flush_sync()
    assert store.max_numeric_transaction_id() == 12


def test_charge_points_are_upserted_listed_and_deleted(store: Store, recorder: Recorder) -> None:
    store.upsert_charge_point(ChargePointRow("cp-b", registration="Accepted"))
    store.upsert_charge_point(ChargePointRow("cp-a", security_profile=1, vendor="ACME"))
    store.upsert_charge_point(
        ChargePointRow("cp-a", registration="Rejected", security_profile=2, vendor="Other")
    )
    recorder.status("cp-a", status(0, ConnectorStatus.AVAILABLE), current=True)
    recorder.flush_sync()

    assert [cp.id for cp in store.list_charge_points()] == ["cp-a", "cp-b"]
    assert [cp.id for cp in store.load_charge_points()] == ["cp-a", "cp-b"]
    cp_a = store.get_charge_point("cp-a")
    assert cp_a is not None
    assert (cp_a.registration, cp_a.security_profile, cp_a.vendor) == ("Rejected", 2, "ACME")
    assert cp_a.created_at is not None and cp_a.created_at.tzinfo is UTC

    assert store.delete_charge_point("cp-a") is True
    assert store.delete_charge_point("cp-a") is False
    assert store.get_charge_point("cp-a") is None
    assert store.connectors_of("cp-a") == []
    assert store.status_history("cp-a") != []  # history is kept


def test_charge_point_with_invalid_registration_is_refused(store: Store) -> None:
    with pytest.raises(Exception, match=r"(?i)constraint|check"):
        store.upsert_charge_point(ChargePointRow("cp-1", registration="Maybe"))


def test_id_tokens_are_upserted_and_keep_their_creation_time(store: Store) -> None:
    assert store.get_id_token("TAG") is None
    store.upsert_id_token(IdTokenRow("TAG", created_at=at(0)))
    store.upsert_id_token(
        IdTokenRow("TAG", "ISO15693", "Blocked", expires_at=at(3600), group_id="FLEET")
    )
    assert store.get_id_token("TAG") == IdTokenRow(
        "TAG", "ISO15693", "Blocked", expires_at=at(3600), group_id="FLEET", created_at=at(0)
    )

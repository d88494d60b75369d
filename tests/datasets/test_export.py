"""Sessions ems recorded, exported as a session CSV that the loaders (and the replay) read."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import pytest

from ems.cli import main
from ems.datasets import load_sessions
from ems.store import Recorder, Store
from tests.store.helpers import at, transaction


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_finished_transactions_export_with_the_drivers_needs(
    tmp_path: Path,
    backend: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.dbs import postgres_database, sqlite_url

    with (
        postgres_database() if backend == "postgresql" else nullcontext(sqlite_url(tmp_path))
    ) as url:
        store = Store(url)
        store.migrate()
        recorder = Recorder(store, flush_interval_s=0.01)
        recorder.start()
        done = transaction("tx-1", started_s=0)
        done.meter_stop_wh, done.stopped_at = 13_500.0, at(3 * 3600)
        second = transaction("tx-2", charge_point_id="cp-2", transaction_id="2", started_s=60,
                             token=None)  # fmt: skip
        second.meter_stop_wh, second.stopped_at = 6_000.0, at(3600)
        running = transaction("tx-3", transaction_id="3", started_s=120)
        for tx in (done, second, running):
            recorder.transaction(tx)
        recorder.charging_need({
            "transaction_pk": "tx-1", "charge_point_id": "cp-1", "evse_id": 1,
            "source": "driver", "departure_at": at(4 * 3600), "energy_kwh": 20.0,
            "updated_at": at(10),
        })  # fmt: skip
        recorder.stop()
        store.dispose()

        out = tmp_path / "sessions.csv"
        monkeypatch.setenv("EMS_DATABASE_URL", url)
        assert main(["export-sessions", "--out", str(out)]) == 0
    assert "2 sessions written" in capsys.readouterr().out
    sessions = {s.session_id: s for s in load_sessions(out).sessions}
    assert set(sessions) == {"tx-1", "tx-2"}  # the running one is not history yet
    one = sessions["tx-1"]
    assert one.station_id == "cp-1/1" and one.id_token == "TAG-1"
    assert (one.arrival, one.departure) == (at(0), at(3 * 3600))
    assert one.energy_delivered_kwh == pytest.approx(12.5)
    assert one.energy_requested_kwh == 20.0 and one.estimated_departure == at(4 * 3600)
    two = sessions["tx-2"]
    assert two.energy_requested_kwh == two.energy_delivered_kwh == pytest.approx(5.0)
    assert two.estimated_departure is None and two.id_token is None


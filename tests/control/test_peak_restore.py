"""After a restart mid-month, the control loop starts from the peak it measured this month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ems.store import Recorder, Store
from tests.conftest import make_settings, running
from tests.control.test_live_e2e import SITE


def _cycle(cycle_id: int, at: datetime, measured_kw: float) -> dict[str, object]:
    return {
        "id": cycle_id, "site_id": "test", "started_at": at, "trigger": "interval",
        "duration_ms": 1.0, "solve_ms": 1.0, "status": "optimal", "solver": "lp-highs",
        "sessions": 1, "chargers": 4, "limits_sent": 0, "capacity_kw": 27.6,
        "planned_kw": measured_kw, "measured_kw": measured_kw, "unmet_kwh": 0.0,
        "energy_cost": 0.0, "notes": {},
    }  # fmt: skip


async def test_the_months_peak_survives_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ems.db'}"
    now = datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    store = Store(url)
    store.migrate()
    recorder = Recorder(store, flush_interval_s=0.01)
    recorder.start()
    recorder.control_cycle(_cycle(1, month_start - timedelta(hours=1), 99.0), [])  # last month
    recorder.control_cycle(_cycle(2, month_start + timedelta(minutes=1), 12.5), [])
    recorder.control_cycle(_cycle(3, now, 7.0), [])
    recorder.stop()
    assert store.control_peak_kw("test", month_start) == 12.5
    assert store.control_peak_kw("other", month_start) == 0.0
    store.dispose()

    site_path = tmp_path / "site.toml"
    site_path.write_text(SITE)
    async with running(make_settings(url, control={"sites": [site_path]})) as server:
        assert server.ems.control is not None
        live = server.ems.control.live["test"]
        assert live.peak_kw == 12.5
        assert live.snapshot(now).peak_so_far_kw == 12.5

"""``/metrics``: Prometheus metrics after real OCPP traffic, and the control loop's figures."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from ocpp.v16 import call
from prometheus_client.parser import text_string_to_metric_families

from ems.app import EmsServer
from ems.control.interface import (
    ActiveSession,
    ChargerView,
    LimitAnswer,
    LimitCommand,
    Snapshot,
)
from ems.control.loop import ControlLoop
from ems.logs import JsonFormatter
from ems.site import load_site
from tests.api.conftest import admin, server
from tests.api.helpers import charger, register
from tests.stats.seed import SITE_TOML

__all__ = ["admin", "server"]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(server: EmsServer, accept: str = "*/*") -> tuple[int, str, Samples]:
    """GET /metrics without any token: status, content type and every sample by name and labels."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
        response = await client.get("/metrics", headers={"Accept": accept})
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return response.status_code, response.headers["content-type"], samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_ocpp_calls_by_action_and_direction_and_show_live_state(
    server: EmsServer, admin: httpx.AsyncClient
) -> None:
    _, _, before = await scrape(server)
    await register(admin, "CP1")
    async with charger(server, "CP1") as cp:
        await cp.boot()
        for _ in range(3):
            await cp.call(call.Heartbeat())
        response = await admin.post("/charge-points/CP1/commands/reset", json={"kind": "Soft"})
        assert response.status_code == 200, response.text
        await cp._connection.send('[2, "m-1", "NoSuchAction", {}]')  # answered NotImplemented
        await asyncio.sleep(0.2)
        status, content_type, after = await scrape(server)

    assert status == 200
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    messages = "ems_ocpp_messages_total"
    assert delta(messages, direction="in", action="BootNotification") == 1
    assert delta(messages, direction="in", action="Heartbeat") == 3
    assert delta(messages, direction="out", action="Reset") == 1
    assert delta(messages, direction="in", action="unknown") == 1  # no label per bogus action
    assert not any(dict(labels).get("action") == "NoSuchAction" for _, labels in after)
    assert delta("ems_ocpp_call_errors_total", direction="out") == 1
    assert value(after, "ems_charge_points_connected", ocpp_version="1.6") == 1
    assert value(after, "ems_charge_points_known") == 1
    assert ("ems_recorder_backlog_operations", ()) in after
    assert ("ems_recorder_failed_batches_total", ()) in after
    assert ("process_resident_memory_bytes", ()) in after
    prometheus_accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    _, content_type, _ = await scrape(server, prometheus_accept)
    assert content_type.startswith("application/openmetrics-text; version=1.0.0")


class FakeSite:
    """A site interface with one charging car that accepts every limit (as a replay would)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def snapshot(self, now: datetime) -> Snapshot:
        session = ActiveSession(
            key="CP-A/1",
            session_id="S1",
            transaction_id="1",
            arrival=now - timedelta(hours=1),
            energy_delivered_kwh=5.0,
            measured_power_w=7400.0,
            charging=True,
        )
        views = {
            k: ChargerView(k, online=True, controllable=True)
            for k in ("CP-A/1", "CP-A/2", "CP-B/1")
        }
        return Snapshot(now=now, sessions=(session,), chargers=views)

    async def apply(self, commands: Sequence[LimitCommand]) -> Sequence[LimitAnswer]:
        return [LimitAnswer(c, accepted=True, status="Accepted") for c in commands]


async def test_control_cycles_are_timed_and_site_power_is_shown_against_its_limit(
    server: EmsServer, tmp_path: Path
) -> None:
    now = datetime(2026, 10, 5, 10, tzinfo=UTC)
    path = tmp_path / "limited.toml"
    path.write_text(SITE_TOML.replace("limit_a = 63", "limit_a = 63\nlimit_kw = 40"))
    loop = ControlLoop(load_site(path), FakeSite(now), clock=lambda: now)
    _, _, before = await scrape(server)
    await loop.cycle()
    await loop.cycle()
    _, _, after = await scrape(server)
    count = "ems_control_cycle_duration_seconds_count"
    assert value(after, count, site="office") - value(before, count, site="office") == 2
    solves = "ems_control_solve_duration_seconds_count"
    assert value(after, solves, site="office") - value(before, solves, site="office") == 2
    assert value(after, "ems_site_power_watts", site="office", source="measured") == 7400.0
    assert value(after, "ems_site_power_watts", site="office", source="planned") > 0
    assert value(after, "ems_site_power_limit_watts", site="office") == 40_000.0


def test_json_logs_are_one_object_per_line_with_time_level_logger_and_exception() -> None:
    record = logging.LogRecord("ems.csms", logging.ERROR, __file__, 1, "boom %s", ("x",), None)
    try:
        raise RuntimeError("broken")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert "\n" not in line
    assert (entry["level"], entry["logger"], entry["message"]) == ("ERROR", "ems.csms", "boom x")
    assert datetime.fromisoformat(entry["time"]).tzinfo is not None
    assert "RuntimeError: broken" in entry["exception"]


def test_json_logs_carry_the_fields_given_as_extra() -> None:
    logger = logging.getLogger("ems.control.live")
    record = logger.makeRecord(
        logger.name, logging.WARNING, __file__, 1, "%s is uncontrollable", ("CP-1/1",), None,
        extra={"charge_point_id": "CP-1", "site_id": "depot"},
    )  # fmt: skip
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "CP-1/1 is uncontrollable"
    assert (entry["charge_point_id"], entry["site_id"]) == ("CP-1", "depot")
    assert "args" not in entry and "lineno" not in entry  # the record's own fields stay out

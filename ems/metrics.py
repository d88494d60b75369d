"""Prometheus metrics at ``/metrics``: OCPP traffic, the control loop, live state.

Two kinds of metrics, one page:

* **Counted where it happens** (process-wide, since a process serves one ems): OCPP CALLs by
  action and direction (:func:`count_call`, from :mod:`ems.ocpp.rpc`), CALLERRORs
  (:func:`count_call_error`), refused handshakes and password lockouts
  (:func:`count_admission_refusal`, :func:`count_auth_lockout`, from :mod:`ems.ocpp.server` and
  :mod:`ems.ocpp.admission`), and per site the control cycle's duration, the optimizer's solve
  time and the site's power against its limit (:func:`observe_cycle`, from
  :mod:`ems.control.loop`). Rates (messages per second) are PromQL's job:
  ``rate(ems_ocpp_messages_total[1m])``.
* **Read at scrape time** from the running :class:`ems.app.Ems` (:class:`LiveCollector`):
  connected and known charge points, running transactions, the recorder's queue depth and
  failed batches; plus the process's CPU, memory and file descriptors.

The instruments are created on first use, not at import. ``/metrics`` is served without the API
token, as scrape endpoints usually are (Prometheus scrapes over the internal network; it exposes
counts, no identities or payloads): keep the port off the internet or put the scrape behind the
reverse proxy's authentication.

Metric names follow Prometheus conventions (base units: seconds, watts; ``_total`` counters).
Label values are bounded: actions outside the OCPP version's action list count as "unknown".
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from ems.app import Ems
    from ems.control.loop import CycleResult

log = logging.getLogger(__name__)

UNKNOWN_ACTION = "unknown"
# Cycle and solve times range from about a millisecond (small sites) to the solve budget.
_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Instruments:
    """The counters, histograms and gauges updated where things happen."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.messages = Counter(
            "ems_ocpp_messages",
            "OCPP CALLs by action and direction (in: from charge points, out: to them)",
            ["direction", "action"],
            registry=registry,
        )
        self.call_errors = Counter(
            "ems_ocpp_call_errors",
            "OCPP CALLERRORs by direction (out: sent by ems, in: answers of charge points)",
            ["direction"],
            registry=registry,
        )
        self.auth_lockouts = Counter(
            "ems_ocpp_auth_lockouts",
            "Lockouts after too many wrong charge point passwords, by scope (id or address)",
            ["scope"],
            registry=registry,
        )
        self.admission_refusals = Counter(
            "ems_ocpp_admission_refusals",
            "Refused OCPP WebSocket handshakes by HTTP status (401 credentials, 429 locked out, "
            "503 password checks busy, ...)",
            ["status"],
            registry=registry,
        )
        self.cycle_duration = Histogram(
            "ems_control_cycle_duration_seconds",
            "Duration of a site's control cycle: snapshot, solve, dispatch and answers",
            ["site"],
            buckets=_SECONDS_BUCKETS,
            registry=registry,
        )
        self.solve_duration = Histogram(
            "ems_control_solve_duration_seconds",
            "Time the optimizer took to plan a site",
            ["site"],
            buckets=_SECONDS_BUCKETS,
            registry=registry,
        )
        self.cycles = Counter(
            "ems_control_cycles",
            "Control cycles by site and plan status",
            ["site", "status"],
            registry=registry,
        )
        self.site_power = Gauge(
            "ems_site_power_watts",
            "A site's EV power at the latest cycle: measured (what chargers reported) or "
            "planned (the limits in force)",
            ["site", "source"],
            registry=registry,
        )
        self.site_limit = Gauge(
            "ems_site_power_limit_watts",
            "The site's grid connection power limit at the latest cycle (absent without one)",
            ["site"],
            registry=registry,
        )
        self.commit_latency = Histogram(
            "ems_recorder_commit_seconds",
            "From a message's writes being queued to their commit (its answer waits for it)",
            buckets=_SECONDS_BUCKETS,
            registry=registry,
        )
        self.batch_operations = Histogram(
            "ems_recorder_batch_operations",
            "Operations committed per database transaction (group commit)",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000),
            registry=registry,
        )
        self.backpressure = Counter(
            "ems_recorder_backpressure",
            "Times a connection waited before reading because the write backlog was full",
            registry=registry,
        )
        self.implausible = Counter(
            "ems_implausible_data",
            "Implausible but valid data kept and flagged for review, by kind",
            ["kind"],
            registry=registry,
        )
        self._calls: dict[tuple[str, str], Counter] = {}

    def call(self, direction: str, action: str) -> None:
        key = (direction, action)
        child = self._calls.get(key)
        if child is None:  # labels() takes a lock; the message path keeps its children
            child = self._calls[key] = self.messages.labels(direction, action)
        child.inc()


@functools.cache
def instruments() -> Instruments:
    """The process's instruments, created on first use."""
    return Instruments(CollectorRegistry())


def count_call(direction: str, action: str) -> None:
    """One OCPP CALL: ``direction`` "in" (from a charge point) or "out"; ``action`` must be
    one the OCPP version defines (or :data:`UNKNOWN_ACTION`), so labels stay bounded."""
    instruments().call(direction, action)


def observe_commits(latencies_s: list[float], operations: int) -> None:
    """One committed batch: how long each message in it waited [s], how many operations."""
    tools = instruments()
    for latency_s in latencies_s:
        tools.commit_latency.observe(latency_s)
    if operations:
        tools.batch_operations.observe(operations)


def count_backpressure() -> None:
    """A connection waits before reading its next frame: the write backlog is full."""
    instruments().backpressure.inc()


def count_implausible(kind: str) -> None:
    """Implausible data flagged (``kind`` e.g. "register_backwards", "status_in_future")."""
    instruments().implausible.labels(kind).inc()


def count_call_error(direction: str) -> None:
    """One CALLERROR: "out" when ems sends it, "in" when a charge point answers with one."""
    instruments().call_errors.labels(direction).inc()


def count_auth_lockout(scope: str) -> None:
    """A lockout started for a charge point id (``scope`` "id") or a remote "address"."""
    instruments().auth_lockouts.labels(scope).inc()


def count_admission_refusal(status: int) -> None:
    """A refused OCPP handshake, by its HTTP status code (a bounded set)."""
    instruments().admission_refusals.labels(str(status)).inc()


def observe_cycle(result: CycleResult) -> None:
    """Record a finished control cycle; never raises (metrics must not stop control)."""
    try:
        metrics = instruments()
        site = result.site_id
        metrics.cycle_duration.labels(site).observe(result.duration_s)
        metrics.solve_duration.labels(site).observe(result.plan.solve_time_s)
        metrics.cycles.labels(site, str(result.plan.status)).inc()
        metrics.site_power.labels(site, "planned").set(result.planned_kw * 1000.0)
        measured_kw = result.measured_kw
        if measured_kw is not None:
            metrics.site_power.labels(site, "measured").set(measured_kw * 1000.0)
        capacity_kw = result.capacity_kw
        if capacity_kw is not None:
            metrics.site_limit.labels(site).set(capacity_kw * 1000.0)
    except Exception:
        log.exception("control cycle metrics of site %s failed", result.site_id)


class LiveCollector(Collector):
    """Gauges read from a running ems when Prometheus scrapes."""

    def __init__(self, ems: Ems) -> None:
        self.ems = ems

    def collect(self) -> Iterable[Metric]:
        csms, recorder = self.ems.csms, self.ems.recorder
        connected = GaugeMetricFamily(
            "ems_charge_points_connected",
            "Charge points with an open OCPP connection, by OCPP version",
            labels=["ocpp_version"],
        )
        versions: dict[str, int] = {}
        for charge_point_id in list(csms.sessions):
            state = csms.charge_points.get(charge_point_id)
            # "1.6", "2.0.1", "2.1": the subprotocol without its "ocpp" prefix
            version = state.version.value.removeprefix("ocpp") if state and state.version else "?"
            versions[version] = versions.get(version, 0) + 1
        for version, count in sorted(versions.items()):
            connected.add_metric([version], count)
        yield connected
        yield GaugeMetricFamily(
            "ems_charge_points_known", "Charge points ems knows", value=len(csms.charge_points)
        )
        yield GaugeMetricFamily(
            "ems_transactions_active",
            "Transactions running now",
            value=len(csms.open_transactions()),
        )
        yield GaugeMetricFamily(
            "ems_recorder_backlog_operations",
            "Writes queued for the database and not yet committed",
            value=recorder.pending,
        )
        yield GaugeMetricFamily(
            "ems_recorder_backlog_max_operations",
            "The largest write backlog since ems started",
            value=recorder.backlog_max,
        )
        yield GaugeMetricFamily(
            "ems_recorder_backlog_limit_operations",
            "Backlog above which connections stop reading (database.max_backlog)",
            value=recorder.max_backlog,
        )
        yield CounterMetricFamily(
            "ems_recorder_failed_batches",
            "Recorder batches in which something could not be written",
            value=recorder.failed_batches,
        )


class _Instruments(Collector):
    """The process's instruments, as a collector of an app's registry."""

    def collect(self) -> Iterable[Metric]:
        yield from instruments().registry.collect()


def install_metrics(app: FastAPI) -> None:
    """Serve ``/metrics`` (no API token) for ``app.state.ems``: the Prometheus text format, or
    OpenMetrics when the scraper asks for it (``Accept``), as Prometheus itself does."""
    registry = CollectorRegistry()
    for collector in (
        _Instruments(),
        LiveCollector(app.state.ems),
        PROCESS_COLLECTOR,
        PLATFORM_COLLECTOR,
        GC_COLLECTOR,
    ):
        registry.register(collector)

    @app.get(
        "/metrics",
        tags=["observability"],
        summary="Prometheus metrics (text format or OpenMetrics; no API token needed)",
        response_class=Response,
        responses={
            200: {
                "content": {
                    "text/plain": {"schema": {"type": "string"}},
                    "application/openmetrics-text": {"schema": {"type": "string"}},
                }
            }
        },
    )
    async def metrics(request: Request) -> Response:
        encode, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encode(registry), media_type=content_type)

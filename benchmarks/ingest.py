"""Ingestion benchmark: MeterValues acknowledged only once stored, many charge points on loopback.

Each round starts a server as a child process, opens ``--connections`` OCPP 1.6 WebSockets from
this process (each boots; all stay open throughout) and lets ``--senders`` of them send
MeterValues with 7 sampled values back to back, each awaiting its answer, for ``--seconds``.
Rounds alternate between two servers, ems, library, ems, library ... (``--rounds`` of each; the
machine is shared and noisy, so the figures are medians):

* **ems**: ``python -m ems serve`` on a fresh database (SQLite in a temp folder, or with
  ``--postgres URL`` a fresh PostgreSQL database created next to the one URL names and dropped
  afterwards), every frame and sample persisted. While it runs, ``/metrics`` is scraped for the
  recorder's backlog (``ems_recorder_backlog_operations``). Afterwards ems is stopped with
  SIGTERM (what systemd and docker send) and every acknowledged sample is looked up in the
  database;
* **library**: the ``ocpp`` library's own minimal central system (``ocpp_lib_csms.py``: an
  ``ocpp.v16.ChargePoint`` with ``@on`` handlers, default validation, storing nothing), served by
  ``websockets.serve``. ``ratio_vs_ocpp_lib`` is ems's median rate over the library's.

Then one crash run: ems under the same stream from ``--senders`` connections, SIGKILLed after
``--crash-after`` seconds, restarted on the same database and stopped; ``crash_lost`` counts the
samples it had acknowledged that the database does not hold.

The load is lean so that it is not what is measured (client and servers share the machine's
cores): frames come from a template, answers are checked by their first bytes, each charge point
has a logical clock (2026-01-01T00:00:00Z plus one second per message) so that acknowledged
samples can be counted per charge point in the database afterwards.

Prints the figures, and as its last line a JSON object with the keys ``connections``,
``msgs_per_s``, ``p50_ms``, ``p99_ms``, ``lost_samples``, ``backlog_max``, ``crash_lost``,
``db`` and ``ratio_vs_ocpp_lib``.

    python benchmarks/ingest.py                                   # 10000 held, 200 sending, 30 s
    python benchmarks/ingest.py --connections 200 --seconds 5 --rounds 1      # quick smoke run
    python benchmarks/ingest.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import resource
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy
import websockets
from sqlalchemy import func, select

from ems.sim.process import ServerProcess, ems_server, free_port, write_ems_config
from ems.store.models import meter_samples

SAMPLES_PER_MESSAGE = 7
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z, the first sample of every charge point [s since epoch]
BACKLOG_GAUGE = "ems_recorder_backlog_max_operations"  # the largest backlog since ems started
HERE = Path(__file__).resolve().parent

FRAME = (
    '[2,"%d","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"%s","sampledValue":['
    '{"value":"%d","measurand":"Energy.Active.Import.Register","unit":"Wh"},'
    '{"value":"7200","measurand":"Power.Active.Import","unit":"W"},'
    '{"value":"10.4","measurand":"Current.Import","unit":"A","phase":"L1"},'
    '{"value":"10.5","measurand":"Current.Import","unit":"A","phase":"L2"},'
    '{"value":"10.3","measurand":"Current.Import","unit":"A","phase":"L3"},'
    '{"value":"231.0","measurand":"Voltage","unit":"V","phase":"L1-N"},'
    '{"value":"54","measurand":"SoC","unit":"Percent"}]}]}]'
)
BOOT = '[2,"b","BootNotification",{"chargePointVendor":"bench","chargePointModel":"K"}]'


def meter_values(seq: int) -> str:
    """The charge point's ``seq``-th MeterValues, sampled at T0 + seq seconds."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(T0 + seq))
    return FRAME % (seq, stamp, 1000 + 10 * seq)


@dataclass
class Round:
    """One server's run: what was acknowledged and how fast."""

    server: str
    connections: int = 0
    connect_s: float = 0.0
    seconds: float = 0.0
    client_cpu_s: float = 0.0  # the load generator's CPU time while streaming
    acked: dict[str, int] = field(default_factory=dict)  # MeterValues per charge point
    latencies: list[float] = field(default_factory=list)
    lost_samples: int | None = None
    backlog_max: float | None = None
    exit_status: int | None = None

    @property
    def messages(self) -> int:
        return sum(self.acked.values())

    @property
    def msgs_per_s(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    def percentile_ms(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000 if ordered else 0.0


# -- the client ------------------------------------------------------------------------------


async def open_charge_point(port: int, charge_point_id: str) -> websockets.ClientConnection:
    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/ocpp/{charge_point_id}",
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        open_timeout=120,
        close_timeout=2,
        ping_interval=None,
        compression=None,
    )
    answer = json.loads(await _call(ws, BOOT))
    if answer[0] != 3 or answer[2]["status"] != "Accepted":
        raise RuntimeError(f"boot of {charge_point_id} refused: {answer}")
    return ws


async def _call(ws: websockets.ClientConnection, frame: str) -> str:
    """Send a CALL, return its answer; CALLs from the server meanwhile are refused."""
    await ws.send(frame)
    answer = str(await ws.recv())
    while answer.startswith("[2,"):
        unique_id = json.loads(answer)[1]
        await ws.send(json.dumps([4, unique_id, "NotSupported", "benchmark client", {}]))
        answer = str(await ws.recv())
    return answer


async def open_all(
    port: int, ids: list[str], concurrency: int
) -> list[websockets.ClientConnection]:
    limit = asyncio.Semaphore(concurrency)

    async def opened(charge_point_id: str) -> websockets.ClientConnection:
        async with limit:
            return await open_charge_point(port, charge_point_id)

    return await asyncio.gather(*(opened(i) for i in ids))


async def send_meter_values(
    ws: websockets.ClientConnection, until: float, latencies: list[float]
) -> int:
    """MeterValues back to back until ``until`` (monotonic) or the connection drops; how many
    were acknowledged (they are the first ones: each awaits its answer)."""
    acked = 0
    clock, append = time.perf_counter, latencies.append
    with contextlib.suppress(websockets.ConnectionClosed):
        while time.monotonic() < until:
            began = clock()
            answer = await _call(ws, meter_values(acked))
            append(clock() - began)
            if not answer.startswith("[3,"):
                raise RuntimeError(f"MeterValues not acknowledged: {answer[:300]}")
            acked += 1
    return acked


async def close_all(connections: list[websockets.ClientConnection]) -> int:
    """Close every connection; how many were still open."""
    held = sum(1 for ws in connections if ws.state is websockets.State.OPEN)
    await asyncio.gather(*(ws.close() for ws in connections), return_exceptions=True)
    return held


async def scrape_gauges(port: int, result: Round, stop: asyncio.Event) -> None:
    """Keep the largest recorder backlog ``/metrics`` shows, read twice a second."""
    while not stop.is_set():
        with contextlib.suppress(OSError):
            value = gauge(await http_get(port, "/metrics"), BACKLOG_GAUGE)
            if value is not None:
                result.backlog_max = max(result.backlog_max or 0.0, value)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


async def http_get(port: int, path: str) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
        return (await reader.read()).decode(errors="replace").split("\r\n\r\n", 1)[-1]
    finally:
        writer.close()


def gauge(text: str, name: str) -> float | None:
    """The largest value of gauge ``name`` in a Prometheus text page; None if absent."""
    values = [
        float(line.rsplit("}", 1)[-1].split()[0] if "{" in line else line.split()[1])
        for line in text.splitlines()
        if line.startswith(name) and line[len(name) : len(name) + 1] in (" ", "{")
    ]
    return max(values, default=None)


# -- databases and counting ------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(folder: Path, postgres_url: str | None) -> Iterator[str]:
    """A fresh, empty database URL: a new SQLite file, or a new PostgreSQL database."""
    if postgres_url is None:
        yield f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:8]}.db'}"
        return
    admin = sqlalchemy.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = f"ems_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sqlalchemy.make_url(postgres_url).set(database=name).render_as_string(False)
    finally:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def lost_samples(database_url: str, acked: dict[str, int]) -> int:
    """Acknowledged samples the database does not hold: a charge point's first n MeterValues
    were acknowledged, so its samples before T0 + n s must all be there, once each."""
    s = meter_samples.c
    engine = sqlalchemy.create_engine(database_url)
    lost = 0
    try:
        with engine.connect() as connection:
            for charge_point_id, messages in acked.items():
                until = datetime.fromtimestamp(T0 + messages, UTC)
                distinct = (
                    select(s.timestamp, s.measurand, s.phase)
                    .where(s.charge_point_id == charge_point_id, s.timestamp < until)
                    .distinct()
                    .subquery()
                )
                stored = connection.execute(select(func.count()).select_from(distinct)).scalar_one()
                lost += messages * SAMPLES_PER_MESSAGE - int(stored)
    finally:
        engine.dispose()
    return lost


# -- rounds ----------------------------------------------------------------------------------


def charge_point_ids(count: int) -> list[str]:
    return [f"BENCH{i:05d}" for i in range(count)]


async def run_load(args: argparse.Namespace, port: int, result: Round, *, scrape: bool) -> None:
    """Connect and boot, stream for ``--seconds`` (scraping ``/metrics`` meanwhile), close."""
    ids = charge_point_ids(args.connections)
    began = time.monotonic()
    connections = await open_all(port, ids, args.connect_concurrency)
    result.connect_s = time.monotonic() - began
    senders = min(args.senders, len(connections))
    stop = asyncio.Event()
    scraping = asyncio.create_task(scrape_gauges(port, result, stop)) if scrape else None
    started, cpu = time.monotonic(), time.process_time()
    until = started + args.seconds
    counts = await asyncio.gather(
        *(send_meter_values(ws, until, result.latencies) for ws in connections[:senders])
    )
    result.seconds = time.monotonic() - started
    result.client_cpu_s = time.process_time() - cpu
    stop.set()
    if scraping is not None:
        await scraping
    result.acked = dict(zip(ids, counts, strict=False))
    result.connections = await close_all(connections)


async def ems_round(args: argparse.Namespace, folder: Path) -> Round:
    result = Round("ems")
    with fresh_database(folder, args.postgres) as database_url:
        server = start_ems(folder, database_url, args.port)
        try:
            await server.wait_listening()
            await run_load(args, server.port, result, scrape=True)
            result.exit_status = await server.stop(signal.SIGTERM, timeout_s=600)
        finally:
            server.ensure_stopped()
        result.lost_samples = lost_samples(database_url, result.acked)
    return result


async def library_round(args: argparse.Namespace, folder: Path) -> Round:
    result = Round("ocpp library")
    port = args.port or free_port()
    server = ServerProcess(
        [sys.executable, str(HERE / "ocpp_lib_csms.py"), "--port", str(port)],
        port,
        log_path=folder / "ocpp_lib_csms.log",
    )
    server.start()
    try:
        await server.wait_listening()
        await run_load(args, port, result, scrape=False)
        result.exit_status = await server.stop(signal.SIGTERM, timeout_s=600)
    finally:
        server.ensure_stopped()
    return result


async def crash_run(args: argparse.Namespace, folder: Path) -> int:
    """Acknowledged samples missing after a SIGKILL mid-stream and a restart."""
    ids = charge_point_ids(args.senders)
    with fresh_database(folder, args.postgres) as database_url:
        server = start_ems(folder, database_url, args.port)
        try:
            await server.wait_listening()
            connections = await open_all(server.port, ids, args.connect_concurrency)
            latencies: list[float] = []
            senders = [
                asyncio.create_task(send_meter_values(ws, math.inf, latencies))
                for ws in connections
            ]
            await asyncio.sleep(args.crash_after)
            await server.kill()
            acked = dict(zip(ids, await asyncio.gather(*senders), strict=True))
            await close_all(connections)
            server.start()
            await server.wait_listening()
            await server.stop(signal.SIGTERM, timeout_s=600)
        finally:
            server.ensure_stopped()
        return lost_samples(database_url, acked)


def start_ems(folder: Path, database_url: str, port: int) -> ServerProcess:
    port = port or free_port()
    config = write_ems_config(
        folder / "ems.toml",
        port=port,
        database_url=database_url,
        server={"ws_ping_interval_s": 300},
    )
    server = ems_server(config, port, folder / "ems.log")
    server.start()
    return server


# -- report ----------------------------------------------------------------------------------


def describe(result: Round) -> str:
    line = (
        f"{result.server:>12}: {result.msgs_per_s:8.0f} MeterValues/s, latency p50 / p99 "
        f"{result.percentile_ms(0.5):.1f} / {result.percentile_ms(0.99):.1f} ms, "
        f"{result.connections} connections held (booted in {result.connect_s:.1f} s), "
        f"load generator CPU {100 * result.client_cpu_s / result.seconds:.0f} %"
    )
    if result.lost_samples is not None:
        line += (
            f", samples acknowledged {result.messages * SAMPLES_PER_MESSAGE}, lost "
            f"{result.lost_samples}, recorder backlog max {result.backlog_max}"
        )
    if result.exit_status:
        line += f"; exit status {result.exit_status} after SIGTERM"
    return line


def summary(
    args: argparse.Namespace, ems: list[Round], library: list[Round], crash_lost: int
) -> dict[str, object]:
    ems_rate = statistics.median(r.msgs_per_s for r in ems)
    library_rate = statistics.median(r.msgs_per_s for r in library)
    backlogs = [r.backlog_max for r in ems if r.backlog_max is not None]
    return {
        "connections": min(r.connections for r in ems),
        "msgs_per_s": round(ems_rate, 1),
        "p50_ms": round(statistics.median(r.percentile_ms(0.5) for r in ems), 2),
        "p99_ms": round(statistics.median(r.percentile_ms(0.99) for r in ems), 2),
        "lost_samples": sum(r.lost_samples or 0 for r in ems),
        "backlog_max": max(backlogs) if backlogs else None,
        "crash_lost": crash_lost,
        "db": "postgresql" if args.postgres else "sqlite",
        "ratio_vs_ocpp_lib": round(ems_rate / library_rate, 3) if library_rate else None,
    }


async def benchmark(args: argparse.Namespace, folder: Path) -> dict[str, object]:
    ems: list[Round] = []
    library: list[Round] = []
    for number in range(1, args.rounds + 1):
        for rounds, run in ((ems, ems_round), (library, library_round)):
            result = await run(args, folder)
            rounds.append(result)
            print(f"round {number} {describe(result)}", flush=True)
    crash_lost = await crash_run(args, folder)
    print(
        f"crash run: SIGKILL after {args.crash_after:g} s of {args.senders} senders, restart: "
        f"{crash_lost} acknowledged samples missing",
        flush=True,
    )
    return summary(args, ems, library, crash_lost)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=10_000, help="held open, all booted")
    parser.add_argument("--senders", type=int, default=200, help="of them sending MeterValues")
    parser.add_argument("--seconds", type=float, default=30, help="of sending, per round")
    parser.add_argument("--rounds", type=int, default=3, help="of each server, alternating")
    parser.add_argument("--crash-after", type=float, default=3, help="seconds before SIGKILL")
    parser.add_argument("--connect-concurrency", type=int, default=100)
    parser.add_argument("--port", type=int, default=0, help="for every server; 0: a free one")
    parser.add_argument("--postgres", metavar="URL", help="write to PostgreSQL instead of SQLite")
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.connections + 100:
        print(f"warning: only {hard} open files allowed for {args.connections} connections")
    with tempfile.TemporaryDirectory(prefix="ems-bench-") as folder:
        try:
            import uvloop
        except ImportError:
            figures = asyncio.run(benchmark(args, Path(folder)))
        else:
            figures = uvloop.run(benchmark(args, Path(folder)))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

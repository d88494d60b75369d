"""Ingestion benchmark: many charge points on loopback, MeterValues back to back.

Starts one ``ems serve`` process (SQLite in a temp folder, schema validation on, every frame and
sample persisted), then from this process opens ``--connections`` OCPP 1.6 WebSockets (each boots),
and lets ``--senders`` of them send MeterValues with 7 sampled values back to back, each awaiting
its answer, for ``--seconds``. All connections stay open throughout. Afterwards the server is
stopped cleanly (it drains its write queue) and the samples in the database are counted against
the samples acknowledged.

Prints the figures, and as its last line a JSON object with the keys ``connections``,
``msgs_per_s``, ``p99_ms`` and ``lost_samples``.

    python benchmarks/ingest.py --connections 10000 --senders 200 --seconds 30
    python benchmarks/ingest.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

With ``--postgres URL`` the server writes to a fresh database created next to the one URL names
(and dropped afterwards) instead of SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy
import websockets

SAMPLES_PER_MESSAGE = 7


def raise_fd_limit() -> int:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def meter_values(seq: int) -> str:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    values = [
        {"value": str(1000 + seq), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"},
        {"value": "10.4", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
        {"value": "10.5", "measurand": "Current.Import", "unit": "A", "phase": "L2"},
        {"value": "10.3", "measurand": "Current.Import", "unit": "A", "phase": "L3"},
        {"value": "231.0", "measurand": "Voltage", "unit": "V", "phase": "L1-N"},
        {"value": "54", "measurand": "SoC", "unit": "Percent"},
    ]
    assert len(values) == SAMPLES_PER_MESSAGE
    payload = {"connectorId": 1, "meterValue": [{"timestamp": now, "sampledValue": values}]}
    return json.dumps([2, f"m{seq}", "MeterValues", payload], separators=(",", ":"))


@contextlib.contextmanager
def database(folder: Path, postgres_url: str | None) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file, or a new PostgreSQL database."""
    if postgres_url is None:
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    admin = sqlalchemy.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = f"ems_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    try:
        yield str(sqlalchemy.make_url(postgres_url).set(database=name))
    finally:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def count_samples(url: str) -> int:
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            query = "SELECT count(*) FROM meter_samples WHERE charge_point_id LIKE 'BENCH%'"
            return int(connection.execute(sqlalchemy.text(query)).scalar_one())
    finally:
        engine.dispose()


def start_server(folder: Path, port: int, database_url: str) -> subprocess.Popen[bytes]:
    config = folder / "bench.toml"
    config.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}
ws_ping_interval_s = 300

[database]
url = "{database_url}"

[ocpp]
auto_register = true
auto_register_status = "Accepted"

[logging]
level = "WARNING"
"""
    )
    return subprocess.Popen(
        [sys.executable, "-m", "ems", "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def wait_for_port(port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise RuntimeError(f"server did not listen on {port}")


async def open_charge_point(port: int, index: int) -> websockets.ClientConnection:
    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/ocpp/BENCH{index:05d}",
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        open_timeout=60,
        ping_interval=None,
        compression=None,
    )
    boot = '[2,"b","BootNotification",{"chargePointVendor":"bench","chargePointModel":"K"}]'
    await ws.send(boot)
    answer = json.loads(await ws.recv())
    if answer[0] != 3 or answer[2]["status"] != "Accepted":
        raise RuntimeError(f"boot refused: {answer}")
    return ws


async def sender(ws: websockets.ClientConnection, stop_at: float, latencies: list[float]) -> int:
    sent = 0
    while time.monotonic() < stop_at:
        frame = meter_values(sent)
        began = time.perf_counter()
        await ws.send(frame)
        answer = json.loads(await ws.recv())
        latencies.append(time.perf_counter() - began)
        if answer[0] != 3:
            raise RuntimeError(f"MeterValues not accepted: {answer}")
        sent += 1
    return sent


async def run(args: argparse.Namespace, port: int) -> dict[str, float]:
    await wait_for_port(port)
    began = time.monotonic()
    limit = asyncio.Semaphore(args.connect_concurrency)

    async def opened(i: int) -> websockets.ClientConnection:
        async with limit:
            return await open_charge_point(port, i)

    connections = await asyncio.gather(*(opened(i) for i in range(args.connections)))
    connect_s = time.monotonic() - began
    print(f"{len(connections)} charge points connected and booted in {connect_s:.1f} s", flush=True)

    latencies: list[float] = []
    stop_at = time.monotonic() + args.seconds
    started = time.monotonic()
    counts = await asyncio.gather(
        *(sender(ws, stop_at, latencies) for ws in connections[: args.senders])
    )
    elapsed = time.monotonic() - started
    held = sum(1 for ws in connections if ws.state is websockets.State.OPEN)
    for ws in connections:
        await ws.close()
    messages = sum(counts)
    latencies.sort()
    return {
        "connections": held,
        "connect_s": connect_s,
        "messages": messages,
        "msgs_per_s": messages / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--senders", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--connect-concurrency", type=int, default=100)
    parser.add_argument("--port", type=int, default=0, help="0: pick a free one")
    parser.add_argument("--postgres", metavar="URL", help="write to PostgreSQL instead of SQLite")
    args = parser.parse_args()
    raise_fd_limit()
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ems-bench-")))
        database_url = stack.enter_context(database(folder, args.postgres))
        port = args.port or _free_port()
        server = start_server(folder, port, database_url)
        try:
            try:
                import uvloop

                figures = uvloop.run(run(args, port))
            except ImportError:
                figures = asyncio.run(run(args, port))
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=300)
        persisted = count_samples(database_url)
    sent = int(figures["messages"]) * SAMPLES_PER_MESSAGE
    print(f"connections held:   {figures['connections']:.0f}")
    print(
        f"MeterValues:        {figures['messages']:.0f} in {args.seconds:g} s"
        f" from {args.senders} senders"
    )
    print(f"messages per second:{figures['msgs_per_s']:10.0f}")
    print(f"latency p50 / p99:  {figures['p50_ms']:.1f} / {figures['p99_ms']:.1f} ms")
    print(f"samples sent / persisted: {sent} / {persisted}")
    print(f"database:           {'PostgreSQL' if args.postgres else 'SQLite'}")
    print(
        json.dumps(
            {
                "connections": int(figures["connections"]),
                "msgs_per_s": round(figures["msgs_per_s"], 1),
                "p99_ms": round(figures["p99_ms"], 2),
                "lost_samples": sent - persisted,
            }
        )
    )


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    main()

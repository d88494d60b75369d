"""The ``ocpp`` library's own minimal central system: the yardstick of ``benchmarks/ingest.py``.

An ``ocpp.v16.ChargePoint`` subclass with ``@on`` handlers for BootNotification (Accepted) and
MeterValues, the library's default schema validation, storing nothing, one instance per
connection served by ``websockets.serve``, on uvloop when it is installed (as ems runs). It is
what a CSMS built the way the library's README shows does before it keeps anything, so ems's
throughput against it says what persistence (commit before acknowledge) and the rest of ems
cost.

    python benchmarks/ocpp_lib_csms.py --port 9100

SIGTERM or SIGINT stops it (exit status 0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import signal
from datetime import UTC, datetime
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, RegistrationStatus


class MinimalCentralSystem(ChargePoint):
    """The central system's side of one charge point's connection."""

    @on(Action.boot_notification)
    def on_boot_notification(
        self, charge_point_vendor: str, charge_point_model: str, **_: Any
    ) -> call_result.BootNotification:
        return call_result.BootNotification(
            current_time=datetime.now(UTC).isoformat(),
            interval=300,
            status=RegistrationStatus.accepted,
        )

    @on(Action.meter_values)
    def on_meter_values(
        self, connector_id: int, meter_value: list[dict[str, Any]], **_: Any
    ) -> call_result.MeterValues:
        return call_result.MeterValues()


async def serve_charge_point(connection: websockets.ServerConnection) -> None:
    assert connection.request is not None  # set once the handshake is done
    charge_point_id = connection.request.path.rstrip("/").rsplit("/", 1)[-1]
    with contextlib.suppress(websockets.ConnectionClosed):
        await MinimalCentralSystem(charge_point_id, connection).start()


async def serve(host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with websockets.serve(
        serve_charge_point,
        host,
        port,
        subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        ping_interval=None,
        compression=None,
        backlog=4096,
    ):
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.host, args.port))
    else:
        uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()

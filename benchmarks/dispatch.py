"""Dispatch benchmark: how long 1,000 limit changes take to reach 1,000 chargers and be answered.

Starts ems in this process with a site of N chargers under control (the loop's own interval
disabled: the benchmark sends), connects N minimal OCPP 1.6 charge points over real WebSockets
(each boots, starts a transaction and answers every SetChargingProfile Accepted at once), then
hands :meth:`ems.control.live.LiveSite.apply` N TxProfile limits at once, several rounds, and
measures until every answer is back. Client and server share this process and its two cores, so
the figure is conservative. The ocpp library allows one outstanding call per charge point; the
point is that ems never serializes across charge points.

Usage: ``python benchmarks/dispatch.py [--chargers 1000] [--rounds 5]``; the last line is a JSON
object with ``dispatch_ms_<N>`` (median) and ``interval_ms``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ems.app import Ems, EmsServer
from ems.config import load_settings
from ems.control.interface import LimitCommand

SITE = """
[site]
id = "bench"
name = "Dispatch benchmark"
timezone = "UTC"

[tariff]
id = "flat"
name = "Flat"
currency = "EUR"
energy = {{ kind = "flat", price_per_kwh = 0.25 }}

[control]
interval_s = 3600
profile_validity_s = 7200

[[circuits]]
id = "grid"
limit_a = {grid_a}

[[chargers]]
charge_point_id = "D{{n:04}}"
count = {n}
circuit = "grid"
"""


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def charge_point(url: str, cp_id: str, ready: asyncio.Event, counter: list[int]) -> None:
    """A minimal 1.6 charge point: boots, starts a transaction, accepts whatever ems asks."""
    async with websockets.connect(f"{url}/{cp_id}", subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]

        async def call(action: str, payload: dict[str, Any]) -> dict[str, Any]:
            await ws.send(json.dumps([2, f"{action}-{cp_id}", action, payload]))
            while True:
                message = json.loads(await ws.recv())
                if message[0] == 3:
                    return message[2]  # type: ignore[no-any-return]
                await answer(message)

        async def answer(message: list[Any]) -> None:
            if message[0] != 2:
                return
            action = message[2]
            result: dict[str, Any] = {"status": "Accepted"}
            if action == "GetConfiguration":
                result = {"configurationKey": [
                    {"key": "ChargingScheduleAllowedChargingRateUnit", "readonly": True,
                     "value": "Current"},
                    {"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": "8"},
                ]}  # fmt: skip
            elif action == "ChangeConfiguration":
                result = {"status": "Accepted"}
            elif action == "SetChargingProfile":
                counter[0] += 1
            await ws.send(json.dumps([3, message[1], result]))

        await call("BootNotification", {"chargePointVendor": "bench", "chargePointModel": "x"})
        status = {"connectorId": 1, "errorCode": "NoError", "status": "Charging"}
        await call("StatusNotification", {**status, "timestamp": now_text()})
        start = {"connectorId": 1, "idTag": "BENCH", "meterStart": 0}
        await call("StartTransaction", {**start, "timestamp": now_text()})
        ready.set()
        while True:
            await answer(json.loads(await ws.recv()))


async def run(n: int, rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        site_path = Path(folder) / "site.toml"
        site_path.write_text(SITE.format(n=n, grid_a=n * 32))
        settings = load_settings(
            None,
            server={"host": "127.0.0.1", "port": 0, "ws_ping_interval_s": None},
            database={"url": f"sqlite:///{Path(folder) / 'ems.db'}"},
            ocpp={
                "auto_register": True,
                "auto_register_status": "Accepted",
                "accept_unknown_id_tokens": True,
                "log_frames": False,
            },
            control={"sites": [site_path]},
        )
        server = EmsServer(Ems(settings))
        await server.start()
        url = f"ws://127.0.0.1:{server.port}/ocpp"
        counter = [0]
        events = [asyncio.Event() for _ in range(n)]
        tasks = []
        started = time.perf_counter()
        for i in range(n):
            tasks.append(asyncio.create_task(charge_point(url, f"D{i + 1:04}", events[i], counter)))
            if i % 100 == 99:
                await asyncio.sleep(0.05)
        await asyncio.gather(*(e.wait() for e in events))
        print(f"{n} charge points connected with a transaction in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        assert server.ems.control is not None
        live = server.ems.control.live["bench"]
        while not all(c.ready for c in live.chargers.values()):  # noqa: ASYNC110 (polling state)
            await asyncio.sleep(0.05)
        txs = {tx.charge_point_id: tx for tx in server.ems.csms.open_transactions()}
        times_ms = []
        for round_ in range(rounds):
            valid_until = datetime.now(UTC) + timedelta(seconds=120)
            commands = [
                LimitCommand(
                    key=f"{cp}/1", session_id=tx.id, transaction_id=tx.transaction_id,
                    limit_a=6.0 + (round_ + i) % 20, limit_w=0.0, number_phases=3,
                    valid_until=valid_until, reason="bench",
                )
                for i, (cp, tx) in enumerate(sorted(txs.items()))
            ]  # fmt: skip
            before = time.perf_counter()
            answers = await live.apply(commands)
            times_ms.append((time.perf_counter() - before) * 1000.0)
            accepted = sum(1 for a in answers if a.accepted)
            print(f"round {round_ + 1}: {len(commands)} limits sent and answered in "
                  f"{times_ms[-1]:.0f} ms ({accepted} accepted)")  # fmt: skip
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.stop()
    return {f"dispatch_ms_{n}": round(statistics.median(times_ms), 1), "interval_ms": 5000.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    figures = asyncio.run(run(args.chargers, args.rounds))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

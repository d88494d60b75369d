"""A raw OCPP-J charge point for the edge tests: any text frame out, exactly its answer back.

The ``ocpp`` package's ChargePoint cannot send what these tests need (2**64, NaN literals, lone
surrogates, truncated JSON), so frames are written by hand. CALLs ems sends on its own (after a
boot, say) are answered NotSupported and skipped, so that what comes back is the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import websockets

from ems.app import EmsServer

ANSWER_TIMEOUT_S = 30.0
"""A failure guard only: a missing answer fails the test instead of hanging it."""

CODES = {
    "ocpp1.6": frozenset(
        {
            "NotImplemented",
            "NotSupported",
            "InternalError",
            "ProtocolError",
            "SecurityError",
            "FormationViolation",
            "PropertyConstraintViolation",
            "OccurenceConstraintViolation",
            "TypeConstraintViolation",
            "GenericError",
        }
    ),
    "ocpp2.0.1": frozenset(
        {
            "FormatViolation",
            "GenericError",
            "InternalError",
            "MessageTypeNotSupported",
            "NotImplemented",
            "NotSupported",
            "OccurrenceConstraintViolation",
            "PropertyConstraintViolation",
            "ProtocolError",
            "RpcFrameworkError",
            "SecurityError",
            "TypeConstraintViolation",
        }
    ),
}
"""The CALLERROR codes each version defines (1.6 §4.2.3, 2.0.1 part 4 §4.3)."""

BOOT = {
    "ocpp1.6": {"chargePointVendor": "V", "chargePointModel": "M"},
    "ocpp2.0.1": {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}},
}


def frame(unique_id: str, action: str, payload: Any) -> str:
    """A CALL as text; NaN and infinities come out as the literals JSON does not allow."""
    return json.dumps([2, unique_id, action, payload], separators=(",", ":"), allow_nan=True)


class RawChargePoint:
    def __init__(self, ws: Any, subprotocol: str) -> None:
        self.ws = ws
        self.subprotocol = subprotocol

    async def send(self, text: str) -> list[Any]:
        """Send one frame and return the next frame that is not a CALL from ems."""
        await self.ws.send(text)
        return await self.answer()

    async def call(self, unique_id: str, action: str, payload: Any) -> list[Any]:
        return await self.send(frame(unique_id, action, payload))

    async def answer(self) -> list[Any]:
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), ANSWER_TIMEOUT_S))
            if message[0] != 2:
                return list(message)
            await self.ws.send(json.dumps([4, message[1], "NotSupported", "", {}]))


def port_of(server: EmsServer) -> int:
    assert server.port is not None, "the server is not listening"
    return server.port


@contextlib.asynccontextmanager
async def raw_charge_point(
    server: EmsServer, charge_point_id: str, subprotocol: str
) -> AsyncIterator[RawChargePoint]:
    """A charge point connected to ``server`` that has booted (and been accepted)."""
    async with websockets.connect(
        f"ws://127.0.0.1:{port_of(server)}/ocpp/{charge_point_id}",
        subprotocols=[subprotocol],  # type: ignore[list-item]
        open_timeout=10,
    ) as ws:
        cp = RawChargePoint(ws, subprotocol)
        answer = await cp.call("boot", "BootNotification", BOOT[subprotocol])
        assert answer[:2] == [3, "boot"] and answer[2]["status"] == "Accepted", answer
        yield cp

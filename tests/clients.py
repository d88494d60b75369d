"""Real OCPP clients for the end-to-end tests: the ``ocpp`` package's ChargePoint on websockets."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import websockets
from ocpp.charge_point import ChargePoint

CP = TypeVar("CP", bound=ChargePoint)


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@contextlib.asynccontextmanager
async def connected(
    cls: type[CP],
    port: int,
    charge_point_id: str,
    *,
    subprotocol: str,
    headers: dict[str, str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    **options: Any,
) -> AsyncIterator[CP]:
    """A charge point of class ``cls`` connected to ems and serving its messages."""
    scheme = "wss" if ssl_context is not None else "ws"
    async with websockets.connect(
        f"{scheme}://127.0.0.1:{port}/ocpp/{charge_point_id}",
        subprotocols=[subprotocol],  # type: ignore[list-item]
        additional_headers=headers,
        ssl=ssl_context,
        open_timeout=10,
        **options,
    ) as ws:
        cp = cls(charge_point_id, ws)
        task = asyncio.create_task(cp.start())
        try:
            yield cp
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await task


async def raw_exchange(ws: Any, frame: str, timeout_s: float = 30.0) -> Any:
    """Send a raw text frame and return the decoded answer."""
    import json

    await ws.send(frame)
    return json.loads(await asyncio.wait_for(ws.recv(), timeout_s))

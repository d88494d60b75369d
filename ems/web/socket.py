"""``/web/live``: the dashboard's live updates over a WebSocket.

A browser cannot put an ``Authorization`` header on a WebSocket, so the client sends its API
token as the first message, ``{"token": "..."}``, within :data:`AUTH_TIMEOUT_S`. A missing,
unknown or revoked token closes the socket with code 4401; the token is checked again every
:data:`REVERIFY_S`, so a revoked token stops receiving within that time.

Messages to the client (JSON):

``{"type": "hello", "name", "role"}``
    the token was accepted;
``{"type": "state", "at", "evses": [...], "sites": [...]}``
    everything, once, right after ``hello`` (see :class:`ems.web.feed.LiveFeed` for the fields);
``{"type": "update", "at", "evses": [...], "sites": [...]}``
    the EVSEs that changed since the last message, and every site's load: sent
    :data:`COALESCE_S` after an event (a burst of meter values makes one update) and at least
    every :data:`HEARTBEAT_S`, so the load chart moves on and is never more than about one
    second behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect

from ems.api.auth import CACHE_TTL_S, TokenCache
from ems.app import Ems
from ems.store import ApiTokenRow
from ems.web.feed import LiveFeed

log = logging.getLogger(__name__)

AUTH_TIMEOUT_S = 10.0
COALESCE_S = 0.1
HEARTBEAT_S = 1.0
REVERIFY_S = CACHE_TTL_S
CLOSE_UNAUTHORIZED = 4401


async def verify(websocket: WebSocket, token: str) -> ApiTokenRow | None:
    """The token's row, through the API's cache (the same rule as the REST API's bearer check)."""
    if not token:
        return None
    cache: TokenCache = websocket.app.state.api_token_cache
    row = cache.get(token)
    if row is None:
        ems: Ems = websocket.app.state.ems
        row = await run_in_threadpool(ems.store.verify_api_token, token)
        if row is not None:
            cache.put(token, row)
    return row


async def _receive_token(websocket: WebSocket) -> str:
    message = await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT_S)
    try:
        data = json.loads(message)
    except ValueError:
        return ""
    token = data.get("token") if isinstance(data, dict) else None
    return token if isinstance(token, str) else ""


async def live_endpoint(websocket: WebSocket) -> None:
    """Authenticate, send the whole state, then the changes until the client goes away."""
    await websocket.accept()
    try:
        token = await _receive_token(websocket)
    except (TimeoutError, WebSocketDisconnect):
        with contextlib.suppress(RuntimeError):
            await websocket.close(CLOSE_UNAUTHORIZED, 'send {"token": ...} first')
        return
    principal = await verify(websocket, token)
    if principal is None:
        await websocket.close(CLOSE_UNAUTHORIZED, "invalid or revoked API token")
        return
    feed: LiveFeed = websocket.app.state.live_feed
    sender = asyncio.create_task(_send_updates(websocket, feed, token, principal))
    try:
        while True:  # the client sends nothing more; this notices when it leaves
            await websocket.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender


async def _send_updates(
    websocket: WebSocket, feed: LiveFeed, token: str, principal: ApiTokenRow
) -> None:
    loop = asyncio.get_running_loop()
    await websocket.send_json({"type": "hello", "name": principal.name, "role": principal.role})
    version = feed.version
    evses = feed.evses()
    sent: dict[str, dict[str, Any]] = {e["key"]: e for e in evses}
    now = feed.ems.csms.clock().isoformat()
    await websocket.send_json({"type": "state", "at": now, "evses": evses, "sites": feed.sites()})
    verified_at = loop.time()
    while True:
        await feed.wait(version, HEARTBEAT_S)
        if feed.version > version:
            await asyncio.sleep(COALESCE_S)
        if loop.time() - verified_at > REVERIFY_S:
            if await verify(websocket, token) is None:
                await websocket.close(CLOSE_UNAUTHORIZED, "API token revoked")
                return
            verified_at = loop.time()
        version = feed.version
        changed = [e for e in feed.evses() if sent.get(e["key"]) != e]
        sent.update((e["key"], e) for e in changed)
        now = feed.ems.csms.clock().isoformat()
        await websocket.send_json(
            {"type": "update", "at": now, "evses": changed, "sites": feed.sites()}
        )

"""Admission under abuse: password lockouts, bounded Argon2, ids that must decode exactly.

A real ems on a free port, real WebSocket handshakes. The limiter's clock is driven by the test
(``Clock``), never slept on; no assertion depends on how long anything took.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import websockets
from ocpp.v16 import ChargePoint as V16ChargePoint
from ocpp.v16 import call
from websockets.exceptions import InvalidStatus

from ems.app import EmsServer
from ems.config import Settings
from ems.ocpp.admission import Admission
from tests.clients import basic_auth, connected
from tests.conftest import make_settings, running

PASSWORD = "right-password-00001"
WRONG = "wrong-password-000001"
CHARGE_POINTS = [
    {"id": cp_id, "security_profile": 1, "password": PASSWORD} for cp_id in ("P1", "P2", "P3", "P4")
]


class Clock:
    """A monotonic clock [s] the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Outcome:
    status: int  # 101: admitted
    retry_after: str | None = None
    body: str = ""


async def attempt(port: int, cp_id: str, password: str, *, user: str | None = None) -> Outcome:
    """One handshake with HTTP Basic credentials; closed at once when admitted."""
    try:
        async with websockets.connect(
            f"ws://127.0.0.1:{port}/ocpp/{cp_id}",
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            additional_headers=basic_auth(user or cp_id, password),
            open_timeout=60,
        ):
            return Outcome(101)
    except InvalidStatus as refused:
        response = refused.response
        return Outcome(
            response.status_code, response.headers.get("Retry-After"), response.body.decode()
        )


async def boots(port: int, cp_id: str, password: str) -> str:
    """Connect with the password and boot: the charge point's registration answer."""
    headers = basic_auth(cp_id, password)
    async with connected(V16ChargePoint, port, cp_id, subprotocol="ocpp1.6", headers=headers) as cp:
        boot = call.BootNotification(charge_point_model="M", charge_point_vendor="V")
        return str((await cp.call(boot)).status)


@contextlib.asynccontextmanager
async def ems_with_clock(settings: Settings) -> AsyncIterator[tuple[EmsServer, Clock]]:
    clock = Clock()
    async with running(settings) as server:
        server.ems.admission.close()
        server.ems.admission = Admission(settings.admission, clock=clock)
        yield server, clock


def locked_body(scope: str) -> str:
    return f"too many wrong passwords for this {scope}; try again later"


def limits(url: str, **admission: Any) -> Settings:
    return make_settings(url, charge_points=CHARGE_POINTS, admission=admission)


async def test_wrong_passwords_lock_the_id_out_but_not_a_charger_that_proved_its_password(
    sqlite_url: str,
) -> None:
    async with ems_with_clock(limits(sqlite_url, failures_per_address=0)) as (server, _):
        port = server.port
        assert port is not None
        assert await boots(port, "P1", PASSWORD) == "Accepted"  # P1's password is now known
        for _ in range(5):
            assert (await attempt(port, "P1", WRONG)).status == 401
        locked = await attempt(port, "P1", WRONG)
        assert (locked.status, locked.retry_after) == (429, "60")
        assert locked.body == locked_body("id")
        assert (await attempt(port, "P1", WRONG, user="P2")).status == 429
        assert await boots(port, "P1", PASSWORD) == "Accepted"
        assert (await attempt(port, "P2", PASSWORD)).status == 101  # other ids are not locked
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            metrics = (await client.get("/metrics")).text
    assert 'ems_ocpp_auth_lockouts_total{scope="id"}' in metrics
    assert 'ems_ocpp_admission_refusals_total{status="429"}' in metrics


async def test_lockout_ends_on_the_limiters_clock_and_the_next_one_lasts_twice_as_long(
    sqlite_url: str,
) -> None:
    async with ems_with_clock(limits(sqlite_url, failures_per_address=0)) as (server, clock):
        port = server.port
        assert port is not None
        for _ in range(5):
            assert (await attempt(port, "P1", WRONG)).status == 401
        # a password never verified before needs Argon2, which a lockout does not allow
        assert (await attempt(port, "P1", PASSWORD)).status == 429
        clock.now += 59
        assert (await attempt(port, "P1", WRONG)) == Outcome(429, "1", locked_body("id"))
        clock.now += 1
        for _ in range(5):
            assert (await attempt(port, "P1", WRONG)).status == 401
        assert (await attempt(port, "P1", WRONG)).retry_after == "120"
        clock.now += 120
        assert await boots(port, "P1", PASSWORD) == "Accepted"


async def test_wrong_passwords_from_one_address_lock_the_address_out(sqlite_url: str) -> None:
    settings = limits(sqlite_url, failures_per_id=0, failures_per_address=4)
    async with ems_with_clock(settings) as (server, clock):
        port = server.port
        assert port is not None
        assert await boots(port, "P4", PASSWORD) == "Accepted"
        for cp_id in ("P1", "P1", "P2", "P2"):
            assert (await attempt(port, cp_id, WRONG)).status == 401
        refused = await attempt(port, "P3", WRONG)
        assert refused == Outcome(429, "60", locked_body("address"))
        assert (await attempt(port, "P3", PASSWORD)).status == 429
        assert await boots(port, "P4", PASSWORD) == "Accepted"  # verified before the lockout
        clock.now += 60
        assert await boots(port, "P3", PASSWORD) == "Accepted"


async def raw_handshake(port: int, raw_path: str) -> tuple[int, str]:
    """A WebSocket upgrade request with ``raw_path`` written as is; (status, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            (
                f"GET {raw_path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
            ).encode("ascii")
        )
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        status = int(head.split(" ", 2)[1])
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        body = (await reader.readexactly(length)).decode() if length else ""
        return status, body
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


@pytest.mark.parametrize(
    "raw_id, reason",
    [
        ("%FF", "not valid UTF-8"),
        ("CP%C3", "not valid UTF-8"),
        ("CP%00X", "control or format characters"),
        ("CP%0D%0AX", "control or format characters"),
        ("CP%E2%80%AE1", "control or format characters"),
    ],
)
async def test_ids_that_do_not_decode_exactly_are_refused_and_nothing_is_registered(
    sqlite_url: str, raw_id: str, reason: str
) -> None:
    settings = make_settings(sqlite_url, ocpp={"auto_register": True})
    async with running(settings) as server:
        assert server.port is not None
        status, body = await raw_handshake(server.port, f"/ocpp/{raw_id}")
        assert status == 400 and reason in body
        status, _ = await raw_handshake(server.port, "/ocpp/CP%2D1")  # "CP-1", encoded exactly
        assert status == 101
        known = set(server.ems.csms.charge_points)
    assert known == {"CP-1"}
    stored = server.ems.store
    stored_ids = {row.id for row in stored.load_charge_points()}
    assert stored_ids == {"CP-1"}


async def test_a_connected_charger_keeps_being_served_while_wrong_passwords_hammer_ems(
    sqlite_url: str,
) -> None:
    """Lockouts are off here, so every guess reaches the password executor: its bound alone
    keeps the legitimate charger's Authorize and Heartbeat going."""
    settings = make_settings(
        sqlite_url,
        charge_points=CHARGE_POINTS,
        admission={"failures_per_id": 0, "failures_per_address": 0},
        ocpp={"accept_unknown_id_tokens": True},
    )
    async with ems_with_clock(settings) as (server, _):
        port = server.port
        assert port is not None
        hammering = asyncio.Event()
        legitimate_done = asyncio.Event()
        statuses: list[int] = []

        async def hammer() -> None:
            while not legitimate_done.is_set():
                wave = [attempt(port, f"P{1 + i % 3}", WRONG) for i in range(60)]
                hammering.set()
                statuses.extend(outcome.status for outcome in await asyncio.gather(*wave))

        headers = basic_auth("P4", PASSWORD)
        round_trips = 0
        async with connected(
            V16ChargePoint, port, "P4", subprotocol="ocpp1.6", headers=headers
        ) as cp:
            boot = call.BootNotification(charge_point_model="M", charge_point_vendor="V")
            assert (await cp.call(boot)).status == "Accepted"
            attack = asyncio.create_task(hammer())
            await hammering.wait()
            for _ in range(20):
                answer = await cp.call(call.Authorize(id_tag="TAG-1"))
                assert answer.id_tag_info["status"] == "Accepted"
                await cp.call(call.Heartbeat())
                round_trips += 1
            legitimate_done.set()
            await attack
    assert round_trips == 20
    assert 503 in statuses  # refused at once: the password executor was full
    assert set(statuses) <= {401, 503}

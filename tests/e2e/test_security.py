"""Admission: subprotocols, unknown ids, auto-registration, security profiles 1-3 over real TLS."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as V16ChargePoint
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action
from websockets.exceptions import InvalidMessage, InvalidStatus

from tests.clients import basic_auth, connected
from tests.conftest import ADMIN_TOKEN, make_settings, running

PASSWORD = "s3cret-password-0001"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    san: str | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(san), x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


class Pki:
    """A throw-away CA with a server certificate and client certificates, written to files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca = _cert("ems test CA", self.ca_key, "ems test CA", self.ca_key, ca=True)
        self.ca_file = self._write("ca.pem", self.ca)
        server_key = ec.generate_private_key(ec.SECP256R1())
        server = _cert("localhost", server_key, "ems test CA", self.ca_key, san="localhost")
        self.server_cert = self._write("server.pem", server)
        self.server_key = self._write_key("server.key", server_key)

    def _write(self, name: str, cert: x509.Certificate) -> Path:
        path = self.folder / name
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return path

    def _write_key(self, name: str, key: ec.EllipticCurvePrivateKey) -> Path:
        path = self.folder / name
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return path

    def client_context(
        self, common_name: str | None = None, *, self_signed: bool = False
    ) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        context.check_hostname = False
        if common_name is not None:
            key = ec.generate_private_key(ec.SECP256R1())
            issuer_key = key if self_signed else self.ca_key
            issuer = common_name if self_signed else "ems test CA"
            cert = _cert(common_name, key, issuer, issuer_key)
            cert_file = self._write(f"client-{common_name}-{self_signed}.pem", cert)
            key_file = self._write_key(f"client-{common_name}-{self_signed}.key", key)
            context.load_cert_chain(cert_file, key_file)
        return context


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


CHARGE_POINTS = [
    {"id": "P0", "security_profile": 0},
    {"id": "P1", "security_profile": 1, "password": PASSWORD},
    {"id": "P2", "security_profile": 2, "password": PASSWORD},
    {"id": "P3", "security_profile": 3},
    {"id": "PENDING", "security_profile": 0, "registration": "Pending"},
]


def tls_settings(url: str, pki: Pki, **extra: object) -> object:
    return make_settings(
        url,
        server={
            "tls_port": 0,
            "tls_cert_file": str(pki.server_cert),
            "tls_key_file": str(pki.server_key),
            "tls_ca_file": str(pki.ca_file),
        },
        charge_points=CHARGE_POINTS,
        **extra,
    )


async def refused_status(port: int, cp_id: str, **kwargs: object) -> int:
    scheme = "wss" if kwargs.get("ssl") else "ws"
    subprotocols = kwargs.pop("subprotocols", ["ocpp1.6"])
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(
            f"{scheme}://127.0.0.1:{port}/ocpp/{cp_id}",
            subprotocols=subprotocols,
            **kwargs,  # type: ignore[arg-type]
        ):
            pass
    return refused.value.response.status_code


async def boots(port: int, cp_id: str, **kwargs: object) -> str:
    async with connected(V16ChargePoint, port, cp_id, subprotocol="ocpp1.6", **kwargs) as cp:  # type: ignore[arg-type]
        result = await cp.call(
            call.BootNotification(charge_point_model="M", charge_point_vendor="V")
        )
        return str(result.status)


async def test_subprotocol_is_chosen_from_the_offer_and_missing_offer_is_refused(
    sqlite_url: str, pki: Pki
) -> None:
    async with running(tls_settings(sqlite_url, pki)) as server:
        async with websockets.connect(
            f"ws://127.0.0.1:{server.port}/ocpp/P0",
            subprotocols=["ocpp9", "ocpp2.0.1", "ocpp1.6"],  # type: ignore[list-item]
        ) as ws:
            assert ws.subprotocol == "ocpp2.0.1"
        assert await refused_status(server.port, "P0", subprotocols=["ocpp9"]) == 400
        assert await refused_status(server.port, "P0", subprotocols=None) == 400


async def test_unknown_charge_point_is_refused_unless_auto_registration(
    sqlite_url: str, pki: Pki
) -> None:
    async with running(tls_settings(sqlite_url, pki)) as server:
        assert await refused_status(server.port, "NOBODY") == 404
    async with running(tls_settings(sqlite_url, pki, ocpp={"auto_register": True})) as server:
        assert await boots(server.port, "NEWCOMER") == "Pending"
        assert server.ems.csms.charge_points["NEWCOMER"].boot is not None


async def test_registration_state_answers_boot(sqlite_url: str, pki: Pki) -> None:
    async with running(tls_settings(sqlite_url, pki)) as server:
        assert await boots(server.port, "PENDING") == "Pending"
        assert await boots(server.port, "P0") == "Accepted"


async def test_profile_1_needs_the_right_basic_auth_password(sqlite_url: str, pki: Pki) -> None:
    async with running(tls_settings(sqlite_url, pki)) as server:
        assert await refused_status(server.port, "P1") == 401
        wrong = basic_auth("P1", "wrong-password-000000")
        assert await refused_status(server.port, "P1", additional_headers=wrong) == 401
        other_user = basic_auth("P0", PASSWORD)
        assert await refused_status(server.port, "P1", additional_headers=other_user) == 401
        assert await boots(server.port, "P1", headers=basic_auth("P1", PASSWORD)) == "Accepted"
        row = server.ems.store.get_charge_point("P1")
        assert row is not None and row.password_hash and PASSWORD not in row.password_hash


async def test_profile_2_needs_tls_and_basic_auth(sqlite_url: str, pki: Pki) -> None:
    async with running(tls_settings(sqlite_url, pki)) as server:
        auth = basic_auth("P2", PASSWORD)
        assert await refused_status(server.port, "P2", additional_headers=auth) == 403
        tls = pki.client_context()
        assert await refused_status(server.tls_port, "P2", ssl=tls) == 401
        assert await boots(server.tls_port, "P2", headers=auth, ssl_context=tls) == "Accepted"


async def test_profile_3_needs_a_client_certificate_from_the_ca_naming_the_charge_point(
    sqlite_url: str, pki: Pki
) -> None:
    async with running(tls_settings(sqlite_url, pki)) as server:
        assert await refused_status(server.port, "P3") == 403
        assert await refused_status(server.tls_port, "P3", ssl=pki.client_context()) == 403
        assert await refused_status(server.tls_port, "P3", ssl=pki.client_context("P2")) == 403
        with pytest.raises((ssl.SSLError, InvalidMessage, ConnectionError)):
            await boots(
                server.tls_port, "P3", ssl_context=pki.client_context("P3", self_signed=True)
            )
        assert (
            await boots(server.tls_port, "P3", ssl_context=pki.client_context("P3")) == "Accepted"
        )


class Waiting(V16ChargePoint):
    """Boots again as soon as ems triggers it, as a Pending charge point should."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rebooted: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    @on(Action.trigger_message)
    async def on_trigger(self, requested_message: str, **kw: Any) -> call_result.TriggerMessage:
        return call_result.TriggerMessage(status="Accepted")

    @after(Action.trigger_message)
    async def boot_again(self, requested_message: str, **kw: Any) -> None:
        boot = call.BootNotification(charge_point_model="M", charge_point_vendor="V")
        self.rebooted.set_result((await self.call(boot)).status)


async def test_accepting_a_pending_charge_point_lets_it_boot_at_once(
    sqlite_url: str, pki: Pki
) -> None:
    async with (
        running(tls_settings(sqlite_url, pki)) as server,
        connected(Waiting, server.port, "PENDING", subprotocol="ocpp1.6") as cp,
    ):
        first = await cp.call(
            call.BootNotification(charge_point_model="M", charge_point_vendor="V")
        )
        assert (first.status, first.interval) == ("Pending", 60)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as api:
            answer = await api.patch(
                "/api/v1/charge-points/PENDING",
                json={"registration": "Accepted"},
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
        assert answer.status_code == 200
        assert await asyncio.wait_for(cp.rebooted, 5) == "Accepted"

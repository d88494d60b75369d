"""The OCPP WebSocket endpoint ``/ocpp/{charge_point_id}``: admission, subprotocol, session loop.

Admission follows the charge point's security profile (OCPP 2.0.1 Part 2 A00 / 1.6 security
whitepaper):

=======  ==============================  ================================================
profile  transport                       credentials
=======  ==============================  ================================================
0        ws or wss                       none (trusted networks and test rigs only)
1        ws or wss                       HTTP Basic: user = charge point id, password
2        wss (TLS port)                  HTTP Basic, as profile 1
3        wss with a client certificate   certificate issued by the configured CA, its
                                         common name equal to the charge point id
=======  ==============================  ================================================

A refused handshake gets a plain HTTP answer that says why (400, 401, 403 or 404, and 429 or
503 with ``Retry-After`` when wrong passwords or a burst of handshakes are being limited, see
:mod:`ems.ocpp.admission`); nothing is created for a charge point that is not admitted. A charge
point id must read exactly as sent: the raw path's percent-decoding must be strict UTF-8, equal
to the decoded path, and free of control and format characters (NUL, bidi overrides).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.responses import PlainTextResponse
from starlette.websockets import WebSocket, WebSocketDisconnect
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from ems.csms import CentralSystem
from ems.domain import OcppVersion
from ems.metrics import count_admission_refusal
from ems.ocpp.admission import Admission, Refused
from ems.ocpp.base import CsmsSession
from ems.ocpp.v16 import V16Session
from ems.ocpp.v201 import V21Session, V201Session

log = logging.getLogger(__name__)

SESSIONS: dict[OcppVersion, type[CsmsSession]] = {
    OcppVersion.V21: V21Session,
    OcppVersion.V201: V201Session,
    OcppVersion.V16: V16Session,
}
_IDENTITY = re.compile(r"^[^\s/:]{1,48}$")
_CONTROL_CATEGORIES = ("Cc", "Cf")  # C0/C1 controls incl. NUL; zero-width and bidi formatting


@dataclass(frozen=True, slots=True)
class Denial:
    status_code: int
    reason: str
    basic_challenge: bool = False
    retry_after_s: int | None = None

    def headers(self) -> dict[str, str] | None:
        headers: dict[str, str] = {}
        if self.basic_challenge:
            headers["WWW-Authenticate"] = 'Basic realm="ems"'
        if self.retry_after_s is not None:
            headers["Retry-After"] = str(self.retry_after_s)
        return headers or None


class TlsAwareWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, adding the verified client certificate to the ASGI scope
    (``scope["extensions"]["tls"]["client_cert"]``, as ``ssl.SSLSocket.getpeercert()`` gives it).

    It also keeps a refused handshake (an HTTP denial response, which is how ems refuses a
    charge point) from being logged by uvicorn as an application error.
    """

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        ssl_object = self.transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self.scope["extensions"]["tls"] = {"client_cert": ssl_object.getpeercert() or None}

    async def run_asgi(self) -> None:
        if not self.handshake_complete:
            app = self.app

            async def app_with_denial(scope: Any, receive: Any, send: Any) -> None:
                await app(scope, receive, send)
                if self.initial_response is not None and not self.handshake_complete:
                    self.handshake_complete = True  # the denial was sent completely

            self.app = app_with_denial
        await super().run_asgi()


def choose_version(offered: list[str]) -> OcppVersion | None:
    """The first subprotocol in the client's offer that ems speaks."""
    for name in offered:
        try:
            return OcppVersion(name)
        except ValueError:
            continue
    return None


def identity_problem(charge_point_id: str, raw_path: bytes | None) -> str | None:
    """Why ``charge_point_id`` (as the router decoded it) cannot be admitted, or None.

    uvicorn percent-decodes the path lossily (``%FF`` becomes U+FFFD), so the id is decoded
    again, strictly, from the raw path's last segment and must come out the same.
    """
    if raw_path is not None:
        try:
            exact = unquote_to_bytes(raw_path.rpartition(b"/")[2]).decode("utf-8")
        except UnicodeDecodeError:
            return "charge point id is not valid UTF-8 once percent-decoded"
        if exact != charge_point_id:
            return "charge point id does not percent-decode exactly"
    if any(unicodedata.category(char) in _CONTROL_CATEGORIES for char in charge_point_id):
        return "charge point id must not contain control or format characters"
    if not _IDENTITY.match(charge_point_id):
        return "charge point id must be 1-48 characters without spaces, / or :"
    return None


def _basic_credentials(websocket: WebSocket) -> tuple[str, str] | None:
    header = websocket.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def _common_name(cert: dict[str, Any]) -> str | None:
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


async def admit(
    csms: CentralSystem, admission: Admission, charge_point_id: str, websocket: WebSocket
) -> Denial | None:
    """None when the charge point may connect; otherwise why not."""
    state = csms.charge_points.get(charge_point_id)
    if state is None:
        if not csms.settings.ocpp.auto_register:
            return Denial(404, f"unknown charge point {charge_point_id!r}")
        state = await csms.auto_register(charge_point_id)
    secure = websocket.scope.get("scheme") == "wss"
    profile = state.security_profile
    if profile >= 2 and not secure:
        return Denial(403, f"security profile {profile} requires TLS (connect to the wss port)")
    if profile == 3:
        tls = websocket.scope.get("extensions", {}).get("tls") or {}
        cert = tls.get("client_cert")
        if not cert:
            return Denial(403, "security profile 3 requires a client certificate")
        if _common_name(cert) != charge_point_id:
            return Denial(403, "client certificate common name does not match the charge point id")
        return None
    if profile in (1, 2):
        credentials = _basic_credentials(websocket)
        if credentials is None:
            return Denial(401, "HTTP Basic authentication required", basic_challenge=True)
        user, password = credentials
        host = websocket.client.host if websocket.client else None
        try:
            ok = await admission.check_basic(csms, charge_point_id, host, user, password)
        except Refused as refused:
            return Denial(refused.status, refused.reason, retry_after_s=refused.retry_after_s)
        if not ok:
            return Denial(401, "invalid charge point credentials", basic_challenge=True)
    return None


async def ocpp_endpoint(websocket: WebSocket) -> None:
    """Serve one charge point connection for its lifetime."""
    csms: CentralSystem = websocket.app.state.ems.csms
    charge_point_id = websocket.path_params["charge_point_id"]
    denial: Denial | None
    version = choose_version(list(websocket.scope.get("subprotocols", [])))
    problem = identity_problem(charge_point_id, websocket.scope.get("raw_path"))
    if problem is not None:
        denial = Denial(400, problem)
    elif version is None:
        offered = ", ".join(v.value for v in OcppVersion)
        denial = Denial(400, f"no supported OCPP subprotocol offered (ems speaks {offered})")
    else:
        denial = await admit(csms, websocket.app.state.ems.admission, charge_point_id, websocket)
    if denial is not None or version is None:
        assert denial is not None
        log.info("refused %r: %s", charge_point_id, denial.reason)
        count_admission_refusal(denial.status_code)
        await websocket.send_denial_response(
            PlainTextResponse(
                denial.reason, status_code=denial.status_code, headers=denial.headers()
            )
        )
        return

    async def close(code: int, reason: str) -> None:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):  # already closed or closing
            await websocket.close(code, reason)

    session = SESSIONS[version](csms, charge_point_id, websocket.send_text, close)
    await websocket.accept(subprotocol=version.value)
    await csms.connect(charge_point_id, version, session)
    log.info("%s connected (%s)", charge_point_id, version.value)
    recorder = csms.recorder
    try:
        while True:
            await recorder.room()  # the database is behind: let the charger wait
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect" or session.closing:
                break  # a frame that came in while closing is left for the charger to resend
            text = message.get("text")
            if text is None:
                text = (message.get("bytes") or b"").decode("utf-8", errors="replace")
            csms.seen(charge_point_id)  # any frame proves the charge point is alive
            await session.route_message(text)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        session.connection_lost()
        csms.disconnect(charge_point_id, session)
        log.info("%s disconnected", charge_point_id)

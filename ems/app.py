"""Wiring of one ems process: store, recorder, central system, the ASGI app and its listeners.

:class:`Ems` owns the parts and their start/stop order; :func:`create_app` builds the one ASGI
app (OCPP WebSocket, REST API, pages); :class:`EmsServer` serves it on the plain port and, when
configured, on the TLS port, both from the same process and event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import uvicorn
from fastapi import FastAPI

from ems.config import Settings
from ems.control.service import ControlService
from ems.csms import CentralSystem, Clock, utc_now
from ems.ocpp.admission import Admission
from ems.payments.ledger import Ledger
from ems.reconcile import Reconciler
from ems.store import Recorder, Store
from ems.store.retention import run_retention

if TYPE_CHECKING:
    from ems.site import SiteConfig

log = logging.getLogger(__name__)

# How often expired payment holds are released [s].
HOLD_SWEEP_INTERVAL_S = 300.0


class Ems:
    """The parts of a running ems, started and stopped in order."""

    def __init__(self, settings: Settings, clock: Clock = utc_now) -> None:
        self.settings = settings
        database = settings.database
        self.store = Store(database.url, sqlite_synchronous=database.sqlite_synchronous)
        self.recorder = Recorder(
            self.store,
            batch_size=database.batch_size,
            flush_interval_s=database.flush_interval_s,
            max_backlog=database.max_backlog,
        )
        self.csms = CentralSystem(settings, self.store, self.recorder, clock)
        self.control: ControlService | None = None
        self.reconciler: Reconciler | None = None
        self.admission = Admission(settings.admission)
        self.ledger = Ledger(self.store.engine, clock=clock)
        self.bootstrap_token: str | None = None
        self._housekeeping: asyncio.Task[None] | None = None
        self._retention: asyncio.Task[None] | None = None

    def _sites(self) -> list[SiteConfig]:
        """The configured sites, loaded and checked (a ConfigError names file and key)."""
        from ems.site import load_site

        return [load_site(path) for path in self.settings.control.sites]

    async def start(self) -> None:
        await asyncio.to_thread(self.store.migrate)
        self.recorder.start()
        await self.csms.start()
        self.reconciler = Reconciler(self.csms)
        control = self.settings.control
        if control.enabled and control.sites:
            self.control = ControlService(
                self._sites(), self.csms, self.store, self.recorder, time_scale=control.time_scale
            )
            await self.control.start()
        self._housekeeping = asyncio.create_task(self._expire_holds())
        self._retention = asyncio.create_task(
            run_retention(self.store.engine, self.settings.retention, self.csms.clock)
        )
        token = self.settings.api.bootstrap_admin_token
        if token and not await asyncio.to_thread(self.store.verify_api_token, token):
            try:
                await asyncio.to_thread(self.store.create_api_token, "bootstrap", "admin", token)
            except ValueError:
                log.warning("api.bootstrap_admin_token was revoked; it stays revoked")
            else:
                self.bootstrap_token = token

    async def _expire_holds(self) -> None:
        """Release payment holds past their expiry, every few minutes."""
        while True:
            try:
                await asyncio.to_thread(self.ledger.expire_holds)
            except Exception:
                log.exception("expiring payment holds failed")
            await asyncio.sleep(HOLD_SWEEP_INTERVAL_S)

    async def stop(self, timeout_s: float = 30.0) -> int:
        """Write everything still queued, then let go of the database.

        Call it once no charge point is connected any more (``EmsServer.stop`` sees to that).
        Writes are drained for as long as the database takes them; a database that keeps
        failing is given up on after ``timeout_s`` (nothing acknowledged is among what is given
        up). Returns the number of operations given up.
        """
        if self.control is not None:
            await self.control.stop()
        if self.reconciler is not None:
            await self.reconciler.close()
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeping
        if self._retention is not None:
            self._retention.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retention
        self.admission.close()
        given_up = await asyncio.to_thread(self.recorder.stop, timeout_s)
        if given_up:
            log.error("stopped with %d writes not stored (none was acknowledged)", given_up)
        self.store.dispose()
        return given_up


def create_app(ems: Ems) -> FastAPI:
    """The ASGI app: ``/ocpp/{id}`` WebSocket, ``/api/v1`` REST (OpenAPI at ``/openapi.json``),
    the dashboard at ``/``."""
    from ems.api import install_api
    from ems.driver import install_driver
    from ems.metrics import install_metrics
    from ems.ocpp.server import ocpp_endpoint
    from ems.web import install_web

    app = FastAPI(
        title="ems",
        summary="OCPP 1.6J / 2.0.1 central system with smart charging",
        version="0.1.0",
        openapi_url="/openapi.json",
    )
    app.state.ems = ems
    app.state.ledger = ems.ledger
    app.add_api_websocket_route("/ocpp/{charge_point_id}", ocpp_endpoint)
    install_api(app)
    install_metrics(app)
    install_web(app)
    install_driver(app)
    return app


class _Listener(uvicorn.Server):
    """uvicorn's server without its signal handling: ems stops on SIGTERM and SIGINT itself
    (uvicorn would re-raise the signal after its own shutdown and end the process before ems
    has written its queue)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


class EmsServer:
    """Runs :class:`Ems` behind uvicorn on the configured ports (port 0 picks a free one)."""

    def __init__(self, ems: Ems) -> None:
        self.ems = ems
        self.app = create_app(ems)
        self.port: int | None = None
        self.tls_port: int | None = None
        self._servers: list[tuple[_Listener, socket.socket]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stop_requested = asyncio.Event()

    def _config(self, **ssl_options: Any) -> uvicorn.Config:
        from ems.ocpp.server import TlsAwareWebSocketProtocol

        server = self.ems.settings.server
        return uvicorn.Config(
            self.app,
            lifespan="off",
            ws=TlsAwareWebSocketProtocol,
            http="httptools",
            ws_ping_interval=server.ws_ping_interval_s,
            ws_ping_timeout=server.ws_ping_interval_s,
            ws_max_size=server.ws_max_message_bytes,
            ws_per_message_deflate=False,
            log_config=None,
            access_log=False,
            backlog=4096,
            timeout_graceful_shutdown=5,
            **ssl_options,
        )

    async def start(self) -> None:
        settings = self.ems.settings.server
        await self.ems.start()
        plain = _bind(settings.host, settings.port)
        self.port = plain.getsockname()[1]
        self._servers.append((_Listener(self._config()), plain))
        if settings.tls_port is not None:
            tls = _bind(settings.host, settings.tls_port)
            self.tls_port = tls.getsockname()[1]
            options: dict[str, Any] = {
                "ssl_certfile": str(settings.tls_cert_file),
                "ssl_keyfile": str(settings.tls_key_file),
            }
            if settings.tls_ca_file is not None:
                options |= {
                    "ssl_ca_certs": str(settings.tls_ca_file),
                    "ssl_cert_reqs": ssl.CERT_OPTIONAL,
                }
            self._servers.append((_Listener(self._config(**options)), tls))
        driver = getattr(self.app.state, "driver", None)
        if driver is not None:
            await driver.recover()  # sessions that started or ended while ems was down
        for server, sock in self._servers:
            server.config.setup_event_loop = lambda: None  # type: ignore[method-assign]
            self._tasks.append(asyncio.create_task(server.serve(sockets=[sock])))
        while not all(server.started for server, _ in self._servers):
            if any(task.done() for task in self._tasks):
                for task in self._tasks:
                    if task.done():
                        task.result()
                raise RuntimeError("a listener stopped during start-up")
            await asyncio.sleep(0.01)

    def request_stop(self) -> None:
        """Make :meth:`serve_forever` return (safe to call from a signal handler's callback)."""
        self._stop_requested.set()

    async def serve_forever(self) -> None:
        """Run until :meth:`request_stop` or until a listener fails."""
        stop = asyncio.ensure_future(self._stop_requested.wait())
        try:
            await asyncio.wait([stop, *self._tasks], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()

    async def stop(self) -> int:
        """Stop cleanly, within about ``server.shutdown_timeout_s``: stop accepting
        connections, stop controlling, finish the message each charge point is being answered
        (commit, answer) and close its connection, stop the listeners, write what is queued.

        Returns the number of writes given up (0 unless the database failed throughout).
        """
        deadline = time.monotonic() + self.ems.settings.server.shutdown_timeout_s
        for server, _ in self._servers:
            for listener in server.servers:
                listener.close()  # no new connections while the others are closed
        if self.ems.control is not None:
            await self.ems.control.stop()
        driver = getattr(self.app.state, "driver", None)
        if driver is not None:
            await driver.close()
        await self.ems.csms.stop()
        for server, _ in self._servers:
            server.should_exit = True
        await asyncio.gather(*self._tasks, return_exceptions=True)
        return await self.ems.stop(max(1.0, deadline - time.monotonic()))

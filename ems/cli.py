"""The ``ems`` command. Wiring happens here; each sub-command is a small function."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from ems.config import ConfigError, Settings, load_settings
from ems.logs import setup_logging

log = logging.getLogger("ems")
T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows
        return asyncio.run(coro)
    return uvloop.run(coro)


def settle_garbage_collector() -> None:
    """Keep Python's cyclic garbage collector off the message path of a long-running server.

    Every OCPP message allocates many short-lived containers, so the collector ran about every
    millisecond and took a tenth of the event loop's time, its full passes walking every
    object ems holds (tens of thousands of connections' state). What exists after start-up is
    frozen out of the collector's passes, and the young generation collects 20 times less
    often; reference counting frees nearly everything anyway.
    """
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(young * 20, middle, old)


def on_stop_signals(request_stop: Callable[[], None]) -> None:
    """SIGTERM (systemd, docker, Kubernetes) and SIGINT (Ctrl-C) ask ems to stop cleanly; a
    second signal ends the process at once (what is not written then was never acknowledged).
    """
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def handle(signum: int) -> None:
        name = signal.Signals(signum).name
        if received:
            log.warning("%s again: exiting at once", name)
            os._exit(128 + signum)
        received.append(signum)
        log.info("%s: stopping (answering, closing connections, writing the queue)", name)
        request_stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # pragma: no cover - Windows
            loop.add_signal_handler(signum, handle, signum)


async def _serve(settings: Settings) -> int:
    from ems.app import Ems, EmsServer

    server = EmsServer(Ems(settings))
    on_stop_signals(server.request_stop)  # before listening: a stop during start-up is clean too
    await server.start()
    settle_garbage_collector()
    base = f"http://{settings.server.host}:{server.port}"
    host = settings.server.host
    print(f"ems is running: OCPP at ws://{host}:{server.port}/ocpp/<charge point id>")
    if server.tls_port is not None:
        print(f"               and wss://{host}:{server.tls_port}/ocpp/<charge point id>")
    print(f"REST API: {base}/api/v1  (OpenAPI: {base}/openapi.json)")
    print(f"dashboard: {base}/  (sign in with an API token; the API docs are at {base}/docs)")
    if server.ems.bootstrap_token:
        print(f"admin API token (from api.bootstrap_admin_token): {server.ems.bootstrap_token}")
    sys.stdout.flush()
    try:
        await server.serve_forever()
    finally:
        given_up = await server.stop()
    log.info("ems stopped")
    return 1 if given_up else 0


def _raise_open_files_limit() -> None:
    """Every charge point holds a socket: allow as many open files as the system permits."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    _raise_open_files_limit()
    try:
        return _run(_serve(settings))
    except KeyboardInterrupt:  # Ctrl-C while starting, before the signal handlers are set
        return 130


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from ems.store import Store

    store = Store(settings.database.url)
    store.migrate()
    print(f"database schema is up to date: {store.url}")
    return 0


def cmd_check_config(args: argparse.Namespace, settings: Settings) -> int:
    print(settings.model_dump_json(indent=2, exclude={"charge_points": {"__all__": {"password"}}}))
    return 0


def cmd_api_token(args: argparse.Namespace, settings: Settings) -> int:
    from ems.store import Store

    store = Store(settings.database.url)
    store.migrate()
    if args.action == "create":
        token = store.create_api_token(args.name, args.role)
        print(token)
    elif args.action == "list":
        for row in store.list_api_tokens():
            revoked = f" revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else ""
            print(f"{row.id}\t{row.role}\t{row.name}\t{row.created_at:%Y-%m-%d %H:%M}{revoked}")
    elif not store.revoke_api_token(args.id):
        print(f"no API token with id {args.id}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ems", description=__doc__)
    parser.add_argument("--config", type=Path, help="TOML configuration file (or EMS_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the central system (OCPP, REST API, pages)")
    serve.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    serve.add_argument("--host", help="override server.host")
    serve.add_argument("--port", type=int, help="override server.port")
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="create or upgrade the database schema")
    migrate.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    migrate.set_defaults(func=cmd_migrate)

    check = sub.add_parser("check-config", help="validate the configuration and print it")
    check.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    check.set_defaults(func=cmd_check_config)

    token = sub.add_parser("api-token", help="manage REST API tokens")
    token.add_argument("--config", type=Path, default=argparse.SUPPRESS)
    actions = token.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a token and print it (shown once)")
    create.add_argument("--name", required=True)
    create.add_argument("--role", choices=["admin", "readonly"], default="readonly")
    actions.add_parser("list", help="list tokens (never their values)")
    revoke = actions.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("id", type=int)
    token.set_defaults(func=cmd_api_token)

    from ems.demo import add_demo_parser
    from ems.forecast_cli import add_export_parser, add_forecast_parser
    from ems.replay.cli import add_replay_parser
    from ems.report.cli import add_report_parser
    from ems.sim.cli import add_sim_parser

    add_demo_parser(sub)
    add_sim_parser(sub)
    add_forecast_parser(sub)
    add_export_parser(sub)
    add_report_parser(sub)
    add_replay_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides: dict[str, Any] = {}
    try:
        settings = load_settings(args.config)
        if getattr(args, "host", None) or getattr(args, "port", None) is not None:
            server = settings.server.model_dump()
            server["host"] = args.host or server["host"]
            server["port"] = args.port if args.port is not None else server["port"]
            overrides["server"] = server
            settings = load_settings(args.config, **overrides)
    except ConfigError as error:
        print(f"ems: {error}", file=sys.stderr)
        return 2
    setup_logging(settings.logging.level, settings.logging.json_format)
    result: int = args.func(args, settings)
    return result

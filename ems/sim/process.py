"""Servers as child processes, for tests and benchmarks that stop and kill them for real.

:class:`ServerProcess` runs a command that listens on a known port (``ems serve``, or any other
server a benchmark compares ems with), waits until the port takes connections, and ends it the way
the outside world does: SIGKILL (a crash, an OOM kill), SIGTERM (systemd, docker) or SIGINT
(Ctrl-C). It can be started again on the same port, as a supervisor restarts a crashed service.
Every wait has a generous failure timeout and polls a condition; none measures how fast anything
is.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the OS's choice)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def write_ems_config(
    path: Path, *, port: int, database_url: str, **tables: Mapping[str, Any]
) -> Path:
    """Write the TOML configuration of a load-test ems: ``127.0.0.1:port``, ``database_url``,
    unknown charge points admitted and Accepted, unknown id tokens accepted, warnings only.

    ``tables`` add to or override those tables (``ocpp={"log_frames": False}``).
    """
    defaults: dict[str, dict[str, Any]] = {
        "server": {"host": "127.0.0.1", "port": port},
        "database": {"url": database_url},
        "ocpp": {
            "auto_register": True,
            "auto_register_status": "Accepted",
            "accept_unknown_id_tokens": True,
        },
        "logging": {"level": "WARNING"},
    }
    for name, values in tables.items():
        defaults[name] = {**defaults.get(name, {}), **values}
    text = "\n".join(
        f"[{name}]\n" + "".join(f"{key} = {_toml_value(value)}\n" for key, value in values.items())
        for name, values in defaults.items()
    )
    path.write_text(text)
    return path


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise TypeError(f"no TOML form for {value!r} in this helper")


class ServerProcess:
    """One server command, started (and restarted) as a child process listening on ``port``.

    Its stdout and stderr go to ``log_path`` (appended across restarts), so that a failing test can
    show what the server said.
    """

    def __init__(
        self,
        argv: list[str],
        port: int,
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.argv = argv
        self.port = port
        self.log_path = log_path
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.cwd = cwd
        self.starts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the server was not started")
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def start(self) -> None:
        if self._process is not None and self._process.poll() is None:
            raise RuntimeError(f"server still running as pid {self._process.pid}")
        self._close_log()
        self._log = self.log_path.open("ab")
        self._log.write(f"--- start {self.starts + 1}: {' '.join(self.argv)}\n".encode())
        self._log.flush()
        self._process = subprocess.Popen(
            self.argv, stdout=self._log, stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd
        )
        self.starts += 1

    async def wait_listening(self, timeout_s: float = 90.0) -> None:
        """Return once the port accepts connections; fail if the server exits or times out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            if self.returncode is not None:
                raise RuntimeError(
                    f"server exited with status {self.returncode} before listening on "
                    f"{self.port}:\n{self.log_tail()}"
                )
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            return
        raise TimeoutError(f"server not listening on {self.port} after {timeout_s} s")

    def send_signal(self, sig: signal.Signals) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(sig)

    async def wait_exit(self, timeout_s: float) -> int:
        """The exit status (negative: killed by that signal); TimeoutError while it still runs."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while (code := self.returncode) is None:
            if loop.time() >= deadline:
                raise TimeoutError(f"server pid {self.pid} still running after {timeout_s} s")
            await asyncio.sleep(0.05)
        self._close_log()
        return code

    async def kill(self) -> None:
        """SIGKILL: the process ends at once, whatever it was doing."""
        self.send_signal(signal.SIGKILL)
        await self.wait_exit(60.0)

    async def stop(self, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 120.0) -> int:
        """Ask the server to stop with ``sig``; its exit status."""
        self.send_signal(sig)
        return await self.wait_exit(timeout_s)

    def ensure_stopped(self) -> None:
        """Kill the process if it still runs (cleanup after a failure)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._close_log()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def ems_server(config: Path, port: int, log_path: Path) -> ServerProcess:
    """``python -m ems serve --config config`` (the config must name ``port``)."""
    return ServerProcess(
        [sys.executable, "-m", "ems", "serve", "--config", str(config)], port, log_path=log_path
    )

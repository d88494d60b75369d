"""Acknowledged means stored: `ems serve` as a real process, killed and stopped for real.

A charge point deletes a transaction message from its offline queue once ems has answered it, so
nothing ems acknowledged may be lost: not on SIGKILL, not on SIGTERM or SIGINT. Each test runs
``python -m ems serve`` (or ``python3 run.py serve``) as a child process on a fresh database,
drives simulated charge points with offline queues at it (``ems.sim.load``), ends the process the
way the outside world does, and compares every CALLRESULT the charge points received with what
the database holds (``ems.sim.verify``), Jepsen-style.

Every wait is for a condition (ledger counts, an open port, a process exit) with a generous
failure timeout; kill moments are chosen from the ledger's progress, never by sleeping; no test
asserts how long anything took.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from ems.sim.ledger import Ledger
from ems.sim.load import Load, LoadPlan
from ems.sim.process import ServerProcess, ems_server, free_port, write_ems_config
from ems.sim.verify import Report, verify
from tests.dbs import sqlite_url

ROOT = Path(__file__).resolve().parents[2]
PATIENCE_S = 60.0  # failure guard of every wait; never an expectation of speed
UNDER_LOAD = 200  # transaction messages acknowledged before a signal is sent


@contextlib.asynccontextmanager
async def ems_process(tmp_path: Path, database_url: str) -> AsyncIterator[ServerProcess]:
    """``ems serve`` on a free port, listening; killed at the end if it still runs."""
    port = free_port()
    config = write_ems_config(tmp_path / "ems.toml", port=port, database_url=database_url)
    server = ems_server(config, port, tmp_path / "ems.log")
    server.start()
    try:
        await server.wait_listening(PATIENCE_S)
        yield server
    finally:
        server.ensure_stopped()


@contextlib.asynccontextmanager
async def load_on(server: ServerProcess, plan: LoadPlan) -> AsyncIterator[Load]:
    """``plan``'s charge points running against ``server``; stopped and awaited at the end."""
    load = Load(f"ws://127.0.0.1:{server.port}/ocpp", plan)
    running = asyncio.create_task(load.run())
    try:
        yield load
    finally:
        load.stop()
        await asyncio.wait_for(running, PATIENCE_S)


def acked_at_least(count: int) -> Callable[[Ledger], bool]:
    return lambda ledger: ledger.tx_acked >= count


def failures(ledger: Ledger, report: Report, server: ServerProcess) -> str:
    return f"{report.summary()}\nrun: {ledger.summary()}\nems said:\n{server.log_tail()}"


async def test_nothing_acknowledged_is_lost_when_ems_is_killed_three_times(
    database_url: str, tmp_path: Path
) -> None:
    plan = LoadPlan(charge_points=10, transactions=4, meter_values=8)
    total = plan.transaction_messages
    # kill mid-stream, then right after a restart while the queues are being resent, then later
    moments: list[Callable[[int], int]] = [
        lambda _: total // 5,
        lambda acked_at_restart: acked_at_restart + 3,
        lambda _: 3 * total // 5,
    ]
    async with ems_process(tmp_path, database_url) as server:
        async with load_on(server, plan) as load:
            for moment in moments:
                acked = load.ledger.tx_acked
                await load.wait_until(acked_at_least(max(moment(acked), acked + 1)), PATIENCE_S)
                await server.kill()
                server.start()
                await server.wait_listening(PATIENCE_S)
            await load.wait_until(acked_at_least(total), 3 * PATIENCE_S)
        await server.stop(signal.SIGINT, PATIENCE_S)
    ledger = load.ledger
    report = verify(ledger, database_url)
    assert report.ok, failures(ledger, report, server)
    # every charge point finished its plan, so every stored transaction was acknowledged
    assert report.unacknowledged_transactions == [], report.summary()
    assert (len(ledger.starts), len(ledger.stops), ledger.errors) == (
        plan.charge_points * plan.transactions,
        plan.charge_points * plan.transactions,
        [],
    ), ledger.summary()
    assert ledger.drops >= 3, "the kills did not reach the charge points"


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
async def test_ems_stops_cleanly_under_load_and_keeps_what_it_acknowledged(
    stop_signal: signal.Signals, database_url: str, tmp_path: Path
) -> None:
    plan = LoadPlan(charge_points=10, transactions=10_000, meter_values=8)  # never runs out
    async with ems_process(tmp_path, database_url) as server:
        async with load_on(server, plan) as load:
            await load.wait_until(acked_at_least(UNDER_LOAD), PATIENCE_S)
            server.send_signal(stop_signal)
            status = await server.wait_exit(PATIENCE_S)
    report = verify(load.ledger, database_url)
    assert (status, report.ok) == (0, True), f"exit status {status}\n" + failures(
        load.ledger, report, server
    )


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (Linux /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in map(int, (task / "children").read_text().split()):
                found += [child, *_children(child)]
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _run_py_ready(venv: Path) -> bool:
    """run.py would use ``venv`` as it is (installing nothing): its lock stamp is current."""
    wanted = hashlib.sha256(
        (ROOT / "requirements.lock").read_bytes() + (ROOT / "pyproject.toml").read_bytes()
    ).hexdigest()
    stamp = venv / ".ems-lock-sha256"
    return stamp.exists() and stamp.read_text() == wanted


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
async def test_sigterm_to_run_py_stops_ems_cleanly(tmp_path: Path) -> None:
    venv = Path(sys.prefix)
    if not _run_py_ready(venv):
        pytest.skip(f"run.py would reinstall {venv} (its lock stamp is stale); run it once first")
    database_url = sqlite_url(tmp_path)
    port = free_port()
    config = write_ems_config(tmp_path / "ems.toml", port=port, database_url=database_url)
    server = ServerProcess(
        [sys.executable, str(ROOT / "run.py"), "serve", "--config", str(config)],
        port,
        log_path=tmp_path / "ems.log",
        env={"EMS_VENV": str(venv)},
        cwd=tmp_path,
    )
    server.start()
    family: list[int] = []
    try:
        await server.wait_listening(PATIENCE_S)
        async with load_on(server, LoadPlan(charge_points=10, transactions=10_000)) as load:
            await load.wait_until(acked_at_least(UNDER_LOAD), PATIENCE_S)
            family = _children(server.pid)
            server.send_signal(signal.SIGTERM)
            status = await server.wait_exit(PATIENCE_S)
            left_running = [pid for pid in family if _alive(pid)]
    finally:
        server.ensure_stopped()
        await _stop_orphans([pid for pid in family if _alive(pid)])
    report = verify(load.ledger, database_url)
    assert (status, left_running, report.ok) == (0, [], True), (
        f"run.py exit status {status}; still running after it exited: {left_running}\n"
        + failures(load.ledger, report, server)
    )


async def _stop_orphans(pids: list[int]) -> None:
    """Stop processes a failed run.py left behind: SIGINT (they drain), SIGKILL if they hang."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
    for _ in range(int(PATIENCE_S / 0.1)):
        if not any(_alive(pid) for pid in pids):
            return
        await asyncio.sleep(0.1)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
async def test_a_signal_as_soon_as_ems_listens_still_stops_it_cleanly(
    stop_signal: signal.Signals, sqlite_url: str, tmp_path: Path
) -> None:
    async with ems_process(tmp_path, sqlite_url) as server:
        server.send_signal(stop_signal)
        status = await server.wait_exit(PATIENCE_S)
    assert status == 0, server.log_tail()

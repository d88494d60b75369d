"""`ems demo` as a real process: SIGTERM stops it cleanly (exit status 0) with what its
simulated chargers sent stored, and a second demo starts on a fresh database unless told to
reuse it."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import sqlalchemy

from ems.sim.process import ServerProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
PATIENCE_S = 90.0  # failure guard of every wait, never an expectation of speed


def demo(tmp_path: Path, database: Path, *extra: str) -> ServerProcess:
    port = free_port()
    argv = [
        sys.executable, "-m", "ems", "demo", "--site", str(ROOT / "data/sites/small.toml"),
        "--speed", "60", "--port", str(port), "--database", f"sqlite:///{database}", *extra,
    ]  # fmt: skip
    return ServerProcess(argv, port, log_path=tmp_path / "demo.log", cwd=tmp_path)


def count(database: Path, table: str) -> int:
    engine = sqlalchemy.create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            query = sqlalchemy.text(f"SELECT count(*) FROM {table}")
            return int(connection.execute(query).scalar_one())
    except sqlalchemy.exc.OperationalError:
        return 0  # not created yet
    finally:
        engine.dispose()


@contextlib.asynccontextmanager
async def running_demo(process: ServerProcess) -> AsyncIterator[ServerProcess]:
    process.start()
    try:
        await process.wait_listening(PATIENCE_S)
        yield process
    finally:
        process.ensure_stopped()


async def until(condition: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(PATIENCE_S):
        while not condition():  # noqa: ASYNC110 - state of another process
            await asyncio.sleep(0.2)
    assert condition(), what


async def test_sigterm_stops_the_demo_cleanly_and_the_next_demo_starts_afresh(
    tmp_path: Path,
) -> None:
    database = tmp_path / "demo.db"
    async with running_demo(demo(tmp_path, database)) as first:
        await until(lambda: count(database, "meter_samples") > 0, "the simulated site charges")
        status = await first.stop(signal.SIGTERM, PATIENCE_S)
        assert status == 0, first.log_tail()
    samples = count(database, "meter_samples")
    assert samples > 0 and count(database, "transactions") > 0

    # reused: what the first demo stored is still there when the second one runs
    async with running_demo(demo(tmp_path, database, "--reuse-database")) as reused:
        assert count(database, "meter_samples") >= samples
        assert await reused.stop(signal.SIGINT, PATIENCE_S) == 0, reused.log_tail()

    # by default: a fresh database, no transactions from earlier runs left open as ghosts
    fresh = demo(tmp_path, database)
    async with running_demo(fresh):
        assert "starting on a fresh database" in fresh.log_tail(80)
        assert count(database, "meter_samples") < samples
        assert await fresh.stop(signal.SIGTERM, PATIENCE_S) == 0, fresh.log_tail()

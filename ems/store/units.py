"""Units of writes: what one OCPP message (or one API call) writes, committed together.

A unit is the recorder's answer to "may I acknowledge this message yet?". While a unit is open
(:meth:`ems.store.Recorder.unit`) every write the current task makes through the recorder, on
the event loop or in a thread it awaits, is collected in the unit instead of being queued on
its own; closing the unit queues its writes as one item, and :meth:`Unit.wait` returns once
they are committed. The writes of one unit go into the database in one transaction or not at all.

Writes made while no unit is open (the raw frame log, "last seen" times, control cycles) are
queued one by one and nobody waits for them.

Tasks started while a unit is open inherit it (``contextvars``): what they write before the
unit closes is committed with it, what they write later is queued on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from contextvars import ContextVar
from typing import Any

Op = tuple[int, Any]


class WriteFailed(Exception):
    """A unit's writes could not be committed; the message behind it must not be acknowledged.

    ``cause`` is the database's error.
    """

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.cause = cause


class Unit:
    """The writes of one message, and whoever waits for their commit."""

    __slots__ = ("_event", "_future", "_loop", "error", "ops", "queued_at", "sealed")

    def __init__(self) -> None:
        self.ops: list[Op] = []
        self.sealed = False
        self.queued_at = 0.0
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._future: asyncio.Future[None] | None = None
        self._event: threading.Event | None = None

    def watch_async(self) -> None:
        """Make :meth:`wait` possible; call on the event loop before the unit is queued."""
        loop = asyncio.get_running_loop()
        self._loop, self._future = loop, loop.create_future()

    def watch_sync(self) -> threading.Event:
        """A threading event set when the unit is done (for waiters outside the event loop)."""
        self._event = threading.Event()
        return self._event

    @property
    def watched(self) -> bool:
        return self._future is not None or self._event is not None

    async def wait(self) -> None:
        """Return once the unit is committed; raise :class:`WriteFailed` if it cannot be."""
        assert self._future is not None, "watch_async() before queueing"
        await self._future

    def finish(self) -> None:
        """Called by the writer (any thread) once the unit is committed or given up (then
        ``error`` is set)."""
        if self._event is not None:
            self._event.set()

    def resolve(self) -> None:
        """Complete the future (on its event loop)."""
        future = self._future
        if future is None or future.done():
            return
        if self.error is None:
            future.set_result(None)
        else:
            future.set_exception(self.error)
            future.exception()  # a waiter that went away must not log "never retrieved"


_current: ContextVar[Unit | None] = ContextVar("ems_recorder_unit", default=None)


def current() -> Unit | None:
    """The open unit of this task or thread, if any."""
    unit = _current.get()
    return unit if unit is not None and not unit.sealed else None


@contextlib.contextmanager
def collecting(unit: Unit) -> Any:
    """Collect the writes made inside the block in ``unit``; seal it on the way out."""
    token = _current.set(unit)
    try:
        yield unit
    finally:
        unit.sealed = True
        _current.reset(token)


def resolve_all(units: list[Unit]) -> None:
    for unit in units:
        unit.resolve()


def notify(finished: list[Unit]) -> None:
    """Resolve the waiting futures of ``finished``: one wake-up per event loop, not per unit."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Unit]] = {}
    for unit in finished:
        if unit._loop is not None:
            by_loop.setdefault(unit._loop, []).append(unit)
    for loop, units in by_loop.items():
        # RuntimeError: the loop was closed meanwhile, so nobody is waiting anymore
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(resolve_all, units)


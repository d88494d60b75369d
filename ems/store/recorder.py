"""The recorder: the writes of OCPP traffic, queued and committed in batches by one thread.

The promise it keeps: a message is acknowledged only after everything it writes is committed.
Its handler runs inside a unit (:mod:`ems.store.units`); the unit's writes are queued together
and the handler awaits their commit before the CALLRESULT goes out. One writer thread commits
whatever is queued in one transaction per batch (group commit: nobody waits for a timer while
someone awaits a commit, and under load each batch carries every message that arrived while the
previous one was written).

Faults:

* a write the database refuses (a bad row) fails only its own unit: the batch is split in halves
  until the unit is isolated; its waiter gets :class:`~ems.store.units.WriteFailed` (the message
  is answered with a CALLERROR and the charger keeps it), every other unit is committed;
* a database that is unreachable or locked is retried with backoff, forever while running and
  until the stop deadline when stopping: nothing is acknowledged meanwhile;
* the backlog is bounded: above ``max_backlog`` operations :meth:`Recorder.room` makes the
  connections wait before they read their next frame, instead of memory growing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from ems import metrics
from ems.domain import BootInfo, MeterSample, StatusReport, Transaction
from ems.store.batch import (
    BOOT,
    CHARGING_NEED,
    CONTROL_CYCLE,
    CONTROL_LIMITS,
    COUNTER,
    EVENT,
    FRAME,
    PROFILE,
    SAMPLES,
    SEEN,
    SETTINGS,
    STATUS,
    TRANSACTION,
    BatchWriter,
    Op,
    is_transient,
)
from ems.store.convert import status_values, transaction_values
from ems.store.rows import SettingRow
from ems.store.store import Store
from ems.store.units import Unit, WriteFailed, collecting, current, notify

log = logging.getLogger(__name__)

Item = Op | Unit
# Backoff while the database is unreachable [s]: doubling from the first to the last.
RETRY_FIRST_S, RETRY_MAX_S = 0.05, 1.0


class Recorder:
    """Queues the writes of OCPP traffic and commits them in batches from one thread.

    Calls that write are non-blocking and thread-safe. Inside :meth:`unit` they are collected
    for one commit that the caller awaits; outside, each is queued on its own and written at the
    latest ``flush_interval_s`` after it arrived, or at once when someone waits. A batch holds
    up to about ``batch_size`` operations, written with one executemany per table (see
    ``ems.store.batch`` for how order is kept: per table, last state per key wins for upserts).
    """

    def __init__(
        self,
        store: Store,
        *,
        batch_size: int = 2000,
        flush_interval_s: float = 0.05,
        max_backlog: int = 50_000,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if max_backlog < 1:
            raise ValueError(f"max_backlog must be at least 1, got {max_backlog}")
        self.store = store
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.max_backlog = max_backlog
        self._writer = BatchWriter(store.engine)
        self._queue: deque[Item] = deque()
        self._cond = threading.Condition(threading.Lock())
        # Held while a batch is taken from the queue and written, so that batches are written in
        # order even when a caller drains the queue itself while the thread is not running.
        self._write_lock = threading.Lock()
        self._oldest_at = 0.0  # monotonic time the oldest queued item arrived
        self._queued_ops = 0  # operations in the queue
        self._pending = 0  # operations in the queue or being written
        self._watched = 0  # queued units someone waits for: write without waiting the interval
        self._room_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._failed_batches = 0
        self._given_up = 0  # operations given up in all
        self._backlog_max = 0
        self._stopping = False
        self._deadline: float | None = None  # when stopping: give up retrying after this
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread (again after a ``stop()``)."""
        if self._thread is not None and self._thread.is_alive():
            return
        with self._cond:
            self._stopping = False
            self._deadline = None
        self._thread = threading.Thread(target=self._run, name="ems-recorder", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> int:
        """Commit everything queued so far, then end the writer thread.

        While the database takes writes the queue is written to the end, however long that
        takes (the backlog is bounded); a database that keeps failing is retried until
        ``timeout_s`` has passed, then what could not be written is given up: its waiters get
        :class:`WriteFailed` (nothing was acknowledged for it). Returns the number of
        operations given up that way.
        """
        thread = self._thread
        given_up_before = self._given_up
        with self._cond:
            self._stopping = True
            self._deadline = time.monotonic() + timeout_s
            self._cond.notify_all()
        if thread is not None:
            thread.join()
            self._thread = None
        self._drain()  # operations (and waiters) that raced with the thread's exit
        return self._given_up - given_up_before

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def pending(self) -> int:
        """Operations queued or being written, not yet committed (the backlog)."""
        return self._pending

    @property
    def backlog_max(self) -> int:
        """The largest backlog since the recorder was made."""
        return self._backlog_max

    @property
    def failed_batches(self) -> int:
        """Batches in which something could not be written (see the module docstring)."""
        return self._failed_batches

    # -- units and waiting -------------------------------------------------------------------

    @contextlib.contextmanager
    def unit(self) -> Iterator[Unit]:
        """Collect the writes made inside the block (this task, and threads it awaits) in one
        unit; queue it with :meth:`commit` after the block."""
        unit = Unit()
        with collecting(unit):
            yield unit

    async def commit(self, unit: Unit) -> None:
        """Queue a closed unit and return once its writes are committed.

        Raises :class:`WriteFailed` when they cannot be: the caller must not acknowledge what
        the unit holds. A unit without writes returns at once.
        """
        if not unit.ops:
            return
        if not self.running:
            self._submit(unit)
            await asyncio.to_thread(self._drain)
        else:
            unit.watch_async()
            self._submit(unit)
        if unit.watched:
            await unit.wait()
        elif unit.error is not None:
            raise unit.error

    def submit(self, unit: Unit) -> None:
        """Queue a unit's writes without waiting for them."""
        if unit.ops:
            self._submit(unit)

    async def barrier(self) -> None:
        """Return once every operation queued before the call is committed (or given up).

        For read-your-writes in the API; the event loop keeps running meanwhile.
        """
        if not self.running:
            await asyncio.to_thread(self._drain)
            return
        unit = Unit()
        unit.watch_async()
        self._submit(unit)
        with contextlib.suppress(WriteFailed):
            await unit.wait()

    def flush_sync(self, timeout_s: float | None = None) -> None:
        """Block until every operation queued before the call is committed (or given up)."""
        if not self.running:
            self._drain()
            return
        unit = Unit()
        done = unit.watch_sync()
        self._submit(unit)
        if not done.wait(timeout_s):
            raise TimeoutError(f"recorder did not write its queue within {timeout_s} s")

    async def room(self) -> None:
        """Return when the backlog is below ``max_backlog`` (at once, nearly always).

        The OCPP connections call it before reading their next frame: when the database falls
        behind, ems stops reading and the chargers wait for their answers.
        """
        if self._pending < self.max_backlog:
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._cond:
            if self._pending < self.max_backlog or not self.running:
                return
            self._room_waiters.append((loop, future))
        metrics.count_backpressure()
        await future

    # -- operations --------------------------------------------------------------------------

    def frame(
        self, charge_point_id: str, direction: str, timestamp: datetime, message: str
    ) -> None:
        """Log one raw OCPP frame; ``direction`` is "in" (from the charge point) or "out"."""
        self._put(
            (
                FRAME,
                {
                    "charge_point_id": charge_point_id,
                    "direction": direction,
                    "timestamp": timestamp,
                    "message": message,
                },
            )
        )

    def samples(
        self,
        charge_point_id: str,
        evse_id: int,
        connector_id: int,
        transaction_pk: str | None,
        samples: Sequence[MeterSample],
    ) -> None:
        """Append meter samples; ``transaction_pk`` is ems's transaction id, None outside one."""
        self._put(
            (SAMPLES, (charge_point_id, evse_id, connector_id, transaction_pk, tuple(samples)))
        )

    def status(
        self,
        charge_point_id: str,
        report: StatusReport,
        *,
        current: bool,
        current_at: datetime | None = None,
    ) -> None:
        """Append to the status history; with ``current`` also make it the connector's status.

        ``current`` is False for a report that arrives after a newer one (queued offline).
        ``current_at`` dates the connector's status when it is not the report's own time (a
        report dated in the future counts as of its arrival).
        """
        values = status_values(charge_point_id, report)
        self._put((STATUS, (values, current, current_at or report.timestamp)))

    def transaction(self, tx: Transaction) -> None:
        """Upsert a snapshot of ``tx`` as it is now."""
        self._put((TRANSACTION, transaction_values(tx)))

    def charge_point_boot(
        self, charge_point_id: str, version: str, info: BootInfo, timestamp: datetime
    ) -> None:
        """Record a BootNotification; an unknown charge point is added as Pending, profile 0."""
        self._put(
            (
                BOOT,
                {
                    "id": charge_point_id,
                    "registration": "Pending",
                    "security_profile": 0,
                    "password_hash": None,
                    "created_at": timestamp,
                    "ocpp_version": str(version),
                    "vendor": info.vendor,
                    "model": info.model,
                    "serial_number": info.serial_number,
                    "firmware_version": info.firmware_version,
                    "iccid": info.iccid,
                    "imsi": info.imsi,
                    "meter_type": info.meter_type,
                    "meter_serial_number": info.meter_serial_number,
                    "boot_reason": None if info.reason is None else str(info.reason),
                    "last_boot_at": timestamp,
                    "last_seen_at": timestamp,
                },
            )
        )

    def seen(self, charge_point_id: str, timestamp: datetime) -> None:
        """Note traffic from a known charge point; ``last_seen_at`` only moves forward."""
        self._put((SEEN, (charge_point_id, timestamp)))

    def profile(
        self,
        charge_point_id: str,
        evse_id: int,
        profile: dict[str, Any],
        sent_at: datetime,
        status: str | None,
        error: str | None,
    ) -> None:
        """Log a charging profile sent, with the answer's status or the error instead of one.

        ``profile`` is the neutral profile as a dict with at least ``id``, ``stack_level``,
        ``purpose`` and ``transaction_id``.
        """
        transaction_id = profile.get("transaction_id")
        self._put(
            (
                PROFILE,
                {
                    "charge_point_id": charge_point_id,
                    "evse_id": evse_id,
                    "profile_id": profile["id"],
                    "stack_level": profile["stack_level"],
                    "purpose": str(profile["purpose"]),
                    "transaction_id": None if transaction_id is None else str(transaction_id),
                    "profile": dict(profile),
                    "sent_at": sent_at,
                    "status": None if status is None else str(status),
                    "error": error,
                },
            )
        )

    def settings(self, charge_point_id: str, rows: Sequence[SettingRow]) -> None:
        """Upsert configuration keys / device-model variables of ``charge_point_id``.

        The rows' own ``charge_point_id`` is ignored; a missing ``updated_at`` becomes now.
        """
        now = datetime.now(UTC)
        self._put(
            (
                SETTINGS,
                [
                    {
                        "charge_point_id": charge_point_id,
                        "component": row.component,
                        "evse_id": row.evse_id,
                        "variable": row.variable,
                        "instance": row.instance,
                        "attribute_type": row.attribute_type,
                        "value": row.value,
                        "readonly": row.readonly,
                        "updated_at": row.updated_at or now,
                    }
                    for row in rows
                ],
            )
        )

    def event(
        self, charge_point_id: str, kind: str, timestamp: datetime, payload: dict[str, Any]
    ) -> None:
        """Log a notification (``kind`` e.g. "firmware_status", "security_event") as it came."""
        self._put(
            (
                EVENT,
                {
                    "charge_point_id": charge_point_id,
                    "kind": kind,
                    "timestamp": timestamp,
                    "payload": payload,
                },
            )
        )

    def control_cycle(self, cycle: dict[str, Any], limits: Sequence[dict[str, Any]]) -> None:
        """Append a control cycle (with its own ``id``) and the limits it sent."""
        self._put((CONTROL_CYCLE, cycle))
        if limits:
            self._put((CONTROL_LIMITS, list(limits)))

    def charging_need(self, values: dict[str, Any]) -> None:
        """Upsert a transaction's departure time and energy (``transaction_pk`` is the key)."""
        self._put((CHARGING_NEED, values))

    def counter(self, name: str, value: int) -> None:
        """Raise the stored counter ``name`` to ``value`` (it never goes down)."""
        self._put((COUNTER, (name, value)))

    # -- writer ------------------------------------------------------------------------------

    def _put(self, op: Op) -> None:
        unit = current()
        if unit is not None:
            unit.ops.append(op)
            return
        with self._cond:
            self._enqueue(op, 1)
            if self._queued_ops >= self.batch_size:
                self._cond.notify()

    def _submit(self, unit: Unit) -> None:
        unit.sealed = True
        with self._cond:
            unit.queued_at = time.monotonic()
            self._enqueue(unit, len(unit.ops))
            if unit.watched:
                self._watched += 1
                self._cond.notify()

    def _enqueue(self, item: Item, ops: int) -> None:
        """Append ``item`` (the caller holds ``_cond``)."""
        if not self._queue:
            self._oldest_at = time.monotonic()
            self._cond.notify()
        self._queue.append(item)
        self._queued_ops += ops
        self._pending += ops
        if self._pending > self._backlog_max:
            self._backlog_max = self._pending

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if not self._queue:
                    return
                while not (
                    self._stopping or self._watched or self._queued_ops >= self.batch_size
                ):
                    remaining_s = self._oldest_at + self.flush_interval_s - time.monotonic()
                    if remaining_s <= 0:
                        break
                    self._cond.wait(remaining_s)
            self._write_batch()

    def _drain(self) -> None:
        """Write everything queued, in the calling thread."""
        while self._queue:
            self._write_batch()

    def _write_batch(self) -> None:
        with self._write_lock:
            with self._cond:
                items, ops = self._take()
            if not items:
                return
            given_up = self._write(items)
            units = [item for item in items if isinstance(item, Unit)]
            for unit in units:
                unit.finish()
            with self._cond:
                self._pending -= ops
                if given_up:
                    self._failed_batches += 1
                    self._given_up += given_up
                waiters = self._room_waiters if self._pending < self.max_backlog else []
                if waiters:
                    self._room_waiters = []
        notify(units)
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits
                loop.call_soon_threadsafe(_set_done, future)
        now = time.monotonic()
        metrics.observe_commits(
            [now - unit.queued_at for unit in units if unit.ops and unit.error is None], ops
        )

    def _take(self) -> tuple[list[Item], int]:
        """Take whole items off the queue, up to about ``batch_size`` operations (the caller
        holds ``_cond``). Returns them and how many operations they hold."""
        queue, ops = self._queue, 0
        items: list[Item] = []
        while queue and (not items or ops < self.batch_size):
            item = queue.popleft()
            items.append(item)
            if isinstance(item, Unit):
                ops += len(item.ops)
                if item.watched:
                    self._watched -= 1
            else:
                ops += 1
        self._queued_ops -= ops
        if queue:
            self._oldest_at = time.monotonic()
        return items, ops

    def _write(self, items: list[Item]) -> int:
        """Commit ``items`` in one transaction; isolate what the database refuses. Returns the
        number of operations given up.

        A refused batch is split in halves (order kept) until the refusing items stand alone;
        an unreachable or locked database is retried with backoff (when stopping, until the
        deadline, then everything left is given up).
        """
        delay_s = RETRY_FIRST_S
        retrying_since: float | None = None
        while True:
            try:
                self._writer.write([op for item in items for op in _ops(item)])
            except Exception as error:
                if is_transient(error) and not self._past_deadline():
                    now = time.monotonic()
                    if retrying_since is None:
                        retrying_since = now
                        log.warning("database unavailable, retrying: %s", _first_line(error))
                    time.sleep(delay_s)
                    delay_s = min(delay_s * 2, RETRY_MAX_S)
                    continue
                if len(items) == 1 or is_transient(error):
                    return sum(self._give_up(item, error) for item in items)
                middle = len(items) // 2
                return self._write(items[:middle]) + self._write(items[middle:])
            if retrying_since is not None:
                log.warning(
                    "database available again after %.1f s", time.monotonic() - retrying_since
                )
            return 0

    def _give_up(self, item: Item, error: BaseException) -> int:
        """Mark ``item`` as not written (its waiter gets WriteFailed); how many operations."""
        ops = _ops(item)
        if isinstance(item, Unit):
            item.error = WriteFailed(f"could not be stored: {_first_line(error)}", error)
        log.error(
            "could not write %d operation(s)%s: %s: %.300r",
            len(ops),
            " of a message (not acknowledged)" if isinstance(item, Unit) else "",
            _first_line(error),
            ops[0] if ops else None,
        )
        return len(ops)

    def _past_deadline(self) -> bool:
        deadline = self._deadline
        return deadline is not None and time.monotonic() >= deadline


def _ops(item: Item) -> Sequence[Op]:
    return item.ops if isinstance(item, Unit) else (item,)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)

"""The recorder: OCPP traffic's writes, queued and written in batches by one thread."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ems.domain import BootInfo, MeterSample, StatusReport, Transaction
from ems.store.batch import (
    BARRIER,
    BOOT,
    CHARGING_NEED,
    CONTROL_CYCLE,
    CONTROL_LIMITS,
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
)
from ems.store.convert import status_values, transaction_values
from ems.store.rows import SettingRow
from ems.store.store import Store

log = logging.getLogger(__name__)


class Recorder:
    """Batches the writes of OCPP traffic so that the message loop never waits on the database.

    Calls are non-blocking and thread-safe: each puts an operation on a queue; one writer thread
    drains the queue in batches (up to ``batch_size`` operations, at the latest
    ``flush_interval_s`` after the oldest queued operation), in one database transaction per batch,
    with one executemany per table (see ``ems.store.batch`` for how order is kept: per table, last
    state per key wins for upserts, so an upsert of a transaction followed by samples followed by
    another upsert of the same transaction ends in the last state). Nothing is lost on a clean
    ``stop()``. A database error never stops the writer: the batch is retried row by row and the
    rows that still fail are logged and counted in ``failed_batches``.
    """

    def __init__(
        self, store: Store, *, batch_size: int = 2000, flush_interval_s: float = 0.05
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.store = store
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self._writer = BatchWriter(store.engine)
        self._queue: deque[Op] = deque()
        self._cond = threading.Condition(threading.Lock())
        # Held while a batch is taken from the queue and written, so that batches are written in
        # order even when a caller drains the queue itself while the thread is not running.
        self._write_lock = threading.Lock()
        self._oldest_at = 0.0  # monotonic time the oldest queued operation arrived
        self._barriers = 0  # queued barriers: someone waits, so write without waiting the interval
        self._pending = 0
        self._stopping = False
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread (again after a ``stop()``)."""
        if self._thread is not None and self._thread.is_alive():
            return
        with self._cond:
            self._stopping = False
        self._thread = threading.Thread(target=self._run, name="ems-recorder", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Write everything queued so far, then end the writer thread.

        Raises ``TimeoutError`` when the queue could not be written within ``timeout_s``; the
        thread keeps writing in the background then.
        """
        thread = self._thread
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if thread is None:
            self._drain()
            return
        thread.join(timeout_s)
        if thread.is_alive():
            raise TimeoutError(
                f"recorder still had {self.pending} operations to write after {timeout_s} s"
            )
        self._thread = None
        self._drain()  # operations (and barriers) that raced with the thread's exit

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def pending(self) -> int:
        """Operations queued or being written, not yet committed."""
        return self._pending

    @property
    def failed_batches(self) -> int:
        """Batches in which something could not be written (see the class docstring)."""
        return self._writer.failed_batches

    async def barrier(self) -> None:
        """Return once every operation queued before the call is committed (or failed and logged).

        For read-your-writes in the API; the event loop keeps running meanwhile.
        """
        if not self.running:
            await asyncio.to_thread(self._drain)
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def resolve() -> None:
            # RuntimeError: the loop was closed meanwhile, so nobody is waiting anymore
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_set_done, done)

        self._put((BARRIER, resolve))
        await done

    def flush_sync(self, timeout_s: float | None = None) -> None:
        """Block until every operation queued before the call is committed (or failed, logged)."""
        if not self.running:
            self._drain()
            return
        done = threading.Event()
        self._put((BARRIER, done.set))
        if not done.wait(timeout_s):
            raise TimeoutError(f"recorder did not write its queue within {timeout_s} s")

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

    def status(self, charge_point_id: str, report: StatusReport, *, current: bool) -> None:
        """Append to the status history; with ``current`` also make it the connector's status.

        ``current`` is False for a report that arrives after a newer one (queued offline).
        """
        self._put((STATUS, (status_values(charge_point_id, report), current)))

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

    # -- writer ------------------------------------------------------------------------------

    def _put(self, op: Op) -> None:
        with self._cond:
            queue = self._queue
            if not queue:
                self._oldest_at = time.monotonic()
                self._cond.notify()
            queue.append(op)
            if op[0] == BARRIER:
                self._barriers += 1
                self._cond.notify()
            else:
                self._pending += 1
                if len(queue) == self.batch_size:
                    self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if not self._queue:
                    return
                while not (self._stopping or self._barriers or len(self._queue) >= self.batch_size):
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
                ops, barriers = self._take()
            try:
                callbacks = self._writer.write(ops)
            except Exception:  # a bug, not a database error (those are handled by the writer)
                log.exception("recorder lost a batch of %d operations", len(ops))
                callbacks = [payload for kind, payload in ops if kind == BARRIER]
            with self._cond:
                self._pending -= len(ops) - barriers
        for callback in callbacks:
            try:
                callback()
            except Exception:
                log.exception("recorder barrier callback failed")

    def _take(self) -> tuple[list[Op], int]:
        """Take up to ``batch_size`` operations off the queue (the caller holds ``_cond``).

        Returns them and how many of them are barriers.
        """
        queue = self._queue
        if len(queue) <= self.batch_size:
            ops = list(queue)
            queue.clear()
        else:
            ops = [queue.popleft() for _ in range(self.batch_size)]
        barriers = sum(1 for kind, _ in ops if kind == BARRIER) if self._barriers else 0
        self._barriers -= barriers
        return ops, barriers


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)

"""Reconciliation: the transactions ems holds open, checked against what the chargers report.

A transaction can stay open in ems while its charger has long ended it: its stop was lost (a
charger that dropped its offline queue, a stop sent while ems was down and never repeated), or
ems missed the end for a reason nobody saw. Such ghosts hold capacity in the control loop and
make chargers reject the profiles sent for them. Whenever a charge point connects, ems asks it
about every transaction it still holds open for it:

* where the charger can answer about a transaction (2.0.1 GetTransactionStatus), one it says is
  not ongoing, with no messages of it left in its queue, is closed; while it still has queued
  messages, ems asks again later (they may carry the real end);
* where it cannot (1.6), ems asks for the connector's status (TriggerMessage).

Whenever a charger says an EVSE has no transaction (a 1.6 connector reporting Available,
:class:`ems.events.NoTransactionReported`), the transactions open there that started before are
closed unless their own stop arrives within ``grace_s``: a charger coming back online often
reports its status before the stop it queued.

A transaction closed this way ends at its last meter sample and carries ``closed_reason``; if
the charger's own stop arrives later, its time, reading and reason replace the assumed ones. One
more rule lives in the central system itself: a new transaction on an EVSE closes the one still
open there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from ems.csms import CentralSystem
from ems.domain import CommandError, CommandNotSupported, Registration, Transaction
from ems.events import ChargePointConnected, Event, NoTransactionReported

log = logging.getLogger(__name__)

# After a connection: time for the charger to boot and send what it queued offline [s].
SETTLE_S = 2.0
# After a charger said an EVSE has no transaction: time for the stop it may still send [s].
GRACE_S = 30.0
# A charger still holding queued messages of a transaction is asked again after this [s] ...
REASK_S = 10.0
# ... this many times at most.
REASKS = 6


class Reconciler:
    """Checks a charge point's open transactions whenever it connects (module docstring)."""

    def __init__(
        self,
        csms: CentralSystem,
        settle_s: float = SETTLE_S,
        reask_s: float = REASK_S,
        grace_s: float = GRACE_S,
    ) -> None:
        self.csms = csms
        self.settle_s = settle_s
        self.reask_s = reask_s
        self.grace_s = grace_s
        self._tasks: dict[tuple[str, int], asyncio.Task[None]] = {}
        self._unsubscribe = csms.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, ChargePointConnected):
            self._spawn((event.charge_point_id, -1), self.check(event.charge_point_id))
        elif isinstance(event, NoTransactionReported):
            key = (event.charge_point_id, event.evse_id)
            self._spawn(key, self.none_on(event))

    def _spawn(self, key: tuple[str, int], work: Coroutine[Any, Any, None]) -> None:
        """Run ``work``, replacing the one under way for ``key`` (newer news supersedes it)."""
        previous = self._tasks.get(key)
        if previous is not None:
            previous.cancel()
        task = asyncio.get_running_loop().create_task(work)
        self._tasks[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))

    def _forget(self, key: tuple[str, int], task: asyncio.Task[None]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]

    async def close(self) -> None:
        """Stop following connections and cancel the checks under way."""
        self._unsubscribe()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def check(self, charge_point_id: str) -> None:
        """Ask the charge point about each transaction ems holds open for it."""
        await asyncio.sleep(self.settle_s)
        csms = self.csms
        if charge_point_id not in csms.sessions:
            return
        if csms.registration(charge_point_id) is not Registration.ACCEPTED:
            return
        for tx in csms.open_transactions(charge_point_id):
            try:
                await self._check_one(tx)
            except CommandError as error:
                log.info(
                    "%s: could not check transaction %s: %s",
                    charge_point_id, tx.transaction_id, error,
                )  # fmt: skip

    async def none_on(self, event: NoTransactionReported) -> None:
        """Close what is still open on the EVSE after ``grace_s`` and started before."""
        await asyncio.sleep(self.grace_s)
        for tx in self.csms.open_transactions(event.charge_point_id):
            if tx.evse_id == event.evse_id and tx.started_at < event.at:
                await self.csms.close_transaction(tx, f"not running: {event.evidence}")

    async def _check_one(self, tx: Transaction) -> None:
        csms = self.csms
        for _ in range(REASKS):
            if not tx.active:
                return  # ended meanwhile (its queued stop came in)
            commands = csms.commands(tx.charge_point_id)
            try:
                status = await commands.transaction_status(tx.transaction_id)
            except CommandNotSupported:
                await commands.trigger_message("StatusNotification", tx.evse_id)
                return  # the status it sends closes the transaction if there is none
            if status.ongoing is not False:
                return  # running, or the charger does not say: nothing to correct
            if not status.messages_queued:
                await csms.close_transaction(
                    tx, "unknown to the charger: GetTransactionStatus says it is not ongoing"
                )
                return
            await asyncio.sleep(self.reask_s)  # its queue may hold the real end

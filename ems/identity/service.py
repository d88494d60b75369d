"""The identification service: answers id tokens, manages them, keeps chargers in step.

:class:`Identity` is owned by the central system (``CentralSystem.identity``). It answers
Authorize, StartTransaction and TransactionEvent tokens with :func:`ems.identity.policy.decide`,
offers the token operations the REST API uses (create, replace, delete, CSV import), and after
every change brings the local authorization lists of the connected chargers up to date
(:mod:`ems.identity.sync`). When a change takes a right away from a token (blocked, expired,
deleted, restricted, moved to another group or account), every charger is also told to clear its
authorization cache, at once when connected and otherwise at its next connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ems.domain import Authorization, IdToken, Registration
from ems.events import ChargePointAccepted, ChargePointConnected, ChargePointDisconnected, Event
from ems.identity.policy import TokenFacts, decide
from ems.identity.repository import ListState, TokenFilter, TokenRepository
from ems.identity.sync import LocalListSync, SyncOutcome
from ems.identity.tokens import TokenError, TokenRecord, TokenStatus, same_id
from ems.identity.tokens_csv import CsvImportError, RowError, read_tokens_csv

if TYPE_CHECKING:
    from ems.csms import CentralSystem

log = logging.getLogger(__name__)

#: A charger that reconnects without booting (1.6 chargers often do) is synced after this delay.
RECONNECT_SYNC_DELAY_S = 3.0
#: Changes that arrive within this time go out in one sync (a bulk import, several edits).
CHANGE_SYNC_DELAY_S = 0.2


@dataclass(frozen=True, slots=True)
class ImportResult:
    """How many tokens a CSV import created and how many it replaced."""

    created: int
    updated: int


def takes_rights_away(before: TokenRecord, after: TokenRecord | None, now: datetime) -> bool:
    """Whether a change may turn an answer Accepted before into another answer after.

    Then chargers must forget what they cached. Changes that only grant more do not count.
    """
    if before.status is not TokenStatus.ACCEPTED:
        return False
    if after is None or after.status is not TokenStatus.ACCEPTED:
        return True
    if after.expires_at is not None and (
        before.expires_at is None or after.expires_at < before.expires_at
    ):
        return True
    narrowed = bool(after.valid_at) and set(after.valid_at) != set(before.valid_at)
    return (
        narrowed
        or after.group_id != before.group_id
        or after.account_id != before.account_id
        or (after.max_concurrent_tx or 1) < (before.max_concurrent_tx or 1)
    )


class Identity:
    """Id tokens: answers to chargers, operations for operators, local lists and caches."""

    def __init__(
        self,
        csms: CentralSystem,
        *,
        accept_unknown: bool,
        clock: Callable[[], datetime],
        reconnect_sync_delay_s: float = RECONNECT_SYNC_DELAY_S,
    ) -> None:
        self.csms = csms
        self.accept_unknown = accept_unknown
        self.clock = clock
        self.repository = TokenRepository(csms.store.engine)
        self.local_lists = LocalListSync(self.repository, clock, csms.commands)
        self.reconnect_sync_delay_s = reconnect_sync_delay_s
        self._tasks: set[asyncio.Task[Any]] = set()
        self._wanted: set[str] = set()
        self._awaiting_boot: set[str] = set()
        self._refused: set[str] = set()  # open transactions whose token was not accepted
        self._unsubscribe: Callable[[], None] | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self, configured: Sequence[TokenRecord] = ()) -> None:
        """Apply the configured tokens and follow the chargers' connections."""
        if configured:
            await asyncio.to_thread(self.repository.apply_configured, configured, self.clock())
        self._unsubscribe = self.csms.subscribe(self._on_event)

    async def stop(self) -> None:
        """Stop following connections and cancel syncs under way."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, ChargePointConnected):
            self.local_lists.forget(event.charge_point_id)
            self._awaiting_boot.add(event.charge_point_id)
            self._spawn(self._sync_unless_booting(event.charge_point_id))
        elif isinstance(event, ChargePointAccepted):
            self._awaiting_boot.discard(event.charge_point_id)
            self.request_sync(event.charge_point_id)
        elif isinstance(event, ChargePointDisconnected):
            self._awaiting_boot.discard(event.charge_point_id)

    async def _sync_unless_booting(self, charge_point_id: str) -> None:
        await asyncio.sleep(self.reconnect_sync_delay_s)
        if charge_point_id in self._awaiting_boot and self._accepted_online(charge_point_id):
            self._awaiting_boot.discard(charge_point_id)
            self.request_sync(charge_point_id)

    def _accepted_online(self, charge_point_id: str) -> bool:
        state = self.csms.charge_points.get(charge_point_id)
        return (
            state is not None
            and state.registration is Registration.ACCEPTED
            and charge_point_id in self.csms.sessions
        )

    # ---- answers to chargers -----------------------------------------------------------------

    async def authorize(
        self,
        charge_point_id: str,
        token: IdToken,
        *,
        evse_id: int | None = None,
        starting: bool = False,
    ) -> Authorization:
        """The answer to ``token`` at ``charge_point_id`` (a database read, off the loop).

        ``starting``: a transaction starts with it on ``evse_id``, so ConcurrentTx is checked.
        """
        facts = await asyncio.to_thread(self.repository.facts, token.id)
        running = self.running_elsewhere(charge_point_id, evse_id, token) if starting else None
        return decide(
            facts,
            charge_point_id=charge_point_id,
            now=self.clock(),
            accept_unknown=self.accept_unknown,
            evse_id=evse_id,
            running_elsewhere=running,
        )

    def refused(self, transaction_pk: str) -> None:
        """A transaction's token was answered other than Accepted: it does not count as the
        token charging (a charger that keeps it running does so on its own settings)."""
        self._refused.add(transaction_pk)

    def running_elsewhere(self, charge_point_id: str, evse_id: int | None, token: IdToken) -> int:
        """The token's open, accepted transactions on other EVSEs than (charge point, EVSE)."""
        open_txs = self.csms.open_transactions()
        self._refused &= {tx.id for tx in open_txs}
        return sum(
            1
            for tx in open_txs
            if tx.id_token is not None
            and tx.id not in self._refused
            and same_id(tx.id_token.id, token.id)
            and (tx.charge_point_id, tx.evse_id) != (charge_point_id, evse_id)
        )

    # ---- operations ----------------------------------------------------------------------------

    async def get(self, id_token: str) -> TokenRecord | None:
        return await asyncio.to_thread(self.repository.get, id_token)

    async def facts(self, id_token: str) -> TokenFacts | None:
        return await asyncio.to_thread(self.repository.facts, id_token)

    async def tokens(
        self, where: TokenFilter | None = None, limit: int | None = 100, offset: int = 0
    ) -> list[TokenRecord]:
        return await asyncio.to_thread(self.repository.tokens, where, limit, offset)

    async def _check_accounts(self, records: Iterable[TokenRecord]) -> dict[str, str]:
        """Account ids that are no open wallet or fleet account, with the reason."""
        wanted = {r.account_id for r in records if r.account_id is not None}
        missing = await asyncio.to_thread(self.repository.missing_accounts, wanted)
        return {
            account_id: f"{account_id!r} is no open wallet or fleet account"
            for account_id in missing
        }

    async def create(self, record: TokenRecord) -> TokenRecord:
        """Add a token. TokenError names a bad field; TokenConflict when the id exists."""
        if problem := (await self._check_accounts([record])).get(record.account_id or ""):
            raise TokenError("account_id", problem)
        created = await asyncio.to_thread(self.repository.create, record, self.clock())
        self._changed([])
        return created

    async def replace(self, record: TokenRecord) -> TokenRecord:
        """Replace a token's fields; UnknownToken when there is none with this id."""
        if problem := (await self._check_accounts([record])).get(record.account_id or ""):
            raise TokenError("account_id", problem)
        before, after = await asyncio.to_thread(self.repository.replace, record, self.clock())
        self._changed([(before, after)])
        return after

    async def delete(self, id_token: str) -> TokenRecord:
        """Remove a token; UnknownToken when there is none."""
        before = await asyncio.to_thread(self.repository.delete, id_token)
        self._changed([(before, None)])
        return before

    async def import_csv(self, text: str) -> ImportResult:
        """Create or replace every token of a CSV file, all of them or none.

        :class:`CsvImportError` lists every problem with its line: bad cells, repeated ids,
        unknown accounts.
        """
        rows = read_tokens_csv(text)
        problems = await self._check_accounts(record for _, record in rows)
        errors = [
            RowError(line, "account_id", problems[record.account_id])
            for line, record in rows
            if record.account_id in problems
        ]
        if errors:
            raise CsvImportError(errors)
        created, replaced = await asyncio.to_thread(
            self.repository.import_records, [record for _, record in rows], self.clock()
        )
        self._changed(replaced)
        return ImportResult(len(created), len(replaced))

    def _changed(self, changes: Sequence[tuple[TokenRecord, TokenRecord | None]]) -> None:
        """After a change: clear caches if rights were taken away; sync the connected lists."""
        now = self.clock()
        revoked = [b.id_token for b, a in changes if takes_rights_away(b, a, now)]
        self._spawn(self._after_change(revoked))

    async def _after_change(self, revoked: Sequence[str]) -> None:
        if revoked:
            log.info("id tokens revoked (%s): authorization caches to be cleared", len(revoked))
            ids = list(self.csms.charge_points)
            await asyncio.to_thread(self.repository.mark_cache_clear_pending, ids, self.clock())
        for charge_point_id in list(self.csms.sessions):
            if self._accepted_online(charge_point_id):
                self.request_sync(charge_point_id, CHANGE_SYNC_DELAY_S)

    # ---- local lists ---------------------------------------------------------------------------

    def request_sync(self, charge_point_id: str, delay_s: float = 0.0) -> None:
        """Sync the charger's list soon; requests made before that sync starts are merged."""
        if charge_point_id in self._wanted:
            return
        self._wanted.add(charge_point_id)
        self._spawn(self._sync_later(charge_point_id, delay_s))

    async def _sync_later(self, charge_point_id: str, delay_s: float) -> None:
        try:
            if delay_s:
                await asyncio.sleep(delay_s)
        finally:
            self._wanted.discard(charge_point_id)
        outcome = await self.local_lists.sync(charge_point_id)
        if outcome.action in ("full", "differential"):
            log.info(
                "%s: local list %s update to version %s (%d entries)",
                charge_point_id,
                outcome.action,
                outcome.version,
                outcome.entries_sent,
            )

    async def sync_now(self, charge_point_id: str) -> SyncOutcome:
        """Sync the charger's cache and list now and say what was done."""
        return await self.local_lists.sync(charge_point_id)

    async def list_states(self) -> list[ListState]:
        return await asyncio.to_thread(self.repository.list_states)

"""Keeping each charger's local authorization list and cache in step with the token table.

One sync of a charge point:

1. clear its authorization cache (ClearCache) when a token was revoked since the last time;
2. read whether it has a local list and how many entries a message and the list may hold
   (1.6 ``LocalAuthListEnabled``, ``SendLocalListMaxLength``, ``LocalAuthListMaxLength``;
   2.0.1 ``LocalAuthListCtrlr.Enabled``, ``LocalAuthListCtrlr.ItemsPerMessage``), once per
   connection;
3. ask its list version (GetLocalListVersion). When it is not the version ems last got
   accepted, ems cannot know what the charger holds and sends the whole list (Full); otherwise
   only the differences since (Differential), nothing when there are none;
4. a list longer than a message may hold goes as a Full with the first part followed by
   Differentials with the rest, each with the next version;
5. a Differential answered Failed or VersionMismatch is followed by a Full (1.6 5.15, 2.0.1
   D01); what the charger accepted is stored with its version as each answer arrives.

A charge point that never had a list from ems is left alone while there are no tokens, so
chargers of sites that do not use id tokens see no extra traffic.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from ems.commands import ChargePointCommands, VariableRef
from ems.domain import CommandError, OcppVersion
from ems.identity.local_list import Item, ListEntry, chunks, desired_list, diff
from ems.identity.repository import ListState, TokenRepository

log = logging.getLogger(__name__)

_KEYS_16 = ("LocalAuthListEnabled", "SendLocalListMaxLength", "LocalAuthListMaxLength")
_CTRLR_201 = "LocalAuthListCtrlr"
_VARIABLES_201 = ("Enabled", "ItemsPerMessage")
_RETRY_AS_FULL = ("Failed", "VersionMismatch")
_CACHE_DONE = ("Accepted", "Rejected")  # Rejected: the charger has no cache to clear

Action = Literal["full", "differential", "none", "not_supported", "offline", "failed"]


@dataclass(frozen=True, slots=True)
class ListSupport:
    """What a charger says about its local list; ``enabled`` False when it has none."""

    enabled: bool
    items_per_message: int | None = None
    max_entries: int | None = None


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    """What a sync did: the kind of update sent (or why none), the version the charger now has,
    how many entries went out, whether its cache was cleared; ``detail`` says what went wrong."""

    charge_point_id: str
    action: Action
    version: int | None = None
    entries_sent: int = 0
    cache_cleared: bool = False
    detail: str | None = None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _true(value: Any) -> bool:
    return str(value).strip().lower() == "true"


async def read_support(commands: ChargePointCommands) -> ListSupport:
    """The charger's local list configuration, from its configuration keys or variables."""
    if commands.version is OcppVersion.V16:
        result = await commands.get_variables([VariableRef(key) for key in _KEYS_16])
        values = {
            item.get("key"): item.get("value")
            for item in result.payload.get("configurationKey") or []
        }
        return ListSupport(
            enabled=_true(values.get("LocalAuthListEnabled")),
            items_per_message=_int(values.get("SendLocalListMaxLength")),
            max_entries=_int(values.get("LocalAuthListMaxLength")),
        )
    refs = [VariableRef(name, _CTRLR_201) for name in _VARIABLES_201]
    result = await commands.get_variables(refs)
    found = {
        answer["variable"]["name"]: answer.get("attributeValue")
        for answer in result.payload.get("getVariableResult") or []
        if answer.get("attributeStatus") == "Accepted"
    }
    return ListSupport(
        enabled=_true(found.get("Enabled")), items_per_message=_int(found.get("ItemsPerMessage"))
    )


class LocalListSync:
    """Syncs one charge point at a time per charge point; called by the identity service."""

    def __init__(
        self,
        repository: TokenRepository,
        clock: Callable[[], datetime],
        commands: Callable[[str], ChargePointCommands],
    ) -> None:
        self.repository = repository
        self.clock = clock
        self._commands = commands
        self._support: dict[str, tuple[ChargePointCommands, ListSupport]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def forget(self, charge_point_id: str) -> None:
        """The charger reconnected: read its configuration again at the next sync."""
        self._support.pop(charge_point_id, None)

    async def sync(self, charge_point_id: str) -> SyncOutcome:
        """Bring the charger's cache and list up to date (see the module's docstring)."""
        lock = self._locks.setdefault(charge_point_id, asyncio.Lock())
        async with lock:
            try:
                return await self._sync(charge_point_id)
            except CommandError as error:
                log.info("%s: local list not synced: %s", charge_point_id, error)
                await self._save(charge_point_id, f"error: {error}")
                return SyncOutcome(charge_point_id, "failed", detail=str(error))

    async def _save(self, charge_point_id: str, status: str) -> None:
        state = await asyncio.to_thread(self.repository.list_state, charge_point_id)
        await asyncio.to_thread(
            self.repository.save_state, replace(state, status=status), self.clock()
        )

    async def _sync(self, charge_point_id: str) -> SyncOutcome:
        try:
            commands = self._commands(charge_point_id)
        except CommandError as error:
            return SyncOutcome(charge_point_id, "offline", detail=str(error))
        repo = self.repository
        state = await asyncio.to_thread(repo.list_state, charge_point_id)
        tokens = await asyncio.to_thread(repo.all_facts)
        never_synced = state.version == 0 and state.status is None
        if not tokens and never_synced and not state.cache_clear_pending:
            return SyncOutcome(charge_point_id, "none", detail="no id tokens")
        cleared = False
        if state.cache_clear_pending:
            cleared = await self._clear_cache(charge_point_id, commands)
            state = await asyncio.to_thread(repo.list_state, charge_point_id)
        support = await self._read_support(charge_point_id, commands)
        if not support.enabled:
            await asyncio.to_thread(
                repo.save_state, replace(state, status="NotSupported"), self.clock()
            )
            return SyncOutcome(charge_point_id, "not_supported", cache_cleared=cleared)
        answer = await commands.get_local_list_version()
        held_version = _int(
            answer.payload.get("listVersion", answer.payload.get("versionNumber"))
        )
        if held_version is None or held_version < 0:
            await asyncio.to_thread(
                repo.save_state, replace(state, status="NotSupported"), self.clock()
            )
            return SyncOutcome(charge_point_id, "not_supported", cache_cleared=cleared)
        desired = desired_list(
            tokens, charge_point_id, commands.version, self.clock(), support.max_entries
        )
        outcome = await self._update(commands, state, held_version, desired, support)
        return replace(outcome, cache_cleared=cleared)

    async def _read_support(
        self, charge_point_id: str, commands: ChargePointCommands
    ) -> ListSupport:
        known = self._support.get(charge_point_id)
        if known is not None and known[0] is commands:
            return known[1]
        try:
            support = await read_support(commands)
        except CommandError as error:
            log.info("%s: no local list configuration (%s)", charge_point_id, error)
            support = ListSupport(enabled=False)
        self._support[charge_point_id] = (commands, support)
        return support

    async def _clear_cache(self, charge_point_id: str, commands: ChargePointCommands) -> bool:
        """Send ClearCache; the pending flag is taken before sending (a revocation during the
        call marks it again) and put back when the charger did not clear."""
        repository = self.repository
        await asyncio.to_thread(repository.cache_clear_started, charge_point_id, self.clock())
        try:
            result = await commands.clear_cache()
        except CommandError as error:
            log.info("%s: authorization cache not cleared: %s", charge_point_id, error)
            result = None
        if result is None or result.status not in _CACHE_DONE:
            await asyncio.to_thread(
                repository.mark_cache_clear_pending, [charge_point_id], self.clock()
            )
            return False
        return result.status == "Accepted"

    async def _update(
        self,
        commands: ChargePointCommands,
        state: ListState,
        held_version: int,
        desired: dict[str, ListEntry],
        support: ListSupport,
    ) -> SyncOutcome:
        cp = state.charge_point_id
        in_step = held_version == state.version and state.version > 0
        if in_step:
            held = await asyncio.to_thread(self.repository.entries, cp)
            changes = diff(held, desired)
            if not changes:
                await self._record(state, "Accepted", state.version, {}, (), full=False)
                return SyncOutcome(cp, "none", version=state.version)
            status, version, sent = await self._send(
                commands, state, state.version, changes.items(), "Differential", support
            )
            if status == "Accepted":
                return SyncOutcome(cp, "differential", version=version, entries_sent=sent)
            if status not in _RETRY_AS_FULL:
                return SyncOutcome(cp, "failed", version=version, detail=status)
            log.info("%s: Differential answered %s; sending the full list", cp, status)
            state = await asyncio.to_thread(self.repository.list_state, cp)
        elif held_version == 0 and state.version == 0 and not desired:
            await self._record(state, "Accepted", 0, {}, (), full=True)
            return SyncOutcome(cp, "none", version=0)
        base = max(state.version, held_version)
        items = [entry.item() for entry in desired.values()]
        status, version, sent = await self._send(commands, state, base, items, "Full", support)
        if status == "Accepted":
            return SyncOutcome(cp, "full", version=version, entries_sent=sent)
        return SyncOutcome(cp, "failed", version=version, detail=status)

    async def _send(
        self,
        commands: ChargePointCommands,
        state: ListState,
        base_version: int,
        items: Sequence[Item],
        update_type: Literal["Full", "Differential"],
        support: ListSupport,
    ) -> tuple[str, int, int]:
        """Send ``items`` in as many messages as needed; (last status, version, entries sent).

        A Full that needs several messages continues with Differentials; each accepted message
        is stored at once, so a failure half-way leaves the store matching the charger.
        """
        version = base_version
        sent = 0
        for index, part in enumerate(chunks(items, support.items_per_message)):
            kind: Literal["Full", "Differential"] = update_type if index == 0 else "Differential"
            version += 1
            result = await commands.send_local_list(version, [entry for entry, _ in part], kind)
            status = result.status or "Failed"
            if status != "Accepted":
                await self._record(state, status, state.version, {}, (), full=False)
                return status, state.version, sent
            upserts = {e.id_token.id: (e.id_token.type, d) for e, d in part if d is not None}
            removals = [e.id_token.id for e, d in part if d is None]
            await self._record(state, "Accepted", version, upserts, removals, full=kind == "Full")
            state = replace(state, version=version)
            sent += len(part)
        return "Accepted", version, sent

    async def _record(
        self,
        state: ListState,
        status: str,
        version: int,
        upserts: dict[str, tuple[str, str]],
        removals: Sequence[str],
        *,
        full: bool,
    ) -> None:
        now = self.clock()
        current = await asyncio.to_thread(self.repository.list_state, state.charge_point_id)
        new_state = replace(
            current,
            version=version,
            status=status,
            synced_at=now if status == "Accepted" else current.synced_at,
        )
        await asyncio.to_thread(
            self.repository.save_entries,
            state.charge_point_id,
            new_state,
            upserts,
            removals,
            full=full,
            now=now,
        )


"""What a charge point's local authorization list should hold, and how it differs from its list.

Pure functions. The list of a charge point holds every stored token valid there, with the
status, expiry and group it would be answered online (blocked and expired tokens included, so a
charger offline does not accept them from its cache). Left out: tokens restricted to other
charge points, and for 1.6 chargers ids longer than 20 characters and tokens restricted to some
connectors only (1.6 lists cannot say which connector; such tokens are authorized online).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from ems.commands import LocalListEntry
from ems.domain import AuthorizationStatus, IdToken, OcppVersion
from ems.identity.policy import (
    TokenAuthorization,
    TokenFacts,
    evses_allowed,
    expiry_of,
    locations_of,
    status_of,
)
from ems.identity.tokens import MAX_ID_TAG_16

T = TypeVar("T")
#: An entry to send with the digest of its content; removals have no digest.
Item = tuple[LocalListEntry, str | None]


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One token as it belongs in a charge point's list; ``digest`` identifies its content."""

    id_token: str
    type: str
    authorization: TokenAuthorization
    digest: str

    def item(self) -> Item:
        return LocalListEntry(IdToken(self.id_token, self.type), self.authorization), self.digest


@dataclass(frozen=True, slots=True)
class ListDiff:
    """Entries to add or change, and ids (with their type) to remove."""

    upserts: tuple[ListEntry, ...]
    removals: tuple[tuple[str, str], ...]

    def __bool__(self) -> bool:
        return bool(self.upserts or self.removals)

    def items(self) -> list[Item]:
        removed: list[Item] = [
            (LocalListEntry(IdToken(id_token, type_), None), None)
            for id_token, type_ in self.removals
        ]
        return [entry.item() for entry in self.upserts] + removed


def _digest(type_: str, authorization: TokenAuthorization) -> str:
    expires = authorization.expires_at.isoformat() if authorization.expires_at else None
    content = [
        type_,
        authorization.status.value,
        expires,
        authorization.group_id,
        list(authorization.evse_ids),
    ]
    return hashlib.sha256(json.dumps(content).encode()).hexdigest()[:32]


def desired_list(
    tokens: Iterable[TokenFacts],
    charge_point_id: str,
    version: OcppVersion,
    now: datetime,
    max_entries: int | None = None,
) -> dict[str, ListEntry]:
    """The entries ``charge_point_id`` should hold, by id; at most ``max_entries`` of them.

    When the charger cannot take them all, accepted tokens go first (offline charging is what
    the list is for), then the others, each by id.
    """
    is_16 = version is OcppVersion.V16
    entries: list[ListEntry] = []
    for facts in tokens:
        record = facts.record
        evse_ids = evses_allowed(locations_of(facts), charge_point_id)
        if evse_ids is None:
            continue
        if is_16 and (len(record.id_token) > MAX_ID_TAG_16 or evse_ids):
            continue
        group_id = record.group_id
        if is_16 and group_id is not None and len(group_id) > MAX_ID_TAG_16:
            group_id = None
        authorization = TokenAuthorization(
            status_of(facts, now), expiry_of(facts), group_id, evse_ids
        )
        type_ = record.type.value
        entries.append(
            ListEntry(record.id_token, type_, authorization, _digest(type_, authorization))
        )
    entries.sort(
        key=lambda e: (e.authorization.status is not AuthorizationStatus.ACCEPTED, e.id_token)
    )
    if max_entries is not None:
        entries = entries[:max_entries]
    return {entry.id_token: entry for entry in entries}


def diff(held: dict[str, tuple[str, str]], desired: dict[str, ListEntry]) -> ListDiff:
    """What turns the list a charger holds (id -> (type, digest)) into ``desired``."""
    upserts = tuple(
        entry
        for key, entry in desired.items()
        if key not in held or held[key][1] != entry.digest
    )
    removals = tuple((key, held[key][0]) for key in sorted(held) if key not in desired)
    return ListDiff(upserts, removals)


def chunks(items: Sequence[T], size: int | None) -> list[list[T]]:
    """``items`` in messages of at most ``size`` entries (one message when there is no limit)."""
    if not items:
        return [[]]
    if size is None or size <= 0:
        return [list(items)]
    return [list(items[start : start + size]) for start in range(0, len(items), size)]

"""Database access of the identification: tokens, their locations, local list state.

Synchronous (call it from a thread); every write is one database transaction. Works on the
store's engine (SQLite or PostgreSQL) and the tables of ``ems.store.models``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, delete, func, insert, or_, select, update

from ems.identity.policy import TokenFacts
from ems.identity.tokens import Location, TokenRecord, TokenStatus, TokenType
from ems.store import models as m
from ems.store.engine import writer

log = logging.getLogger(__name__)

CUSTOMER_ACCOUNT_KINDS = ("wallet", "fleet")


class TokenConflict(Exception):
    """A token with this id (or one differing only by case) exists already."""


class UnknownToken(Exception):
    """No token with this id."""


@dataclass(frozen=True, slots=True)
class TokenFilter:
    """Which tokens to list; None leaves a criterion out. ``search`` matches id or label."""

    status: TokenStatus | None = None
    type: TokenType | None = None
    group_id: str | None = None
    account_id: str | None = None
    charge_point_id: str | None = None
    search: str | None = None


@dataclass(frozen=True, slots=True)
class ListState:
    """A charge point's local list as last confirmed, and the pending cache clearing."""

    charge_point_id: str
    version: int = 0
    status: str | None = None
    synced_at: datetime | None = None
    cache_clear_pending: bool = False


def _type_of(value: str) -> TokenType:
    try:
        return TokenType(value)
    except ValueError:
        log.warning("stored id token type %r is unknown; treated as ISO14443", value)
        return TokenType.ISO14443


def _status_of(value: str) -> TokenStatus:
    try:
        return TokenStatus(value)
    except ValueError:
        return TokenStatus.INVALID


def _values(record: TokenRecord, created_at: datetime) -> dict[str, Any]:
    return {
        "id_token": record.id_token,
        "type": record.type.value,
        "status": record.status.value,
        "expires_at": record.expires_at,
        "group_id": record.group_id,
        "account_id": record.account_id,
        "max_concurrent_tx": record.max_concurrent_tx,
        "label": record.label,
        "created_at": record.created_at or created_at,
    }


def _location_values(record: TokenRecord) -> list[dict[str, Any]]:
    return [
        {
            "id_token": record.id_token,
            "charge_point_id": loc.charge_point_id,
            "evse_id": loc.evse_id or 0,
        }
        for loc in record.valid_at
    ]


class TokenRepository:
    """Id tokens and local list state in the database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = writer(engine)  # read-then-write transactions wait for the lock

    # -- reads -------------------------------------------------------------------------------

    def _records(self, connection: Connection, rows: Sequence[Row[Any]]) -> list[TokenRecord]:
        if not rows:
            return []
        ids = [row.id_token for row in rows]
        t = m.id_token_locations
        where: dict[str, list[Location]] = {}
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start : chunk_start + 500]
            query = select(t).where(t.c.id_token.in_(chunk))
            for loc in connection.execute(query):
                where.setdefault(loc.id_token, []).append(
                    Location(loc.charge_point_id, loc.evse_id or None)
                )
        return [
            TokenRecord(
                id_token=row.id_token,
                type=_type_of(row.type),
                status=_status_of(row.status),
                expires_at=row.expires_at,
                group_id=row.group_id,
                account_id=row.account_id,
                max_concurrent_tx=row.max_concurrent_tx,
                valid_at=tuple(sorted(where.get(row.id_token, []))),
                label=row.label,
                created_at=row.created_at,
            )
            for row in rows
        ]

    def _find(self, connection: Connection, id_token: str) -> TokenRecord | None:
        """Exact id first (the primary key); then the same id in another case."""
        t = m.id_tokens
        rows = list(connection.execute(select(t).where(t.c.id_token == id_token)))
        if not rows:
            query = select(t).where(func.lower(t.c.id_token) == id_token.lower()).limit(1)
            rows = list(connection.execute(query))
        records = self._records(connection, rows)
        return records[0] if records else None

    def get(self, id_token: str) -> TokenRecord | None:
        with self.engine.connect() as connection:
            return self._find(connection, id_token)

    def facts(self, id_token: str) -> TokenFacts | None:
        """The token, its group token and whether their account is open (one connection)."""
        with self.engine.connect() as connection:
            record = self._find(connection, id_token)
            if record is None:
                return None
            group = self._find(connection, record.group_id) if record.group_id else None
            account_id = record.account_id or (group.account_id if group else None)
            account_open = None
            if account_id is not None:
                a = m.payment_accounts
                query = select(a.c.status).where(a.c.id == account_id)
                account_open = connection.execute(query).scalar() == "open"
        return TokenFacts(record, group, account_open)

    def tokens(
        self, where: TokenFilter | None = None, limit: int | None = 100, offset: int = 0
    ) -> list[TokenRecord]:
        """Tokens matching ``where`` (all without), by id."""
        where = where or TokenFilter()
        t = m.id_tokens
        query = select(t)
        if where.status is not None:
            query = query.where(t.c.status == where.status.value)
        if where.type is not None:
            query = query.where(t.c.type == where.type.value)
        if where.group_id is not None:
            query = query.where(func.lower(t.c.group_id) == where.group_id.lower())
        if where.account_id is not None:
            query = query.where(t.c.account_id == where.account_id)
        if where.search:
            pattern = f"%{where.search.lower()}%"
            query = query.where(
                or_(func.lower(t.c.id_token).like(pattern), func.lower(t.c.label).like(pattern))
            )
        if where.charge_point_id is not None:
            loc = m.id_token_locations
            restricted = select(loc.c.id_token).scalar_subquery()
            here = select(loc.c.id_token).where(loc.c.charge_point_id == where.charge_point_id)
            query = query.where(
                or_(t.c.id_token.not_in(restricted), t.c.id_token.in_(here.scalar_subquery()))
            )
        query = query.order_by(t.c.id_token).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as connection:
            return self._records(connection, list(connection.execute(query)))

    def all_facts(self) -> list[TokenFacts]:
        """Every token with its group and account state, for the local lists."""
        records = self.tokens(limit=None)
        by_key = {r.id_token.lower(): r for r in records}
        a = m.payment_accounts
        with self.engine.connect() as connection:
            accounts = {row.id: row.status == "open" for row in connection.execute(select(a))}
        out = []
        for record in records:
            group = by_key.get(record.group_id.lower()) if record.group_id else None
            account_id = record.account_id or (group.account_id if group else None)
            account_open = None if account_id is None else accounts.get(account_id, False)
            out.append(TokenFacts(record, group, account_open))
        return out

    def count(self) -> int:
        with self.engine.connect() as connection:
            query = select(func.count()).select_from(m.id_tokens)
            return int(connection.execute(query).scalar_one())

    def missing_accounts(self, account_ids: Iterable[str]) -> set[str]:
        """Those of ``account_ids`` that are not open wallet or fleet accounts."""
        wanted = set(account_ids)
        if not wanted:
            return set()
        a = m.payment_accounts
        query = select(a.c.id).where(
            a.c.id.in_(wanted), a.c.kind.in_(CUSTOMER_ACCOUNT_KINDS), a.c.status == "open"
        )
        with self.engine.connect() as connection:
            found = {row.id for row in connection.execute(query)}
        return wanted - found

    # -- writes ------------------------------------------------------------------------------

    def _clash(self, connection: Connection, id_token: str) -> str | None:
        """The stored id equal to ``id_token`` ignoring case, if any."""
        t = m.id_tokens
        query = select(t.c.id_token).where(func.lower(t.c.id_token) == id_token.lower())
        return connection.execute(query.limit(1)).scalar()

    def create(self, record: TokenRecord, now: datetime) -> TokenRecord:
        """Add a token; :class:`TokenConflict` when its id exists (in any case)."""
        with self._writer.begin() as connection:
            existing = self._clash(connection, record.id_token)
            if existing is not None:
                raise TokenConflict(f"id token {existing!r} exists already")
            self._write(connection, record, now, replace=None)
            created = self._find(connection, record.id_token)
        assert created is not None
        return created

    def replace(self, record: TokenRecord, now: datetime) -> tuple[TokenRecord, TokenRecord]:
        """Replace a stored token (found by id in any case); returns (before, after)."""
        with self._writer.begin() as connection:
            before = self._find(connection, record.id_token)
            if before is None:
                raise UnknownToken(f"no id token {record.id_token!r}")
            self._write(connection, record, now, replace=before)
            after = self._find(connection, before.id_token)
        assert after is not None
        return before, after

    def _write(
        self,
        connection: Connection,
        record: TokenRecord,
        now: datetime,
        replace: TokenRecord | None,
    ) -> None:
        t, loc = m.id_tokens, m.id_token_locations
        if replace is None:
            connection.execute(insert(t), _values(record, now))
        else:
            values = _values(record, replace.created_at or now)
            values["id_token"] = replace.id_token
            values["created_at"] = replace.created_at or now
            connection.execute(update(t).where(t.c.id_token == replace.id_token).values(values))
            connection.execute(delete(loc).where(loc.c.id_token == replace.id_token))
        stored_id = replace.id_token if replace is not None else record.id_token
        rows = [{**v, "id_token": stored_id} for v in _location_values(record)]
        if rows:
            connection.execute(insert(loc), rows)

    def delete(self, id_token: str) -> TokenRecord:
        """Remove a token; returns what it was. :class:`UnknownToken` if there is none."""
        t, loc = m.id_tokens, m.id_token_locations
        with self._writer.begin() as connection:
            before = self._find(connection, id_token)
            if before is None:
                raise UnknownToken(f"no id token {id_token!r}")
            connection.execute(delete(loc).where(loc.c.id_token == before.id_token))
            connection.execute(delete(t).where(t.c.id_token == before.id_token))
        return before

    def import_records(
        self, records: Sequence[TokenRecord], now: datetime
    ) -> tuple[list[TokenRecord], list[tuple[TokenRecord, TokenRecord]]]:
        """Create or replace every record in one transaction: all of them or none.

        Returns (created, [(before, after)] of the replaced ones).
        """
        created: list[TokenRecord] = []
        replaced: list[tuple[TokenRecord, TokenRecord]] = []
        with self._writer.begin() as connection:
            for record in records:
                before = self._find(connection, record.id_token)
                self._write(connection, record, now, replace=before)
                if before is None:
                    created.append(record)
                else:
                    after = self._find(connection, before.id_token)
                    assert after is not None
                    replaced.append((before, after))
        return created, replaced

    def apply_configured(self, records: Sequence[TokenRecord], now: datetime) -> None:
        """Tokens from the configuration: type and status set, everything else kept."""
        t = m.id_tokens
        with self._writer.begin() as connection:
            for record in records:
                before = self._find(connection, record.id_token)
                if before is None:
                    self._write(connection, record, now, replace=None)
                else:
                    connection.execute(
                        update(t)
                        .where(t.c.id_token == before.id_token)
                        .values(type=record.type.value, status=record.status.value)
                    )

    # -- local lists -------------------------------------------------------------------------

    def list_state(self, charge_point_id: str) -> ListState:
        t = m.local_auth_lists
        with self.engine.connect() as connection:
            row = connection.execute(select(t).where(t.c.charge_point_id == charge_point_id))
            found = row.first()
        if found is None:
            return ListState(charge_point_id)
        return ListState(
            charge_point_id,
            found.version,
            found.status,
            found.synced_at,
            found.cache_clear_pending,
        )

    def list_states(self) -> list[ListState]:
        t = m.local_auth_lists
        with self.engine.connect() as connection:
            rows = list(connection.execute(select(t).order_by(t.c.charge_point_id)))
        return [
            ListState(r.charge_point_id, r.version, r.status, r.synced_at, r.cache_clear_pending)
            for r in rows
        ]

    def save_state(self, state: ListState, now: datetime) -> None:
        with self._writer.begin() as connection:
            _put_state(connection, state, now)

    def entries(self, charge_point_id: str) -> dict[str, tuple[str, str]]:
        """The list the charger has: id token -> (type, digest)."""
        t = m.local_auth_list_entries
        query = select(t).where(t.c.charge_point_id == charge_point_id)
        with self.engine.connect() as connection:
            return {r.id_token: (r.type, r.digest) for r in connection.execute(query)}

    def save_entries(
        self,
        charge_point_id: str,
        state: ListState,
        upserts: dict[str, tuple[str, str]],
        removals: Iterable[str],
        *,
        full: bool,
        now: datetime,
    ) -> None:
        """Record an accepted update and the charger's new version in one transaction."""
        t = m.local_auth_list_entries
        with self._writer.begin() as connection:
            mine = t.c.charge_point_id == charge_point_id
            if full:
                connection.execute(delete(t).where(mine))
            else:
                gone = list(removals) + list(upserts)
                for start in range(0, len(gone), 500):
                    chunk = gone[start : start + 500]
                    connection.execute(delete(t).where(mine, t.c.id_token.in_(chunk)))
            rows = [
                {"charge_point_id": charge_point_id, "id_token": k, "type": v[0], "digest": v[1]}
                for k, v in upserts.items()
            ]
            if rows:
                connection.execute(insert(t), rows)
            _put_state(connection, state, now)

    def cache_clear_started(self, charge_point_id: str, now: datetime) -> None:
        """A ClearCache is about to go out: the pending clear is taken. A revocation marked
        after this asks for another clear; a clear that fails marks it again."""
        t = m.local_auth_lists
        with self._writer.begin() as connection:
            connection.execute(
                update(t)
                .where(t.c.charge_point_id == charge_point_id)
                .values(cache_clear_pending=False, updated_at=now)
            )

    def mark_cache_clear_pending(self, charge_point_ids: Iterable[str], now: datetime) -> None:
        """Every listed charge point must clear its authorization cache at its next sync."""
        t = m.local_auth_lists
        with self._writer.begin() as connection:
            for charge_point_id in charge_point_ids:
                where = t.c.charge_point_id == charge_point_id
                values = {"cache_clear_pending": True, "updated_at": now}
                if connection.execute(update(t).where(where).values(values)).rowcount == 0:
                    connection.execute(
                        insert(t),
                        {"charge_point_id": charge_point_id, "version": 0, **values},
                    )


def _put_state(connection: Connection, state: ListState, now: datetime) -> None:
    """Store a list's version and status. ``cache_clear_pending`` of an existing row is left
    as it is: only :meth:`TokenRepository.mark_cache_clear_pending` and
    :meth:`~TokenRepository.cache_clear_started` change it, so a sync saving the state it
    read earlier cannot undo a revocation marked meanwhile."""
    t = m.local_auth_lists
    values = {
        "version": state.version,
        "status": state.status,
        "synced_at": state.synced_at,
        "updated_at": now,
    }
    where = t.c.charge_point_id == state.charge_point_id
    if connection.execute(update(t).where(where).values(values)).rowcount == 0:
        connection.execute(
            insert(t),
            {
                "charge_point_id": state.charge_point_id,
                "cache_clear_pending": state.cache_clear_pending,
                **values,
            },
        )

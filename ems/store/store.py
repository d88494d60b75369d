"""The store: schema migration, the loads ems needs at start, admin writes and API queries."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Integer, Numeric, Row, Table, and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Select

from ems.domain import MeterSample, OcppVersion, StatusReport, Transaction
from ems.store import models as m
from ems.store.convert import (
    sample_from_row,
    status_from_row,
    transaction_from_row,
)
from ems.store.engine import make_engine, upsert
from ems.store.migrate import upgrade
from ems.store.rows import (
    ApiTokenRow,
    ChargePointRow,
    EventRow,
    FrameRow,
    IdTokenRow,
    ProfileRow,
    SettingRow,
)
from ems.store.types import UtcDateTime

API_ROLES = ("admin", "readonly")
# The counter of 1.6 transaction ids (table ``counters``).
OCPP16_TRANSACTION_COUNTER = "ocpp16_transaction_id"
# Columns of charge_points the admin owns; the others are reported by the charge point.
ADMIN_COLUMNS = ("registration", "security_profile", "password_hash")


class Store:
    """Database access: schema migration, the loads ems needs at start, and queries for the API.

    ``url`` is an SQLAlchemy URL: ``sqlite:///path/ems.db`` (the directory is created) or
    ``postgresql+psycopg://user@host/db``. Everything returned is a plain value (domain objects
    or the frozen rows of ``ems.store.rows``), safe to keep and share between threads. The
    writes that come with OCPP traffic go through ``Recorder`` instead.
    """

    def __init__(self, url: str, *, sqlite_synchronous: str = "FULL") -> None:
        self.url = url
        self.engine: Engine = make_engine(url, sqlite_synchronous)
        self._dialect = self.engine.dialect.name

    def migrate(self) -> None:
        """Bring the schema to the newest revision (nothing to do when it is there already)."""
        upgrade(self.engine)

    def dispose(self) -> None:
        """Close all pooled connections."""
        self.engine.dispose()

    def _all(self, query: Select[Any]) -> list[Row[Any]]:
        with self.engine.connect() as connection:
            return list(connection.execute(query))

    # -- start-up loads ----------------------------------------------------------------------

    def load_charge_points(self) -> list[ChargePointRow]:
        return self.list_charge_points()

    def load_connectors(self) -> list[tuple[str, StatusReport]]:
        """Current status of every connector, as (charge point id, report)."""
        t = m.connectors
        rows = self._all(select(t).order_by(t.c.charge_point_id, t.c.evse_id, t.c.connector_id))
        return [(row.charge_point_id, status_from_row(row, "status_at")) for row in rows]

    def load_open_transactions(self) -> list[Transaction]:
        t = m.transactions
        query = select(t).where(t.c.stopped_at.is_(None)).order_by(t.c.started_at, t.c.id)
        return [transaction_from_row(row) for row in self._all(query)]

    def last_ocpp16_transaction_id(self) -> int:
        """The highest 1.6 transaction id ems ever handed out (0 if none): the durable counter,
        or, for a database from before the counter, the highest stored 1.6 transaction id."""
        with self.engine.connect() as connection:
            counted = connection.execute(
                select(m.counters.c.value).where(m.counters.c.name == OCPP16_TRANSACTION_COUNTER)
            ).scalar()
        return max(int(counted or 0), self.max_numeric_transaction_id())

    def sample_keys(
        self, scope: tuple[str, int, str | None], since: datetime, until: datetime
    ) -> set[tuple[Any, ...]]:
        """Identity of the samples stored for (charge point, EVSE, transaction) with
        ``since`` <= timestamp <= ``until``, as ``ems.samples.sample_key`` builds it."""
        charge_point_id, evse_id, transaction_pk = scope
        t = m.meter_samples
        pk = t.c.transaction_pk
        columns = ("timestamp", "measurand", "value", "unit", "phase", "context", "location")
        query = select(*(t.c[name] for name in columns), t.c.connector_id).where(
            t.c.charge_point_id == charge_point_id,
            t.c.evse_id == evse_id,
            pk.is_(None) if transaction_pk is None else pk == transaction_pk,
            t.c.timestamp >= since,
            t.c.timestamp <= until,
        )
        return {tuple(row) for row in self._all(query)}

    def last_sample_at(self, transaction_pk: str) -> datetime | None:
        """The time of a transaction's latest meter sample (None without any)."""
        t = m.meter_samples
        query = select(func.max(t.c.timestamp)).where(t.c.transaction_pk == transaction_pk)
        with self.engine.connect() as connection:
            value = connection.execute(query).scalar()
        return UtcDateTime().process_result_value(value, self.engine.dialect)

    def max_numeric_transaction_id(self) -> int:
        """Highest all-digit transaction id of OCPP 1.6 charge points, 0 if there is none.

        ems numbers 1.6 transactions itself and continues from here after a restart; 2.0.1 ids
        are the charge points' and are left out.
        """
        tx, cp = m.transactions, m.charge_points
        tx_id = tx.c.transaction_id
        if self._dialect == "postgresql":
            digits_only = tx_id.regexp_match("^[0-9]+$")
            number: Any = func.max(tx_id.cast(Numeric()))
        else:
            digits_only = and_(tx_id != "", tx_id.op("NOT GLOB")("*[^0-9]*"))
            number = func.max(tx_id.cast(Integer()))
        query = (
            select(number)
            .select_from(tx.join(cp, cp.c.id == tx.c.charge_point_id))
            .where(cp.c.ocpp_version == OcppVersion.V16.value, digits_only)
        )
        with self.engine.connect() as connection:
            value = connection.execute(query).scalar()
        return 0 if value is None else int(value)

    # -- admin writes ------------------------------------------------------------------------

    def upsert_charge_point(self, row: ChargePointRow) -> None:
        """Add a charge point or change the admin's columns of one.

        For an existing charge point only registration, security_profile and password_hash are
        replaced; the columns the charge point reports (boot info, version, timestamps) keep their
        stored values and are only filled where still empty, so a row built from scratch does not
        wipe what the charger told. ``created_at`` defaults to now.
        """
        values = _row_values(row)
        values["registration"] = str(row.registration)
        values["created_at"] = row.created_at or datetime.now(UTC)
        reported = [c for c in values if c not in ADMIN_COLUMNS and c not in ("id", "created_at")]
        stmt = upsert(self._dialect, m.charge_points, ["id"], ADMIN_COLUMNS, coalesce=reported)
        with self.engine.begin() as connection:
            connection.execute(stmt, values)

    def delete_charge_point(self, charge_point_id: str) -> bool:
        """Forget a charge point with its connectors and settings; its history is kept.

        Returns whether it existed.
        """
        with self.engine.begin() as connection:
            for table in (m.connectors, m.charge_point_settings):
                connection.execute(delete(table).where(table.c.charge_point_id == charge_point_id))
            cp = m.charge_points
            result = connection.execute(delete(cp).where(cp.c.id == charge_point_id))
        return result.rowcount > 0

    def upsert_id_token(self, row: IdTokenRow) -> None:
        """Add or replace an id token; ``created_at`` defaults to now and is kept on updates."""
        values = _row_values(row)
        values["status"] = str(row.status)
        values["created_at"] = row.created_at or datetime.now(UTC)
        replaced = ["type", "status", "expires_at", "group_id"]
        stmt = upsert(self._dialect, m.id_tokens, ["id_token"], replaced)
        with self.engine.begin() as connection:
            connection.execute(stmt, values)

    def get_id_token(self, id_token: str) -> IdTokenRow | None:
        t = m.id_tokens
        columns = [t.c[name] for name in IdTokenRow.__dataclass_fields__]
        rows = self._all(select(*columns).where(t.c.id_token == id_token))
        return IdTokenRow(**rows[0]._asdict()) if rows else None

    # -- API tokens --------------------------------------------------------------------------

    def create_api_token(self, name: str, role: str, token: str | None = None) -> str:
        """Create an API token and return it; only its sha256 is stored, so this is the only copy.

        ``role`` is "admin" or "readonly". ``token`` is for a configured bootstrap token; by
        default a random one is made.
        """
        if role not in API_ROLES:
            raise ValueError(f"unknown API token role {role!r}: use one of {', '.join(API_ROLES)}")
        chosen = token is not None
        token = token or secrets.token_urlsafe(32)
        values = {
            "name": name,
            "role": role,
            "token_hash": _token_hash(token),
            "created_at": datetime.now(UTC),
        }
        try:
            with self.engine.begin() as connection:
                connection.execute(m.api_tokens.insert(), values)
        except IntegrityError:
            if not chosen:
                raise
            raise ValueError(
                "this API token exists already (a revoked one cannot be created again): "
                "choose another"
            ) from None
        return token

    def verify_api_token(self, token: str) -> ApiTokenRow | None:
        """The token's row if it exists and is not revoked.

        The lookup is by sha256 of the token, which is as good as a slow hash here because the
        tokens are random with 256 bits of entropy.
        """
        t = m.api_tokens
        query = select(t).where(t.c.token_hash == _token_hash(token), t.c.revoked_at.is_(None))
        rows = self._all(query)
        return ApiTokenRow(**rows[0]._asdict()) if rows else None

    def revoke_api_token(self, token_id: int) -> bool:
        """Revoke a token; False if there is no such token or it was revoked already."""
        t = m.api_tokens
        stmt = (
            update(t)
            .where(t.c.id == token_id, t.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        with self.engine.begin() as connection:
            return connection.execute(stmt).rowcount > 0

    def list_api_tokens(self) -> list[ApiTokenRow]:
        """All tokens, revoked ones included, oldest first."""
        t = m.api_tokens
        return [ApiTokenRow(**row._asdict()) for row in self._all(select(t).order_by(t.c.id))]

    def count_api_tokens(self) -> int:
        """Number of tokens ever created, revoked ones included (as ``list_api_tokens``)."""
        return self._count(m.api_tokens)

    # -- queries -----------------------------------------------------------------------------

    def list_charge_points(self) -> list[ChargePointRow]:
        t = m.charge_points
        return [ChargePointRow(**row._asdict()) for row in self._all(select(t).order_by(t.c.id))]

    def get_charge_point(self, charge_point_id: str) -> ChargePointRow | None:
        t = m.charge_points
        rows = self._all(select(t).where(t.c.id == charge_point_id))
        return ChargePointRow(**rows[0]._asdict()) if rows else None

    def connectors_of(self, charge_point_id: str) -> list[StatusReport]:
        t = m.connectors
        query = (
            select(t)
            .where(t.c.charge_point_id == charge_point_id)
            .order_by(t.c.evse_id, t.c.connector_id)
        )
        return [status_from_row(row, "status_at") for row in self._all(query)]

    def settings_of(self, charge_point_id: str) -> list[SettingRow]:
        t = m.charge_point_settings
        query = (
            select(t)
            .where(t.c.charge_point_id == charge_point_id)
            .order_by(t.c.component, t.c.evse_id, t.c.instance, t.c.variable, t.c.attribute_type)
        )
        return [SettingRow(**row._asdict()) for row in self._all(query)]

    def status_history(
        self, charge_point_id: str, limit: int = 100, before: datetime | None = None
    ) -> list[StatusReport]:
        """Status reports, newest first by the time reported (reports queued offline arrive
        late); ``before`` pages back to reports older than that time."""
        t = m.status_history
        query = select(t).where(t.c.charge_point_id == charge_point_id)
        if before is not None:
            query = query.where(t.c.timestamp < before)
        query = query.order_by(t.c.timestamp.desc(), t.c.id.desc()).limit(limit)
        return [status_from_row(row) for row in self._all(query)]

    def list_transactions(
        self,
        *,
        charge_point_id: str | None = None,
        active: bool | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        id_token: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Transaction]:
        """Transactions, newest started first; ``since`` <= started_at < ``until``."""
        t = m.transactions
        query = select(t)
        if charge_point_id is not None:
            query = query.where(t.c.charge_point_id == charge_point_id)
        if active is not None:
            query = query.where(t.c.stopped_at.is_(None) if active else t.c.stopped_at.is_not(None))
        if since is not None:
            query = query.where(t.c.started_at >= since)
        if until is not None:
            query = query.where(t.c.started_at < until)
        if id_token is not None:
            query = query.where(t.c.id_token == id_token)
        query = query.order_by(t.c.started_at.desc(), t.c.id.desc()).limit(limit).offset(offset)
        return [transaction_from_row(row) for row in self._all(query)]

    def get_transaction(self, id: str) -> Transaction | None:
        t = m.transactions
        rows = self._all(select(t).where(t.c.id == id))
        return transaction_from_row(rows[0]) if rows else None

    def find_transaction(self, charge_point_id: str, transaction_id: str) -> Transaction | None:
        """A transaction by the id on the wire, which is unique per charge point."""
        t = m.transactions
        query = select(t).where(
            t.c.charge_point_id == charge_point_id, t.c.transaction_id == transaction_id
        )
        rows = self._all(query)
        return transaction_from_row(rows[0]) if rows else None

    def samples_of(self, transaction_pk: str, measurand: str | None = None) -> list[MeterSample]:
        """Samples of a transaction (by ems's id), oldest first."""
        t = m.meter_samples
        query = select(t).where(t.c.transaction_pk == transaction_pk)
        if measurand is not None:
            query = query.where(t.c.measurand == measurand)
        query = query.order_by(t.c.timestamp, t.c.id)
        return [sample_from_row(row) for row in self._all(query)]

    def frames_of(
        self, charge_point_id: str, limit: int = 100, before_id: int | None = None
    ) -> list[FrameRow]:
        """Raw frames, newest first; ``before_id`` pages back to frames older than that one."""
        t = m.ocpp_frames
        query = select(t).where(t.c.charge_point_id == charge_point_id)
        if before_id is not None:
            query = query.where(t.c.id < before_id)
        query = query.order_by(t.c.id.desc()).limit(limit)
        return [FrameRow(**row._asdict()) for row in self._all(query)]

    def profiles_of(self, charge_point_id: str, limit: int = 100) -> list[ProfileRow]:
        """Charging profiles sent, newest first."""
        t = m.charging_profiles
        query = (
            select(t)
            .where(t.c.charge_point_id == charge_point_id)
            .order_by(t.c.sent_at.desc(), t.c.id.desc())
            .limit(limit)
        )
        return [ProfileRow(**row._asdict()) for row in self._all(query)]

    def events_of(
        self, charge_point_id: str, kind: str | None = None, limit: int = 100
    ) -> list[EventRow]:
        """Notifications of a charge point, newest first, optionally of one ``kind`` only."""
        t = m.charge_point_events
        query = select(t).where(t.c.charge_point_id == charge_point_id)
        if kind is not None:
            query = query.where(t.c.kind == kind)
        query = query.order_by(t.c.timestamp.desc(), t.c.id.desc()).limit(limit)
        return [EventRow(**row._asdict()) for row in self._all(query)]

    # -- control loop ------------------------------------------------------------------------

    def max_control_cycle_id(self) -> int:
        """The highest control cycle id so far (0 without any): cycle ids are given by ems."""
        with self.engine.connect() as connection:
            value = connection.execute(select(func.max(m.control_cycles.c.id))).scalar_one()
        return int(value or 0)

    def control_peak_kw(self, site_id: str, since: datetime) -> float:
        """The highest EV power a site's control cycles measured since ``since`` [kW] (0 if
        none): a lower bound of the site's peak, for the demand charge after a restart."""
        t = m.control_cycles
        query = select(func.max(t.c.measured_kw)).where(
            t.c.site_id == site_id, t.c.started_at >= since
        )
        with self.engine.connect() as connection:
            value = connection.execute(query).scalar_one()
        return float(value or 0.0)

    def control_cycles(
        self, site_id: str, limit: int = 100, before_id: int | None = None
    ) -> list[dict[str, Any]]:
        """A site's control cycles, newest first; ``before_id`` pages back."""
        t = m.control_cycles
        query = select(t).where(t.c.site_id == site_id)
        if before_id is not None:
            query = query.where(t.c.id < before_id)
        query = query.order_by(t.c.id.desc()).limit(limit)
        return [row._asdict() for row in self._all(query)]

    def control_limits(
        self,
        *,
        cycle_id: int | None = None,
        charge_point_id: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Limits the control loop sent (of one cycle or one charge point), newest first."""
        t = m.control_limits
        query = select(t)
        if cycle_id is not None:
            query = query.where(t.c.cycle_id == cycle_id)
        if charge_point_id is not None:
            query = query.where(t.c.charge_point_id == charge_point_id)
        query = query.order_by(t.c.id.desc()).limit(limit)
        return [row._asdict() for row in self._all(query)]

    def charging_needs_of(self, transaction_pks: list[str]) -> list[dict[str, Any]]:
        """Stored departure times and energies of the given transactions."""
        if not transaction_pks:
            return []
        t = m.charging_needs
        return [
            row._asdict()
            for row in self._all(select(t).where(t.c.transaction_pk.in_(transaction_pks)))
        ]

    def count_samples(self) -> int:
        return self._count(m.meter_samples)

    def _count(self, table: Table) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _row_values(row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in row.__dataclass_fields__}

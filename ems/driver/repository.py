"""Connector codes, driver sessions and receipts in the database (synchronous; call from a
worker thread)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from ems.driver.codes import new_code
from ems.receipts import Receipt
from ems.store import models as m
from ems.store.engine import writer


@dataclass(frozen=True, slots=True)
class DriverSession:
    """One start from the QR page (see ``DriverSessionModel``)."""

    id: str
    secret_hash: str
    charge_point_id: str
    evse_id: int
    site_id: str
    tariff_id: str
    id_token: str
    remote_start_id: int
    payment_method: str
    payer: str | None
    hold_id: str | None
    hold_minor: int
    currency: str
    departure_at: datetime | None
    energy_kwh: float | None
    state: str
    error: str | None
    transaction_pk: str | None
    created_at: datetime
    updated_at: datetime


_SESSION_FIELDS = [f.name for f in fields(DriverSession)]


class DriverRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = writer(engine)  # read-then-write transactions wait for the lock

    # -- connector codes -------------------------------------------------------------------

    def code_of(self, charge_point_id: str, evse_id: int, now: datetime) -> str:
        """The connector's code, created on first use and never changed afterwards."""
        c = m.driver_connectors
        where = (c.c.charge_point_id == charge_point_id) & (c.c.evse_id == evse_id)
        for _ in range(5):
            with self._writer.begin() as conn:
                found = conn.execute(select(c.c.code).where(where)).scalar()
                if found is not None:
                    return str(found)
            try:
                with self._writer.begin() as conn:
                    code = new_code()
                    conn.execute(
                        insert(c).values(
                            code=code,
                            charge_point_id=charge_point_id,
                            evse_id=evse_id,
                            created_at=now,
                        )
                    )
                    return code
            except IntegrityError:
                continue  # created by someone else meanwhile, or (rarely) a code clash
        raise RuntimeError(f"could not create a code for {charge_point_id}/{evse_id}")

    def connector_of(self, code: str) -> tuple[str, int] | None:
        c = m.driver_connectors
        with self.engine.connect() as conn:
            row = conn.execute(
                select(c.c.charge_point_id, c.c.evse_id).where(c.c.code == code)
            ).first()
        return (row.charge_point_id, row.evse_id) if row is not None else None

    def codes(self) -> list[tuple[str, str, int]]:
        """Every code as (code, charge point id, EVSE id), by charge point and EVSE."""
        c = m.driver_connectors
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(c.c.code, c.c.charge_point_id, c.c.evse_id).order_by(
                    c.c.charge_point_id, c.c.evse_id
                )
            ).all()
        return [(r.code, r.charge_point_id, r.evse_id) for r in rows]

    # -- sessions ----------------------------------------------------------------------------

    def add_session(self, session: DriverSession) -> None:
        values = {name: getattr(session, name) for name in _SESSION_FIELDS}
        with self._writer.begin() as conn:
            conn.execute(insert(m.driver_sessions).values(values))

    def update_session(self, session_id: str, now: datetime, **values: Any) -> DriverSession:
        s = m.driver_sessions
        with self._writer.begin() as conn:
            conn.execute(update(s).where(s.c.id == session_id).values(updated_at=now, **values))
        found = self.session(session_id)
        assert found is not None
        return found

    def _one(self, where: Any) -> DriverSession | None:
        s = m.driver_sessions
        with self.engine.connect() as conn:
            row = conn.execute(select(s).where(where)).first()
        return DriverSession(**row._mapping) if row is not None else None

    def session(self, session_id: str) -> DriverSession | None:
        return self._one(m.driver_sessions.c.id == session_id)

    def session_by_secret(self, secret_hash: str) -> DriverSession | None:
        return self._one(m.driver_sessions.c.secret_hash == secret_hash)

    def sessions_in(self, *states: str) -> list[DriverSession]:
        s = m.driver_sessions
        with self.engine.connect() as conn:
            rows = conn.execute(select(s).where(s.c.state.in_(states))).all()
        return [DriverSession(**row._mapping) for row in rows]

    # -- receipts ----------------------------------------------------------------------------

    def add_receipt(
        self,
        session_id: str,
        transaction_pk: str,
        receipt: Receipt,
        currency_minor: tuple[int, int],
    ) -> None:
        """Store the receipt (once: a second one for the same session is ignored)."""
        total_minor, paid_minor = currency_minor
        try:
            with self._writer.begin() as conn:
                conn.execute(
                    insert(m.receipts).values(
                        number=receipt.number,
                        driver_session_id=session_id,
                        transaction_pk=transaction_pk,
                        issued_at=receipt.issued_at,
                        currency=receipt.currency,
                        total_minor=total_minor,
                        paid_minor=paid_minor,
                        payment_id=receipt.payment_id,
                        data=receipt.to_json(),
                    )
                )
        except IntegrityError:
            if self.receipt_of(session_id) is None:
                raise

    def receipt_of(self, session_id: str) -> Receipt | None:
        r = m.receipts
        with self.engine.connect() as conn:
            data = conn.execute(
                select(r.c.data).where(r.c.driver_session_id == session_id)
            ).scalar()
        return Receipt.from_json(data) if data is not None else None

"""The database schema as SQLAlchemy declarative models.

The models define the schema the code expects; the Alembic migrations in ``migrations/versions``
create it (a test checks that both agree). There are no foreign keys on purpose: the recorder
writes in batches whose operations may reach the database in any order across tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ems.store.types import BigIntPk, UtcDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON(), float: Double()}


class ChargePoint(Base):
    __tablename__ = "charge_points"
    __table_args__ = (
        CheckConstraint("registration IN ('Accepted', 'Pending', 'Rejected')", name="registration"),
        CheckConstraint("security_profile BETWEEN 0 AND 3", name="security_profile"),
    )

    id: Mapped[str] = mapped_column(String, primary_key=True)
    registration: Mapped[str] = mapped_column(String)
    security_profile: Mapped[int]
    password_hash: Mapped[str | None] = mapped_column(String)
    ocpp_version: Mapped[str | None] = mapped_column(String)
    vendor: Mapped[str | None] = mapped_column(String)
    model: Mapped[str | None] = mapped_column(String)
    serial_number: Mapped[str | None] = mapped_column(String)
    firmware_version: Mapped[str | None] = mapped_column(String)
    iccid: Mapped[str | None] = mapped_column(String)
    imsi: Mapped[str | None] = mapped_column(String)
    meter_type: Mapped[str | None] = mapped_column(String)
    meter_serial_number: Mapped[str | None] = mapped_column(String)
    boot_reason: Mapped[str | None] = mapped_column(String)
    last_boot_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Connector(Base):
    """Current status of each connector (and, with evse 0, of the charge point)."""

    __tablename__ = "connectors"

    charge_point_id: Mapped[str] = mapped_column(String, primary_key=True)
    evse_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    connector_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String)
    error_code: Mapped[str | None] = mapped_column(String)
    info: Mapped[str | None] = mapped_column(String)
    status_at: Mapped[datetime]


class StatusHistory(Base):
    __tablename__ = "status_history"
    __table_args__ = (Index(None, "charge_point_id", "timestamp"),)

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    charge_point_id: Mapped[str] = mapped_column(String)
    evse_id: Mapped[int]
    connector_id: Mapped[int]
    status: Mapped[str] = mapped_column(String)
    error_code: Mapped[str | None] = mapped_column(String)
    info: Mapped[str | None] = mapped_column(String)
    timestamp: Mapped[datetime]


class IdTokenModel(Base):
    """Id tokens; ``account_id``, ``max_concurrent_tx`` and ``label`` came with revision 0004."""

    __tablename__ = "id_tokens"
    __table_args__ = (
        CheckConstraint("status IN ('Accepted', 'Blocked', 'Expired', 'Invalid')", name="status"),
        CheckConstraint("max_concurrent_tx >= 1", name="max_concurrent_tx"),
        Index(None, "group_id"),
        Index(None, "account_id"),
    )

    id_token: Mapped[str] = mapped_column(String, primary_key=True)
    type: Mapped[str] = mapped_column(String)
    status: Mapped[str] = mapped_column(String)
    expires_at: Mapped[datetime | None]
    group_id: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[datetime]
    account_id: Mapped[str | None] = mapped_column(String, ForeignKey("payment_accounts.id"))
    max_concurrent_tx: Mapped[int | None]
    label: Mapped[str | None] = mapped_column(String)


class TransactionModel(Base):
    __tablename__ = "transactions"
    __table_args__ = (
        UniqueConstraint("charge_point_id", "transaction_id"),
        Index(None, "started_at"),
        Index(None, "stopped_at"),
        Index(None, "id_token"),
    )

    id: Mapped[str] = mapped_column(String, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(String)
    transaction_id: Mapped[str] = mapped_column(String)
    evse_id: Mapped[int]
    connector_id: Mapped[int]
    id_token: Mapped[str | None] = mapped_column(String)
    id_token_type: Mapped[str | None] = mapped_column(String)
    started_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]
    meter_start_wh: Mapped[float | None]
    meter_stop_wh: Mapped[float | None]
    first_energy_register_wh: Mapped[float | None]
    last_energy_register_wh: Mapped[float | None]
    energy_wh: Mapped[float | None]
    stop_reason: Mapped[str | None] = mapped_column(String)
    last_seq_no: Mapped[int]
    offline: Mapped[bool]
    remote_start_id: Mapped[int | None]
    # Revision 0006: why ems ended it without the charger's stop (NULL: the charger ended it),
    # and implausible data that needs a person's review before the session is billed.
    closed_reason: Mapped[str | None] = mapped_column(Text)
    anomaly: Mapped[str | None] = mapped_column(Text)


class MeterSampleModel(Base):
    __tablename__ = "meter_samples"
    __table_args__ = (
        Index(None, "transaction_pk", "timestamp"),
        Index(None, "charge_point_id", "timestamp"),
    )

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    charge_point_id: Mapped[str] = mapped_column(String)
    transaction_pk: Mapped[str | None] = mapped_column(String)
    evse_id: Mapped[int]
    connector_id: Mapped[int]
    timestamp: Mapped[datetime]
    measurand: Mapped[str] = mapped_column(String)
    value: Mapped[float]
    unit: Mapped[str | None] = mapped_column(String)
    phase: Mapped[str | None] = mapped_column(String)
    context: Mapped[str | None] = mapped_column(String)
    location: Mapped[str | None] = mapped_column(String)


class OcppFrame(Base):
    __tablename__ = "ocpp_frames"
    __table_args__ = (
        CheckConstraint("direction IN ('in', 'out')", name="direction"),
        Index(None, "charge_point_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    charge_point_id: Mapped[str] = mapped_column(String)
    direction: Mapped[str] = mapped_column(String)
    timestamp: Mapped[datetime]
    message: Mapped[str] = mapped_column(Text)


class ChargingProfileModel(Base):
    __tablename__ = "charging_profiles"
    __table_args__ = (Index(None, "charge_point_id", "sent_at"),)

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    charge_point_id: Mapped[str] = mapped_column(String)
    evse_id: Mapped[int]
    profile_id: Mapped[int]
    stack_level: Mapped[int]
    purpose: Mapped[str] = mapped_column(String)
    transaction_id: Mapped[str | None] = mapped_column(String)
    profile: Mapped[dict[str, Any]]
    sent_at: Mapped[datetime]
    status: Mapped[str | None] = mapped_column(String)
    error: Mapped[str | None] = mapped_column(Text)


class ChargePointSetting(Base):
    __tablename__ = "charge_point_settings"

    charge_point_id: Mapped[str] = mapped_column(String, primary_key=True)
    component: Mapped[str] = mapped_column(String, primary_key=True)
    evse_id: Mapped[int] = mapped_column(primary_key=True)
    variable: Mapped[str] = mapped_column(String, primary_key=True)
    instance: Mapped[str] = mapped_column(String, primary_key=True)
    attribute_type: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    readonly: Mapped[bool | None]
    updated_at: Mapped[datetime]


class ChargePointEvent(Base):
    __tablename__ = "charge_point_events"
    __table_args__ = (Index(None, "charge_point_id", "timestamp"),)

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    charge_point_id: Mapped[str] = mapped_column(String)
    kind: Mapped[str] = mapped_column(String)
    timestamp: Mapped[datetime]
    payload: Mapped[dict[str, Any]]


class ApiToken(Base):
    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint("role IN ('admin', 'readonly')", name="role"),)

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String)
    role: Mapped[str] = mapped_column(String)
    token_hash: Mapped[str] = mapped_column(String, unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]



class CounterModel(Base):
    """Numbers ems hands out and must never hand out twice, even after a crash (revision 0006):
    ``ocpp16_transaction_id`` is the last 1.6 transaction id given to a charger."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


# -- Control loop (ems.control) ------------------------------------------------------------------


class ControlCycleModel(Base):
    """One control cycle of a site: what the optimizer was given and answered, what was sent."""

    __tablename__ = "control_cycles"
    __table_args__ = (Index(None, "site_id", "started_at"),)

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(String)
    started_at: Mapped[datetime]
    trigger: Mapped[str] = mapped_column(String)
    duration_ms: Mapped[float]
    solve_ms: Mapped[float]
    status: Mapped[str] = mapped_column(String)
    solver: Mapped[str] = mapped_column(String)
    sessions: Mapped[int]
    chargers: Mapped[int]
    limits_sent: Mapped[int]
    capacity_kw: Mapped[float | None]
    planned_kw: Mapped[float]
    measured_kw: Mapped[float | None]
    unmet_kwh: Mapped[float]
    energy_cost: Mapped[float]
    notes: Mapped[dict[str, Any]]


class ControlLimitModel(Base):
    """A limit the control loop sent to a charger (only changes are sent) and the answer."""

    __tablename__ = "control_limits"
    __table_args__ = (Index(None, "charge_point_id", "sent_at"), Index(None, "cycle_id"))

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    cycle_id: Mapped[int | None]
    site_id: Mapped[str] = mapped_column(String)
    charge_point_id: Mapped[str] = mapped_column(String)
    evse_id: Mapped[int]
    transaction_id: Mapped[str | None] = mapped_column(String)
    purpose: Mapped[str] = mapped_column(String)
    limit_a: Mapped[float]
    limit_w: Mapped[float | None]
    unit: Mapped[str] = mapped_column(String)
    reason: Mapped[str] = mapped_column(String)
    sent_at: Mapped[datetime]
    status: Mapped[str | None] = mapped_column(String)
    error: Mapped[str | None] = mapped_column(Text)


class ChargingNeedModel(Base):
    """Departure time and energy of a transaction, from the car (ISO 15118) or the driver."""

    __tablename__ = "charging_needs"

    transaction_pk: Mapped[str] = mapped_column(String, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(String)
    evse_id: Mapped[int]
    source: Mapped[str] = mapped_column(String)
    departure_at: Mapped[datetime | None]
    energy_kwh: Mapped[float | None]
    updated_at: Mapped[datetime]


# -- Payments (ems.payments) ---------------------------------------------------------------------
# The ledger writes synchronously in its own transactions (never through the recorder), so its
# tables do have foreign keys. Money is BIGINT minor units (cents); see ems.payments.money.

CUSTOMER_ACCOUNT_KINDS = "('wallet', 'fleet')"


class PaymentAccountModel(Base):
    """A ledger account: a customer's wallet or fleet account, or a system account.

    ``balance_minor`` and ``held_minor`` are kept in step with the entries and the active holds in
    the same transaction; the check constraint is the last line of defence against an overdraft.
    """

    __tablename__ = "payment_accounts"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('wallet', 'fleet', 'cash', 'revenue', 'refunds', 'adjustments', 'card')",
            name="kind",
        ),
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        CheckConstraint("held_minor >= 0", name="held"),
        CheckConstraint(
            "credit_limit_minor = 0 OR (kind = 'fleet' AND credit_limit_minor > 0)",
            name="credit_limit",
        ),
        CheckConstraint(
            f"kind NOT IN {CUSTOMER_ACCOUNT_KINDS} "
            "OR balance_minor - held_minor + credit_limit_minor >= 0",
            name="funds",
        ),
        Index(None, "kind"),
    )

    id: Mapped[str] = mapped_column(String, primary_key=True)
    kind: Mapped[str] = mapped_column(String)
    name: Mapped[str] = mapped_column(String)
    currency: Mapped[str] = mapped_column(String)
    credit_limit_minor: Mapped[int] = mapped_column(BigInteger)
    balance_minor: Mapped[int] = mapped_column(BigInteger)
    held_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PaymentJournalModel(Base):
    """One balanced movement of money: its entries sum to zero per currency."""

    __tablename__ = "payment_journals"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('top_up', 'adjustment', 'capture', 'refund')", name="kind"
        ),
        Index(None, "payment_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime]
    reference: Mapped[str | None] = mapped_column(String)
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String)
    hold_id: Mapped[str | None] = mapped_column(String)
    payment_id: Mapped[str | None] = mapped_column(String)
    external_id: Mapped[str | None] = mapped_column(String)


class PaymentEntryModel(Base):
    """One leg of a journal on one account, with the account's balance right after it."""

    __tablename__ = "payment_entries"
    __table_args__ = (
        CheckConstraint("amount_minor <> 0", name="amount"),
        Index(None, "account_id", "id"),
        Index(None, "journal_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    journal_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("payment_journals.id"))
    account_id: Mapped[str] = mapped_column(String, ForeignKey("payment_accounts.id"))
    currency: Mapped[str] = mapped_column(String)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    balance_after_minor: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class PaymentHoldModel(Base):
    """Funds reserved on an account (or a card authorization) until captured, voided or expired."""

    __tablename__ = "payment_holds"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'captured', 'voided', 'expired')", name="status"),
        CheckConstraint("amount_minor > 0", name="amount"),
        CheckConstraint(
            "captured_minor IS NULL OR captured_minor BETWEEN 0 AND amount_minor", name="captured"
        ),
        Index(None, "account_id", "status"),
        Index(None, "status", "expires_at"),
        Index(None, "external_id"),
    )

    id: Mapped[str] = mapped_column(String, primary_key=True)
    account_id: Mapped[str] = mapped_column(String, ForeignKey("payment_accounts.id"))
    currency: Mapped[str] = mapped_column(String)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String)
    reference: Mapped[str | None] = mapped_column(String)
    provider: Mapped[str] = mapped_column(String)
    payment_method: Mapped[str | None] = mapped_column(String)
    external_id: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    captured_minor: Mapped[int | None] = mapped_column(BigInteger)
    payment_id: Mapped[str | None] = mapped_column(String)


class PaymentModel(Base):
    """A captured hold; ``refunded_minor`` can never exceed ``amount_minor``."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount_minor >= 0", name="amount"),
        CheckConstraint("refunded_minor BETWEEN 0 AND amount_minor", name="refunded"),
        Index(None, "account_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String, primary_key=True)
    hold_id: Mapped[str] = mapped_column(String, ForeignKey("payment_holds.id"), unique=True)
    account_id: Mapped[str] = mapped_column(String, ForeignKey("payment_accounts.id"))
    currency: Mapped[str] = mapped_column(String)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    refunded_minor: Mapped[int] = mapped_column(BigInteger)
    journal_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("payment_journals.id"))
    provider: Mapped[str] = mapped_column(String)
    external_id: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[datetime]


class PaymentIdempotencyKeyModel(Base):
    """The first request made with an idempotency key and what it produced."""

    __tablename__ = "payment_idempotency_keys"

    key: Mapped[str] = mapped_column(String, primary_key=True)
    operation: Mapped[str] = mapped_column(String)
    request_hash: Mapped[str] = mapped_column(String)
    result_id: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime]


# -- Identification (ems.identity) ---------------------------------------------------------------
# Written synchronously by the token service (never through the recorder), so foreign keys hold.


class IdTokenLocationModel(Base):
    """Where a restricted token is valid: a charge point (``evse_id`` 0: any EVSE) or an EVSE."""

    __tablename__ = "id_token_locations"
    __table_args__ = (CheckConstraint("evse_id >= 0", name="evse_id"),)

    id_token: Mapped[str] = mapped_column(
        String, ForeignKey("id_tokens.id_token", ondelete="CASCADE"), primary_key=True
    )
    charge_point_id: Mapped[str] = mapped_column(String, primary_key=True)
    evse_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)


class LocalAuthListModel(Base):
    """A charge point's local authorization list as ems last got it accepted.

    ``version`` is the list version the charger confirmed (0: none sent yet), ``status`` the
    outcome of the last attempt (Accepted, Failed, VersionMismatch, NotSupported, or an error).
    ``cache_clear_pending``: a token was revoked since the charger's cache was last cleared.
    """

    __tablename__ = "local_auth_lists"

    charge_point_id: Mapped[str] = mapped_column(String, primary_key=True)
    version: Mapped[int]
    status: Mapped[str | None] = mapped_column(String)
    synced_at: Mapped[datetime | None]
    cache_clear_pending: Mapped[bool]
    updated_at: Mapped[datetime]


class LocalAuthListEntryModel(Base):
    """One entry of a charge point's list as the charger has it; ``digest`` is of its content."""

    __tablename__ = "local_auth_list_entries"

    charge_point_id: Mapped[str] = mapped_column(String, primary_key=True)
    id_token: Mapped[str] = mapped_column(String, primary_key=True)
    type: Mapped[str] = mapped_column(String)
    digest: Mapped[str] = mapped_column(String)



# -- Driver QR flow (ems.driver, ems.receipts) --------------------------------------------------
# Written synchronously by ems.driver.repository (never through the recorder).


class DriverConnectorModel(Base):
    """The printed code of a connector: ``/c/{code}`` leads to (charge point, EVSE) forever."""

    __tablename__ = "driver_connectors"
    __table_args__ = (UniqueConstraint("charge_point_id", "evse_id"),)

    code: Mapped[str] = mapped_column(String, primary_key=True)
    charge_point_id: Mapped[str] = mapped_column(String)
    evse_id: Mapped[int]
    created_at: Mapped[datetime]


class DriverSessionModel(Base):
    """A start from the QR page: its one-time token, payment hold and transaction.

    ``secret_hash`` is the SHA-256 of the driver's link secret (the secret itself is never
    stored); ``id`` is the public id used in logs and idempotency keys.
    """

    __tablename__ = "driver_sessions"
    __table_args__ = (
        CheckConstraint(
            "state IN ('starting', 'charging', 'failed', 'completed', 'review')", name="state"
        ),
        Index(None, "state"),
        Index(None, "transaction_pk"),
    )

    id: Mapped[str] = mapped_column(String, primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String, unique=True)
    charge_point_id: Mapped[str] = mapped_column(String)
    evse_id: Mapped[int]
    site_id: Mapped[str] = mapped_column(String)
    tariff_id: Mapped[str] = mapped_column(String)
    id_token: Mapped[str] = mapped_column(String)
    remote_start_id: Mapped[int]
    payment_method: Mapped[str] = mapped_column(String)
    payer: Mapped[str | None] = mapped_column(String)
    hold_id: Mapped[str | None] = mapped_column(String)
    hold_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String)
    departure_at: Mapped[datetime | None]
    energy_kwh: Mapped[float | None]
    state: Mapped[str] = mapped_column(String)
    error: Mapped[str | None] = mapped_column(Text)
    transaction_pk: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ReceiptModel(Base):
    """The receipt of a finished driver session; ``data`` is everything it shows (JSON)."""

    __tablename__ = "receipts"

    id: Mapped[int] = mapped_column(BigIntPk, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String, unique=True)
    driver_session_id: Mapped[str] = mapped_column(String, unique=True)
    transaction_pk: Mapped[str] = mapped_column(String)
    issued_at: Mapped[datetime]
    currency: Mapped[str] = mapped_column(String)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    paid_minor: Mapped[int] = mapped_column(BigInteger)
    payment_id: Mapped[str | None] = mapped_column(String)
    data: Mapped[dict[str, Any]]

charge_points = cast(Table, ChargePoint.__table__)
connectors = cast(Table, Connector.__table__)
status_history = cast(Table, StatusHistory.__table__)
id_tokens = cast(Table, IdTokenModel.__table__)
transactions = cast(Table, TransactionModel.__table__)
meter_samples = cast(Table, MeterSampleModel.__table__)
ocpp_frames = cast(Table, OcppFrame.__table__)
charging_profiles = cast(Table, ChargingProfileModel.__table__)
charge_point_settings = cast(Table, ChargePointSetting.__table__)
charge_point_events = cast(Table, ChargePointEvent.__table__)
api_tokens = cast(Table, ApiToken.__table__)
control_cycles = cast(Table, ControlCycleModel.__table__)
control_limits = cast(Table, ControlLimitModel.__table__)
charging_needs = cast(Table, ChargingNeedModel.__table__)
payment_accounts = cast(Table, PaymentAccountModel.__table__)
payment_journals = cast(Table, PaymentJournalModel.__table__)
payment_entries = cast(Table, PaymentEntryModel.__table__)
payment_holds = cast(Table, PaymentHoldModel.__table__)
payments = cast(Table, PaymentModel.__table__)
payment_idempotency_keys = cast(Table, PaymentIdempotencyKeyModel.__table__)
id_token_locations = cast(Table, IdTokenLocationModel.__table__)
local_auth_lists = cast(Table, LocalAuthListModel.__table__)
local_auth_list_entries = cast(Table, LocalAuthListEntryModel.__table__)
driver_connectors = cast(Table, DriverConnectorModel.__table__)
driver_sessions = cast(Table, DriverSessionModel.__table__)
receipts = cast(Table, ReceiptModel.__table__)
counters = cast(Table, CounterModel.__table__)

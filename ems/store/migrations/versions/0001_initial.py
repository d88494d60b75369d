"""Initial schema: charge points, connectors, transactions, samples, frames, profiles, tokens.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "charge_points",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("registration", sa.String(), nullable=False),
        sa.Column("security_profile", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=True),
        sa.Column("ocpp_version", sa.String(), nullable=True),
        sa.Column("vendor", sa.String(), nullable=True),
        sa.Column("model", sa.String(), nullable=True),
        sa.Column("serial_number", sa.String(), nullable=True),
        sa.Column("firmware_version", sa.String(), nullable=True),
        sa.Column("iccid", sa.String(), nullable=True),
        sa.Column("imsi", sa.String(), nullable=True),
        sa.Column("meter_type", sa.String(), nullable=True),
        sa.Column("meter_serial_number", sa.String(), nullable=True),
        sa.Column("boot_reason", sa.String(), nullable=True),
        sa.Column("last_boot_at", TIMESTAMP, nullable=True),
        sa.Column("last_seen_at", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "registration IN ('Accepted', 'Pending', 'Rejected')",
            name=op.f("ck_charge_points_registration"),
        ),
        sa.CheckConstraint(
            "security_profile BETWEEN 0 AND 3", name=op.f("ck_charge_points_security_profile")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charge_points")),
    )
    op.create_table(
        "connectors",
        sa.Column("charge_point_id", sa.String(), nullable=False),
        sa.Column("evse_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("connector_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("error_code", sa.String(), nullable=True),
        sa.Column("info", sa.String(), nullable=True),
        sa.Column("status_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint(
            "charge_point_id", "evse_id", "connector_id", name=op.f("pk_connectors")
        ),
    )
    op.create_table(
        "status_history",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("charge_point_id", sa.String(), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("error_code", sa.String(), nullable=True),
        sa.Column("info", sa.String(), nullable=True),
        sa.Column("timestamp", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_history")),
    )
    op.create_index(
        op.f("ix_status_history_charge_point_id_timestamp"),
        "status_history",
        ["charge_point_id", "timestamp"],
    )
    op.create_table(
        "id_tokens",
        sa.Column("id_token", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=True),
        sa.Column("group_id", sa.String(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id_token", name=op.f("pk_id_tokens")),
    )
    op.create_table(
        "transactions",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("charge_point_id", sa.String(), nullable=False),
        sa.Column("transaction_id", sa.String(), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("id_token", sa.String(), nullable=True),
        sa.Column("id_token_type", sa.String(), nullable=True),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("stopped_at", TIMESTAMP, nullable=True),
        sa.Column("meter_start_wh", sa.Double(), nullable=True),
        sa.Column("meter_stop_wh", sa.Double(), nullable=True),
        sa.Column("first_energy_register_wh", sa.Double(), nullable=True),
        sa.Column("last_energy_register_wh", sa.Double(), nullable=True),
        sa.Column("energy_wh", sa.Double(), nullable=True),
        sa.Column("stop_reason", sa.String(), nullable=True),
        sa.Column("last_seq_no", sa.Integer(), nullable=False),
        sa.Column("offline", sa.Boolean(), nullable=False),
        sa.Column("remote_start_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transactions")),
        sa.UniqueConstraint(
            "charge_point_id",
            "transaction_id",
            name=op.f("uq_transactions_charge_point_id_transaction_id"),
        ),
    )
    op.create_index(op.f("ix_transactions_started_at"), "transactions", ["started_at"])
    op.create_index(op.f("ix_transactions_stopped_at"), "transactions", ["stopped_at"])
    op.create_index(op.f("ix_transactions_id_token"), "transactions", ["id_token"])
    op.create_table(
        "meter_samples",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("charge_point_id", sa.String(), nullable=False),
        sa.Column("transaction_pk", sa.String(), nullable=True),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("timestamp", TIMESTAMP, nullable=False),
        sa.Column("measurand", sa.String(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("unit", sa.String(), nullable=True),
        sa.Column("phase", sa.String(), nullable=True),
        sa.Column("context", sa.String(), nullable=True),
        sa.Column("location", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_samples")),
    )
    op.create_index(
        op.f("ix_meter_samples_transaction_pk_timestamp"),
        "meter_samples",
        ["transaction_pk", "timestamp"],
    )
    op.create_index(
        op.f("ix_meter_samples_charge_point_id_timestamp"),
        "meter_samples",
        ["charge_point_id", "timestamp"],
    )
    op.create_table(
        "ocpp_frames",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("charge_point_id", sa.String(), nullable=False),
        sa.Column("direction", sa.String(), nullable=False),
        sa.Column("timestamp", TIMESTAMP, nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.CheckConstraint("direction IN ('in', 'out')", name=op.f("ck_ocpp_frames_direction")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocpp_frames")),
    )
    op.create_index(
        op.f("ix_ocpp_frames_charge_point_id_id"), "ocpp_frames", ["charge_point_id", "id"]
    )
    op.create_table(
        "charging_profiles",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("charge_point_id", sa.String(), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("stack_level", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(), nullable=False),
        sa.Column("transaction_id", sa.String(), nullable=True),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("sent_at", TIMESTAMP, nullable=False),
        sa.Column("status", sa.String(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charging_profiles")),
    )
    op.create_index(
        op.f("ix_charging_profiles_charge_point_id_sent_at"),
        "charging_profiles",
        ["charge_point_id", "sent_at"],
    )
    op.create_table(
        "charge_point_settings",
        sa.Column("charge_point_id", sa.String(), nullable=False),
        sa.Column("component", sa.String(), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("variable", sa.String(), nullable=False),
        sa.Column("instance", sa.String(), nullable=False),
        sa.Column("attribute_type", sa.String(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("readonly", sa.Boolean(), nullable=True),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint(
            "charge_point_id",
            "component",
            "evse_id",
            "variable",
            "instance",
            "attribute_type",
            name=op.f("pk_charge_point_settings"),
        ),
    )
    op.create_table(
        "charge_point_events",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("charge_point_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("timestamp", TIMESTAMP, nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charge_point_events")),
    )
    op.create_index(
        op.f("ix_charge_point_events_charge_point_id_timestamp"),
        "charge_point_events",
        ["charge_point_id", "timestamp"],
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("token_hash", sa.String(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint("role IN ('admin', 'readonly')", name=op.f("ck_api_tokens_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )


def downgrade() -> None:
    for table in (
        "api_tokens",
        "charge_point_events",
        "charge_point_settings",
        "charging_profiles",
        "ocpp_frames",
        "meter_samples",
        "transactions",
        "id_tokens",
        "status_history",
        "connectors",
        "charge_points",
    ):
        op.drop_table(table)

"""Driver QR flow: connector codes, driver sessions, receipts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "driver_connectors",
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("charge_point_id", sa.String(), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_driver_connectors")),
        sa.UniqueConstraint(
            "charge_point_id", "evse_id", name=op.f("uq_driver_connectors_charge_point_id_evse_id")
        ),
    )
    op.create_table(
        "driver_sessions",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("secret_hash", sa.String(), nullable=False),
        sa.Column("charge_point_id", sa.String(), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(), nullable=False),
        sa.Column("tariff_id", sa.String(), nullable=False),
        sa.Column("id_token", sa.String(), nullable=False),
        sa.Column("remote_start_id", sa.Integer(), nullable=False),
        sa.Column("payment_method", sa.String(), nullable=False),
        sa.Column("payer", sa.String(), nullable=True),
        sa.Column("hold_id", sa.String(), nullable=True),
        sa.Column("hold_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("departure_at", TIMESTAMP, nullable=True),
        sa.Column("energy_kwh", sa.Double(), nullable=True),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("transaction_pk", sa.String(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "state IN ('starting', 'charging', 'failed', 'completed')",
            name=op.f("ck_driver_sessions_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_driver_sessions")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_driver_sessions_secret_hash")),
    )
    op.create_index(op.f("ix_driver_sessions_state"), "driver_sessions", ["state"], unique=False)
    op.create_index(
        op.f("ix_driver_sessions_transaction_pk"),
        "driver_sessions",
        ["transaction_pk"],
        unique=False,
    )
    op.create_table(
        "receipts",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("number", sa.String(), nullable=False),
        sa.Column("driver_session_id", sa.String(), nullable=False),
        sa.Column("transaction_pk", sa.String(), nullable=False),
        sa.Column("issued_at", TIMESTAMP, nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("paid_minor", sa.BigInteger(), nullable=False),
        sa.Column("payment_id", sa.String(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipts")),
        sa.UniqueConstraint("driver_session_id", name=op.f("uq_receipts_driver_session_id")),
        sa.UniqueConstraint("number", name=op.f("uq_receipts_number")),
    )


def downgrade() -> None:
    op.drop_table("receipts")
    op.drop_index(op.f("ix_driver_sessions_transaction_pk"), table_name="driver_sessions")
    op.drop_index(op.f("ix_driver_sessions_state"), table_name="driver_sessions")
    op.drop_table("driver_sessions")
    op.drop_table("driver_connectors")

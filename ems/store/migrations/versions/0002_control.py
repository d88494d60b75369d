"""Control loop: control cycles, the limits sent, and charging needs per transaction.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "charging_needs",
        sa.Column("transaction_pk", sa.String(), nullable=False),
        sa.Column("charge_point_id", sa.String(), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("departure_at", TIMESTAMP, nullable=True),
        sa.Column("energy_kwh", sa.Double(), nullable=True),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("transaction_pk", name=op.f("pk_charging_needs")),
    )
    op.create_table(
        "control_cycles",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("trigger", sa.String(), nullable=False),
        sa.Column("duration_ms", sa.Double(), nullable=False),
        sa.Column("solve_ms", sa.Double(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("solver", sa.String(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("chargers", sa.Integer(), nullable=False),
        sa.Column("limits_sent", sa.Integer(), nullable=False),
        sa.Column("capacity_kw", sa.Double(), nullable=True),
        sa.Column("planned_kw", sa.Double(), nullable=False),
        sa.Column("measured_kw", sa.Double(), nullable=True),
        sa.Column("unmet_kwh", sa.Double(), nullable=False),
        sa.Column("energy_cost", sa.Double(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_control_cycles")),
    )
    op.create_index(
        op.f("ix_control_cycles_site_id_started_at"),
        "control_cycles",
        ["site_id", "started_at"],
        unique=False,
    )
    op.create_table(
        "control_limits",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=True),
        sa.Column("site_id", sa.String(), nullable=False),
        sa.Column("charge_point_id", sa.String(), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.String(), nullable=True),
        sa.Column("purpose", sa.String(), nullable=False),
        sa.Column("limit_a", sa.Double(), nullable=False),
        sa.Column("limit_w", sa.Double(), nullable=True),
        sa.Column("unit", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("sent_at", TIMESTAMP, nullable=False),
        sa.Column("status", sa.String(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_control_limits")),
    )
    op.create_index(
        op.f("ix_control_limits_charge_point_id_sent_at"),
        "control_limits",
        ["charge_point_id", "sent_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_control_limits_cycle_id"), "control_limits", ["cycle_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("control_limits")
    op.drop_table("control_cycles")
    op.drop_table("charging_needs")
